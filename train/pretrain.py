"""`python -m train.pretrain`: pretrain VATT on WebDataset shards with Ray Train.

The driver (this process) checks the inputs, trains the word tokenizer once (or reuses the
run's), then hands `train.loop.train_loop_per_worker` to a `TorchTrainer`. It attaches to the
Ray cluster in RAY_ADDRESS (so it runs unchanged under `ray job submit`), else starts a local
Ray on this machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clifields import add_arguments, option, values
from train import logs, ray_fit
from train.config import TrainConfig
from train.config import parse_overrides as parse_overrides  # where the CLIs imported it
from train.ray_fit import RunExistsError as RunExistsError  # where callers imported it
from train.runs import RUNS

# Ray, torch, transformers and the model load in ~8 s: only after the arguments parse, so that
# --help and argument errors answer at once.
if TYPE_CHECKING:
    import ray.train
    from transformers import PreTrainedTokenizerFast

    from model import VattConfig

logger = logging.getLogger("train.pretrain")


class StorageAccessError(Exception):
    """The dataset cannot be read or the run folder cannot be written (credentials, bucket)."""


@dataclass(frozen=True)
class PretrainCommand:
    """What the command line adds to a TrainConfig: the named run it starts from, the batch
    over all workers, and what to do with a run folder in use."""

    run: str | None = option(
        None,
        choices=tuple(RUNS),
        help="start from this named run's settings (train/runs.py); the options given change them",
        default_text="none: the defaults below",
    )
    global_batch_size: int | None = option(
        None,
        help="the batch over all workers (the paper's 2048), instead of --batch-size; must "
        "divide by --num-workers",
        default_text="--batch-size x --num-workers",
    )
    resume: bool = option(False, help="continue the run in --output")
    overwrite: bool = option(False, help="delete --output first")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m train.pretrain",
        description="Pretrain VATT (NCE + MIL-NCE) on vatt-clips shards with Ray Train. "
        "Attaches to the Ray cluster in RAY_ADDRESS, else starts a local Ray.",
    )
    add_arguments(p, PretrainCommand)
    add_arguments(p, TrainConfig)
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, with the check argparse cannot declare across two dataclasses."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if hasattr(args, "batch_size") and hasattr(args, "global_batch_size"):
        parser.error("argument --global-batch-size: not allowed with argument --batch-size")
    return args


def per_worker_batch(global_batch_size: int, num_workers: int) -> int:
    if num_workers < 1 or global_batch_size % num_workers:
        raise ValueError(
            f"--global-batch-size {global_batch_size} is not divisible by "
            f"--num-workers {num_workers}"
        )
    return global_batch_size // num_workers


def command_from_args(args: argparse.Namespace) -> PretrainCommand:
    return PretrainCommand(**values(PretrainCommand, args))


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig of the command line: the named run's (else TrainConfig's defaults)
    changed by the options given; `--set` adds to the run's model overrides."""
    from vattclips import storage

    command = command_from_args(args)
    changes = values(TrainConfig, args)
    model_overrides = changes.pop("overrides", {})
    tc = (RUNS[command.run] if command.run else TrainConfig)(**changes)
    if model_overrides:
        tc = dataclasses.replace(tc, overrides={**tc.overrides, **model_overrides})
    if command.global_batch_size is not None:
        batch = per_worker_batch(command.global_batch_size, tc.num_workers)
        tc = dataclasses.replace(tc, batch_size=batch)
    return dataclasses.replace(  # absolute local paths: Ray Train runs workers elsewhere
        tc, data=[storage.normalize(d) for d in tc.data], output=storage.normalize(tc.output)
    )


def prepare_tokenizer(tc: TrainConfig, vocab_size: int) -> PreTrainedTokenizerFast:
    """The run's tokenizer: reused from `output/tokenizer` if present, else the most frequent
    words of the train split's word counts (train.vocabulary), saved there."""
    from model import load_tokenizer
    from train.vocabulary import build_vocabulary
    from vattclips import storage

    target = storage.join(tc.output, "tokenizer")
    if storage.exists(storage.join(target, "tokenizer.json")):
        with tempfile.TemporaryDirectory() as tmp:
            storage.download_dir(target, tmp)
            logger.info("reusing the run's tokenizer at %s", target)
            return load_tokenizer(tmp)
    tokenizer, _ = build_vocabulary(tc.data, vocab_size, tc.tokenizer_samples)
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer.save_pretrained(tmp)
        storage.upload_dir(tmp, target)
    logger.info("saved the %d-word tokenizer to %s", len(tokenizer), target)
    return tokenizer


def _one_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"


def check_inputs(tc: TrainConfig) -> VattConfig:
    """The model config, after checking everything that can be checked before Ray starts:
    names and geometry, the dataset (readable, a vatt-clips dataset), the run folder
    (writable: credentials, bucket)."""
    from model import get_config
    from train.augment import augment_preset
    from train.stream import register_fsspec_schemes
    from vattclips import storage
    from vattclips.dataset import DatasetRootError, list_shards

    register_fsspec_schemes()
    model_cfg = get_config(tc.config, **tc.overrides)  # bad names, fields, geometry
    augment_preset(tc.augment)
    for root in tc.data:
        try:
            list_shards(root, "train")  # a bad dataset root, a wrong schema version
        except (DatasetRootError, ValueError):
            raise
        except Exception as error:  # noqa: BLE001 - the store's own error, named with the URI
            raise StorageAccessError(f"cannot read {root}: {_one_line(error)}") from error
    try:
        storage.check_writable(tc.output)
    except Exception as error:  # noqa: BLE001
        raise StorageAccessError(f"cannot write to {tc.output}: {_one_line(error)}") from error
    return model_cfg


def check_run_folder(tc: TrainConfig, resume: bool, overwrite: bool) -> None:
    """RunExistsError for a run folder in use without --resume/--overwrite; with --resume,
    the run's settings against these (train.resume: refused, or applied and logged)."""
    if ray_fit.check_run_folder(tc.output, resume, overwrite):
        from train.resume import check_resume, run_config

        for change in check_resume(tc, run_config(tc.output) or {}):
            logger.info("--resume: %s (applied)", change)


def run(
    tc: TrainConfig,
    resume: bool = False,
    overwrite: bool = False,
    model_cfg: VattConfig | None = None,
) -> ray.train.Result:
    """Train; returns Ray Train's Result (its .checkpoint is the last one). `model_cfg`: what
    check_inputs(tc) returned, when the caller already ran it (and check_run_folder)."""
    from train import cluster
    from train.loop import train_loop_per_worker
    from train.ray_fit import fit
    from vattclips import storage

    if model_cfg is None:
        model_cfg = check_inputs(tc)
        check_run_folder(tc, resume, overwrite)
    if overwrite:
        storage.remove_tree(tc.output)
    tokenizer = prepare_tokenizer(tc, model_cfg.vocab_size)
    cluster.connect(tc.num_workers * tc.cpus_per_worker)
    return fit(train_loop_per_worker, {"train": tc.to_dict(), "tokenizer": tokenizer}, tc)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = command_from_args(args)
    logs.configure()
    from train import cluster
    from train.loop import CURVES_PNG
    from vattclips import storage

    started = False
    try:
        tc = config_from_args(args)
        model_cfg = check_inputs(tc)  # before spending seconds on starting Ray
        check_run_folder(tc, command.resume, command.overwrite)
        started = cluster.connect(tc.num_workers * tc.cpus_per_worker)
        if tc.use_gpu:
            cluster.require_gpus(tc.num_workers, local=started)
        result = run(tc, command.resume, command.overwrite, model_cfg=model_cfg)
    except ray_fit.run_errors() as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        if started:
            cluster.shutdown_local()
    from train.ray_fit import last_checkpoint

    print(f"done: {result.metrics}")
    print(f"last checkpoint: {last_checkpoint(tc, result)}")
    print(f"loss curves: {storage.join(tc.output, 'tensorboard', CURVES_PNG)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
