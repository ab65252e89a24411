"""`python -m train.downstream` (`make downstream`): what pretraining buys, in one table.

On a labelled dataset, the pretrained run against the same config at random init: zero-shot
classification (no labels used), a linear probe on frozen features, a few-shot probe (`--shots`
labelled videos per class, averaged over seeded draws) and a short fine-tune of the video tower
(through Ray Train, as `train.finetune` runs it; the random-init one is `--from-scratch` with the
run's own model config), each beside chance. Scores per video (its clips averaged), top-1 /
top-5 in %, or mAP for multi-label sets.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from train import cluster
from train.checkpoint import find_checkpoint, read_run_config
from train.downstream_inputs import INPUT_ERRORS, LabelSet, labelled_dataset, load_model, parse_cli
from train.features import extract
from train.finetune import check_finetune_inputs, run, score_checkpoint
from train.finetune_config import FinetuneConfig
from train.linear_probe import run_probe
from train.ray_fit import last_checkpoint
from train.zero_shot import DEFAULT_TEMPLATE, run_zero_shot
from vattclips import storage

logger = logging.getLogger("train.downstream")

INITS = ("pretrained", "random_init")


def frozen_results(args: argparse.Namespace, labels: LabelSet, random_init: bool) -> dict:
    """Zero-shot, linear probe and few-shot probe of one model (features extracted once)."""
    model, tokenizer, _ = load_model(args.checkpoint, random_init, args.seed)
    clips = {
        s: extract(model, tokenizer, args.data, s, 1, args.batch_size) for s in ("train", "val")
    }
    videos = {s: c.by_video() for s, c in clips.items()}
    return {
        "zero_shot": run_zero_shot(
            model, tokenizer, clips["val"].by_video(normalize=True), labels, args.template
        ),
        "linear_probe": run_probe(videos["train"], videos["val"], labels, seed=args.seed),
        "few_shot": run_probe(
            videos["train"], videos["val"], labels, args.shots, args.draws, args.seed
        ),
    }


def finetune_configs(args: argparse.Namespace, labels: LabelSet) -> dict[str, FinetuneConfig]:
    """The short fine-tunes: from the run, and from scratch with the run's model config."""
    run_cfg = read_run_config(find_checkpoint(args.checkpoint))
    common = dict(
        data=storage.normalize(args.data),
        labels=list(labels.names),
        multi_label=labels.multi_label,
        max_steps=args.finetune_steps,
        batch_size=args.finetune_batch_size,
        cpus_per_worker=args.cpus,
        loader_workers=args.loader_workers,
        log_every=max(1, args.finetune_steps // 5),
        checkpoint_every=args.finetune_steps,
        keep_checkpoints=1,
        augment=run_cfg.get("augment", "paper"),
        seed=args.seed,
        test_crops=args.test_crops,
    )
    out = storage.normalize(args.output)
    return {
        "pretrained": FinetuneConfig(
            output=storage.join(out, "pretrained"),
            init=storage.normalize(args.checkpoint),
            **common,
        ),
        "random_init": FinetuneConfig(
            output=storage.join(out, "from_scratch"),
            config=run_cfg.get("config", "tiny"),
            overrides=dict(run_cfg.get("overrides", {})),
            **common,
        ),
    }


def fine_tunes(args: argparse.Namespace, labels: LabelSet) -> dict[str, dict]:
    configs = finetune_configs(args, labels)
    for fc in configs.values():
        check_finetune_inputs(fc)
    started = cluster.connect(args.cpus)
    try:
        results = {}
        for name, fc in configs.items():
            logger.info("fine-tuning (%s) for %d steps -> %s", name, fc.max_steps, fc.output)
            checkpoint = last_checkpoint(fc, run(fc, overwrite=True))
            if checkpoint is None:
                raise ValueError(f"the fine-tuning in {fc.output} reported no checkpoint")
            results[name] = score_checkpoint(fc, checkpoint)
        return results
    finally:
        if started:
            cluster.shutdown_local()


def table(result: dict, labels: LabelSet, args: argparse.Namespace) -> str:
    keys = ["mAP"] if labels.multi_label else ["top1", "top5"]
    probe = result["pretrained"]["linear_probe"]
    lines = [
        f"downstream on {args.data}: {len(labels)} classes, {probe['n_train']} train / "
        f"{probe['n_test']} val videos (scores per video, %)",
        f"{'':<34}{'pretrained':>12}{'random init':>13}{'chance':>9}",
    ]

    def row(name: str, get) -> None:
        for k in keys:
            cells = []
            for init in INITS:
                value = get(result[init])
                cells.append(f"{value[k]:>12.1f}" if value and k in value else f"{'-':>12}")
            chance = get(result["pretrained"]) or {}
            c = chance.get("chance", {}).get(k)
            lines.append(
                f"{name + ' ' + k:<34}{cells[0]}{cells[1]:>13}" + (f"{c:>9.1f}" if c else "")
            )

    row("zero-shot", lambda r: r["zero_shot"])
    for tower in ("video", "audio"):
        row(f"linear probe ({tower})", lambda r, t=tower: _with_chance(r["linear_probe"], t))
        row(
            f"{args.shots}-shot probe ({tower})",
            lambda r, t=tower: _with_chance(r["few_shot"], t),
        )
    if "fine_tune" in result["pretrained"]:
        row(f"fine-tune, {args.finetune_steps} steps (video)", lambda r: r["fine_tune"])
    return "\n".join(lines)


def _with_chance(result: dict, tower: str) -> dict | None:
    if tower not in result:
        return None
    return {**result[tower], "chance": result["chance"]}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m train.downstream",
        description="Pretrained vs random init on a labelled dataset: zero-shot, linear probe, "
        "few-shot probe and a short fine-tune, as one table with chance.",
    )
    p.add_argument("--checkpoint", required=True, help="the pretrained run (or checkpoint)")
    p.add_argument("--data", required=True, help="labelled dataset root URI")
    p.add_argument(
        "--output", default="runs/downstream", help="fine-tuning runs go here (%(default)s)"
    )
    p.add_argument("--template", default=DEFAULT_TEMPLATE, help="zero-shot prompt (%(default)r)")
    p.add_argument("--shots", type=int, default=2, help="few-shot: videos per class (%(default)s)")
    p.add_argument("--draws", type=int, default=5, help="few-shot draws averaged (%(default)s)")
    p.add_argument("--finetune-steps", type=int, default=60, help="0: no fine-tuning (%(default)s)")
    p.add_argument(
        "--finetune-batch-size",
        type=int,
        default=8,
        help="clips per fine-tuning step (%(default)s)",
    )
    p.add_argument(
        "--test-crops", type=int, default=3, help="fine-tune test crops per clip (%(default)s)"
    )
    p.add_argument(
        "--cpus", type=int, default=2, help="CPUs of the fine-tuning worker (%(default)s)"
    )
    p.add_argument(
        "--loader-workers",
        type=int,
        default=1,
        help="DataLoader processes of the fine-tuning worker (%(default)s)",
    )
    p.add_argument(
        "--batch-size", type=int, default=32, help="feature extraction batch (%(default)s)"
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="random init, few-shot draws and fine-tuning seed (%(default)s)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object only")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parse_cli(build_parser(), argv)
    try:
        labels = labelled_dataset(args.data)
        result = {init: frozen_results(args, labels, init == "random_init") for init in INITS}
        if args.finetune_steps > 0:
            for init, scores in fine_tunes(args, labels).items():
                result[init]["fine_tune"] = scores
    except (*INPUT_ERRORS, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({**result, "classes": len(labels), "multi_label": labels.multi_label}))
    else:
        print(table(result, labels, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
