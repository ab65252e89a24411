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

from clifields import add_arguments, values
from model import CONFIG_NAMES, VattConfig, load_tokenizer
from train import cluster
from train.checkpoint import find_checkpoint, local_copy
from train.classify import evaluate_classifier, load_classifier
from train.downstream_inputs import labelled_dataset, parse_cli
from train.finetune_config import FinetuneConfig
from train.finetune_loop import finetune_loop_per_worker
from train.pretrain import check_inputs, prepare_tokenizer
from train.ray_fit import fit, last_checkpoint, prepare_run_folder, run_errors
from vattclips import storage

logger = logging.getLogger("train.finetune")

EVAL_FILE = "eval.json"

# TrainConfig's settings that fine-tuning does not offer: the weights come from --checkpoint or
# --from-scratch, --data is one labelled root and --output is required (declared below), and
# mixtures, torch.compile and the temporal jitter are pretraining's.
NOT_OFFERED = ("data", "data_weights", "output", "config", "compile", "temporal_jitter")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m train.finetune",
        description="Fine-tune a VATT tower + classification head on labelled vatt-clips "
        "shards with Ray Train, then test it on the val split (clips x crops averaged). "
        "--set video_size=320 (another input size) interpolates the positional tables.",
    )
    init = p.add_mutually_exclusive_group(required=True)
    init.add_argument("--checkpoint", help="pretrained run folder or checkpoint folder")
    init.add_argument(
        "--from-scratch", metavar="CONFIG", choices=CONFIG_NAMES, help="random init of CONFIG"
    )
    p.add_argument("--data", required=True, help="labelled dataset root URI")
    p.add_argument("--output", required=True, help="run folder URI of the fine-tuning")
    add_arguments(p, FinetuneConfig, skip=NOT_OFFERED)
    p.add_argument("--resume", action="store_true", help="continue the run in --output")
    p.add_argument("--overwrite", action="store_true", help="delete --output first")
    p.add_argument("--json", action="store_true", help="print the test result as one JSON object")
    return p


def config_from_args(args: argparse.Namespace) -> FinetuneConfig:
    labels = labelled_dataset(args.data)
    return FinetuneConfig(
        data=storage.normalize(args.data),
        output=storage.normalize(args.output),
        init=storage.normalize(args.checkpoint) if args.checkpoint else None,
        config=args.from_scratch or "tiny",
        labels=list(labels.names),
        multi_label=labels.multi_label,
        **values(FinetuneConfig, args, skip=NOT_OFFERED),
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
    except run_errors() as error:
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
