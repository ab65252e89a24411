"""`python -m train.finetune`: fine-tune the video (or audio) tower with a classification head
through Ray Train, then test it (multi-clip x multi-crop) on the val split.

    --checkpoint RUN          start from a pretrained run (or checkpoint folder)
    --from-scratch CONFIG     the same model from random weights (the paper's baseline)

Pretraining's machinery runs it (train/loop.py, train/ray_fit.py): streaming from any fsspec
URI, checkpoints every --checkpoint-every steps, --resume, restarts after a worker failure. The
fine-tuning recipe's values are the defaults (train/finetune_config.py says where each comes
from). A different input size (`--set video_size=320`) interpolates the positional tables.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

import ray.train

from model import CONFIG_NAMES, VattConfig, load_tokenizer
from train import cluster
from train.augment import AUGMENT_PRESETS
from train.checkpoint import CheckpointNotFoundError, find_checkpoint, local_copy
from train.classify import evaluate_classifier, load_classifier
from train.downstream_inputs import labelled_dataset, parse_cli
from train.finetune_config import FinetuneConfig
from train.finetune_loop import finetune_loop_per_worker
from train.pretrain import StorageAccessError, check_inputs, parse_overrides, prepare_tokenizer
from train.ray_fit import RunExistsError, fit, last_checkpoint, prepare_run_folder
from vattclips import storage
from vattclips.dataset import DatasetRootError

logger = logging.getLogger("train.finetune")

EVAL_FILE = "eval.json"

# The options that map one to one onto FinetuneConfig fields: --name-with-dashes, the field's
# type and default (so each setting is declared once, in the dataclass).
OPTIONS: dict[str, str] = {
    "modality": "the tower fine-tuned (video; audio for sound classes)",
    "max_steps": "optimizer steps",
    "batch_size": "clips per training worker",
    "num_workers": "Ray Train workers",
    "cpus_per_worker": "CPUs (torch threads) per worker",
    "loader_workers": "DataLoader processes per worker",
    "lr": "peak learning rate (SGD)",
    "end_lr": "learning rate at the end of the cosine decay",
    "warmup_steps": "linear warmup (at most a tenth of --max-steps)",
    "grad_clip": "max global gradient norm",
    "momentum": "SGD momentum",
    "weight_decay": "SGD weight decay",
    "label_smoothing": "cross-entropy label smoothing (single-label sets)",
    "classifier_dropout": "dropout before the linear head",
    "test_crops": "spatial crops per clip at test time",
    "log_every": "steps between progress lines",
    "checkpoint_every": "steps between checkpoints",
    "keep_checkpoints": "checkpoints kept",
    "max_failures": "restarts from the last checkpoint after a worker dies",
    "augment": "training augmentation preset",
    "shuffle_buffer": "raw samples in the shuffle buffer",
    "seed": "head init, from-scratch init and data order",
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m train.finetune",
        description="Fine-tune a VATT tower + classification head on labelled vatt-clips "
        "shards with Ray Train, then test it on the val split (clips x crops averaged).",
    )
    init = p.add_mutually_exclusive_group(required=True)
    init.add_argument("--checkpoint", help="pretrained run folder or checkpoint folder")
    init.add_argument(
        "--from-scratch", metavar="CONFIG", choices=CONFIG_NAMES, help="random init of CONFIG"
    )
    p.add_argument("--data", required=True, help="labelled dataset root URI")
    p.add_argument("--output", required=True, help="run folder URI of the fine-tuning")
    defaults = FinetuneConfig(data="")
    for name, text in OPTIONS.items():
        value = getattr(defaults, name)
        kwargs: dict[str, Any] = {"type": type(value), "default": value}
        if name == "modality":
            kwargs["choices"] = ("video", "audio")
        if name == "augment":
            kwargs["choices"] = sorted(AUGMENT_PRESETS)
        p.add_argument(f"--{name.replace('_', '-')}", help=f"{text} (%(default)s)", **kwargs)
    p.add_argument("--use-gpu", action="store_true", help="one GPU per worker, bf16 autocast")
    p.add_argument("--resume", action="store_true", help="continue the run in --output")
    p.add_argument("--overwrite", action="store_true", help="delete --output first")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a model config field (e.g. --set video_size=160: positions interpolated)",
    )
    p.add_argument("--json", action="store_true", help="print the test result as one JSON object")
    return p


def config_from_args(args: argparse.Namespace) -> FinetuneConfig:
    labels = labelled_dataset(args.data)
    values = {name: getattr(args, name) for name in OPTIONS}
    return FinetuneConfig(
        data=storage.normalize(args.data),
        output=storage.normalize(args.output),
        init=storage.normalize(args.checkpoint) if args.checkpoint else None,
        config=args.from_scratch or "tiny",
        overrides=parse_overrides(args.set),
        use_gpu=args.use_gpu,
        labels=list(labels.names),
        multi_label=labels.multi_label,
        **values,
    )


def _tokenizer(fc: FinetuneConfig, vocab_size: int) -> Any:
    """The pretrained run's tokenizer, or (from scratch) one trained as pretraining does."""
    if fc.init is None:
        return prepare_tokenizer(fc, vocab_size)
    with local_copy(find_checkpoint(fc.init)) as folder:
        return load_tokenizer(os.path.join(folder, "tokenizer"))


def check_finetune_inputs(fc: FinetuneConfig) -> VattConfig:
    """Pretraining's checks (config, dataset, run folder writable), and that --checkpoint is
    a run: before Ray starts."""
    model_cfg = check_inputs(fc)
    if fc.init is not None:
        find_checkpoint(fc.init)
    return model_cfg


def run(
    fc: FinetuneConfig,
    resume: bool = False,
    overwrite: bool = False,
    model_cfg: VattConfig | None = None,
) -> ray.train.Result:
    """Train; returns Ray Train's Result. `model_cfg`: what check_finetune_inputs(fc) gave,
    when the caller already ran it."""
    if model_cfg is None:
        model_cfg = check_finetune_inputs(fc)
    prepare_run_folder(fc.output, resume, overwrite)
    tokenizer = _tokenizer(fc, model_cfg.vocab_size)
    cluster.connect(fc.num_workers * fc.cpus_per_worker)
    loop_config = {"train": fc.to_dict(), "tokenizer": tokenizer}
    return fit(finetune_loop_per_worker, loop_config, fc)


def score_checkpoint(fc: FinetuneConfig, checkpoint: str) -> dict:
    """Multi-clip x multi-crop top-1/top-5 (or mAP) of `checkpoint` on val; also written to
    OUTPUT/eval.json."""
    model, tokenizer, step = load_classifier(checkpoint)
    result = evaluate_classifier(model, tokenizer, fc.root, "val", fc.test_crops, fc.batch_size)
    result.update({"step": step, "checkpoint": checkpoint, "from_scratch": fc.init is None})
    with storage.open_file(storage.join(fc.output, EVAL_FILE), "wb") as f:
        f.write(json.dumps(result, indent=1).encode("utf-8"))
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_cli(build_parser(), argv)
    started = False
    try:
        fc = config_from_args(args)
        model_cfg = check_finetune_inputs(fc)  # before spending seconds on starting Ray
        started = cluster.connect(fc.num_workers * fc.cpus_per_worker)
        result = run(fc, args.resume, args.overwrite, model_cfg)
        checkpoint = last_checkpoint(fc, result)
        if checkpoint is None:
            raise ValueError(f"the run in {fc.output} reported no checkpoint")
        scores = score_checkpoint(fc, checkpoint)
    except (
        RunExistsError,
        StorageAccessError,
        DatasetRootError,
        CheckpointNotFoundError,
        ValueError,
        FileNotFoundError,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        if started:
            cluster.shutdown_local()
    if args.json:
        print(json.dumps(scores))
        return 0
    keys = ["mAP"] if fc.multi_label else ["top1", "top5"]
    how = "from scratch" if fc.init is None else f"from {fc.init}"
    print(f"fine-tuned {fc.modality} tower {how}, step {scores['step']}: {checkpoint}")
    print(f"test on {scores['n']} videos of {fc.root} [val], {fc.test_crops} crops x all clips:")
    for k in keys:
        print(f"  {k:<5} {scores[k]:6.1f} %   (chance {scores['chance'][k]:.1f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
