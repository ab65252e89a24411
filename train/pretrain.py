"""`python -m train.pretrain`: pretrain VATT on WebDataset shards with Ray Train.

The driver (this process) checks the inputs, trains the word tokenizer once (or reuses the
run's), then hands `train.loop.train_loop_per_worker` to a `TorchTrainer`. It attaches to the
Ray cluster in RAY_ADDRESS (so it runs unchanged under `ray job submit`), else starts a local
Ray on this machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from typing import TYPE_CHECKING, Any

from train import logs, ray_fit
from train.config import TrainConfig
from train.names import AUGMENT_NAMES, CONFIG_NAMES
from train.ray_fit import RunExistsError

# Ray, torch, transformers and the model load in ~8 s: only after the arguments parse, so that
# --help and argument errors answer at once.
if TYPE_CHECKING:
    import ray.train
    from transformers import PreTrainedTokenizerFast

    from model import VattConfig

logger = logging.getLogger("train.pretrain")


class StorageAccessError(Exception):
    """The dataset cannot be read or the run folder cannot be written (credentials, bucket)."""


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """["video_frames=8", "dropout=0.0"] -> {"video_frames": 8, "dropout": 0.0}."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = _value(value.strip())
    return out


def parse_weights(text: str) -> list[float]:
    """--data-weights "0.8,0.2" -> [0.8, 0.2]."""
    try:
        return [float(w) for w in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers separated by commas, got {text!r}"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m train.pretrain",
        description="Pretrain VATT (NCE + MIL-NCE) on vatt-clips shards with Ray Train. "
        "Attaches to the Ray cluster in RAY_ADDRESS, else starts a local Ray.",
    )
    d = TrainConfig(data="")
    p.add_argument(
        "--data",
        required=True,
        action="append",
        help="dataset root URI (folder, gs://, s3://); repeat it to mix datasets",
    )
    p.add_argument(
        "--data-weights",
        type=parse_weights,
        default=None,
        metavar="W1,W2,...",
        help="share of the samples drawn from each --data, e.g. 0.8,0.2 (default: in "
        "proportion to their train clips)",
    )
    p.add_argument("--config", default=d.config, choices=CONFIG_NAMES, help="model config")
    p.add_argument("--output", default=d.output, help="run folder URI (default %(default)s)")
    p.add_argument("--max-steps", type=int, default=d.max_steps)
    batch = p.add_mutually_exclusive_group()
    batch.add_argument(
        "--batch-size", type=int, default=d.batch_size, help="per training worker (%(default)s)"
    )
    batch.add_argument(
        "--global-batch-size",
        type=int,
        default=None,
        help="the batch over all workers (the paper's 2048); must divide by --num-workers",
    )
    p.add_argument("--num-workers", type=int, default=d.num_workers, help="Ray Train workers")
    p.add_argument("--cpus-per-worker", type=int, default=d.cpus_per_worker)
    p.add_argument(
        "--loader-workers",
        type=int,
        default=d.loader_workers,
        help="DataLoader processes per training worker",
    )
    p.add_argument("--use-gpu", action="store_true", help="one GPU per worker, bf16 autocast")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--resume", action="store_true", help="continue the run in --output")
    p.add_argument("--overwrite", action="store_true", help="delete --output first")
    p.add_argument("--lr", type=float, default=d.lr, help="peak learning rate")
    p.add_argument("--end-lr", type=float, default=d.end_lr)
    p.add_argument(
        "--warmup-steps", type=int, default=d.warmup_steps, help="capped at a tenth of --max-steps"
    )
    p.add_argument(
        "--grad-clip",
        type=float,
        default=None,
        help="max global L2 norm of the gradients, 0 = off (default: the config's recipe: "
        "off for the paper configs, as the paper; 1.0 for tiny)",
    )
    p.add_argument(
        "--temporal-jitter",
        action=argparse.BooleanOptionalAction,
        default=d.temporal_jitter,
        help="a random sub-window of clips longer than the model's span (built with a longer "
        "--clip-seconds); the centre one at evaluation (default: on)",
    )
    p.add_argument("--log-every", type=int, default=d.log_every)
    p.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every)
    p.add_argument("--keep-checkpoints", type=int, default=d.keep_checkpoints)
    p.add_argument(
        "--max-failures",
        type=int,
        default=d.max_failures,
        help="restarts from the last checkpoint after a worker dies",
    )
    p.add_argument(
        "--augment",
        default=d.augment,
        choices=AUGMENT_NAMES,
        help="training augmentation: the paper's (default), light (no hue turn, no flip, "
        "crops >= 40%%: for content whose meaning is colour and direction), or none",
    )
    p.add_argument("--shuffle-buffer", type=int, default=d.shuffle_buffer)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a model config field, e.g. --set video_frames=8 (repeatable)",
    )
    return p


def per_worker_batch(args: argparse.Namespace) -> int:
    if args.global_batch_size is None:
        return args.batch_size
    if args.num_workers < 1 or args.global_batch_size % args.num_workers:
        raise ValueError(
            f"--global-batch-size {args.global_batch_size} is not divisible by "
            f"--num-workers {args.num_workers}"
        )
    return args.global_batch_size // args.num_workers


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    from vattclips import storage

    return TrainConfig(
        data=[storage.normalize(d) for d in args.data],  # Ray Train runs workers elsewhere
        data_weights=args.data_weights,
        output=storage.normalize(args.output),
        config=args.config,
        overrides=parse_overrides(args.set),
        max_steps=args.max_steps,
        batch_size=per_worker_batch(args),
        num_workers=args.num_workers,
        cpus_per_worker=args.cpus_per_worker,
        loader_workers=args.loader_workers,
        use_gpu=args.use_gpu,
        compile=args.compile,
        lr=args.lr,
        end_lr=args.end_lr,
        warmup_steps=args.warmup_steps,
        grad_clip=args.grad_clip,
        log_every=args.log_every,
        checkpoint_every=args.checkpoint_every,
        keep_checkpoints=args.keep_checkpoints,
        max_failures=args.max_failures,
        augment=args.augment,
        shuffle_buffer=args.shuffle_buffer,
        seed=args.seed,
        temporal_jitter=args.temporal_jitter,
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
    args = build_parser().parse_args(argv)
    logs.configure()
    from train import cluster
    from train.loop import CURVES_PNG
    from vattclips import storage
    from vattclips.dataset import DatasetRootError

    started = False
    try:
        tc = config_from_args(args)
        model_cfg = check_inputs(tc)  # before spending seconds on starting Ray
        check_run_folder(tc, args.resume, args.overwrite)
        started = cluster.connect(tc.num_workers * tc.cpus_per_worker)
        if tc.use_gpu:
            cluster.require_gpus(tc.num_workers, local=started)
        result = run(tc, resume=args.resume, overwrite=args.overwrite, model_cfg=model_cfg)
    except (
        RunExistsError,
        StorageAccessError,
        DatasetRootError,
        ValueError,
        FileNotFoundError,
    ) as error:
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
