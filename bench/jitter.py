"""Cost of temporal jitter: shards of longer windows vs the default 3.2 s ones.

    python -m pipeline build --input M --output BASE
    python -m pipeline build --input M --output LONG --clip-seconds 4.0 --clip-stride 3.2
    python bench/jitter.py BASE LONG [--clips 120] [--rounds 4] [--json]

Reports per dataset: clips, bytes, bytes per clip (dataset.json), and the CPU milliseconds per
clip of the loader's whole per-sample step (`decode_sample`, training mode, paper
augmentation, one thread) for `tiny` and `bbs`, best of `--rounds` alternating rounds (the
machine may be shared), with the ratio LONG / BASE. The device-side colour step is not in it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from model import get_config, train_word_tokenizer  # noqa: E402
from train.augment import augment_preset  # noqa: E402
from train.sample import InputSpec, decode_sample, sub_window  # noqa: E402
from train.stream import DataHealth, read_shard  # noqa: E402
from vattclips.dataset import list_shards  # noqa: E402
from vattclips.meta import read_meta  # noqa: E402


def storage(root: str) -> dict[str, float]:
    summary = json.loads(Path(root, "dataset.json").read_text())
    samples = summary["counts"]["samples"]
    size = sum(s["bytes"] for s in summary["shards"])
    return {
        "clips": samples,
        "mb": round(size / 1e6, 1),
        "kb_per_clip": round(size / samples / 1e3),
    }


def first_clips(root: str, n: int) -> list[dict]:
    raws: list[dict] = []
    for url in list_shards(root, "train").urls:
        raws.extend(read_shard(url, DataHealth()))
        if len(raws) >= n:
            break
    return raws[:n]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("base", help="dataset root of 3.2 s windows")
    p.add_argument("long", help="dataset root of longer windows")
    p.add_argument("--clips", type=int, default=120)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(1)
    roots = {"base": args.base, "long": args.long}
    report: dict[str, dict] = {name: storage(root) for name, root in roots.items()}
    raws = {name: first_clips(root, args.clips) for name, root in roots.items()}
    tokenizer = train_word_tokenizer(["a red shape"], 64)
    for config in ("tiny", "bbs"):
        spec = InputSpec.from_model_config(get_config(config), augment_preset("paper"))
        jittered = sum(sub_window(read_meta(r), spec, None) is not None for r in raws["long"])
        best = dict.fromkeys(roots, float("inf"))
        for _ in range(args.rounds):
            for name in roots:
                rng = np.random.default_rng(0)
                t0 = time.process_time()
                for raw in raws[name]:
                    decode_sample(raw, spec, tokenizer, rng, train=True)
                ms = 1000 * (time.process_time() - t0) / len(raws[name])
                best[name] = min(best[name], ms)
        for name in roots:
            report[name][f"{config}_loader_ms_per_clip"] = round(best[name], 2)
        report[f"{config}_loader_ratio"] = round(best["long"] / best["base"], 3)
        report[f"{config}_long_clips_jittered"] = f"{jittered}/{len(raws['long'])}"
    report["storage_per_clip_ratio"] = round(
        report["long"]["kb_per_clip"] / report["base"]["kb_per_clip"], 3
    )
    if args.json:
        print(json.dumps(report))
        return 0
    for name in roots:
        r = report[name]
        print(
            f"{name}: {r['clips']} clips, {r['mb']} MB, {r['kb_per_clip']} KB/clip; loader "
            f"{r['tiny_loader_ms_per_clip']} ms/clip (tiny), {r['bbs_loader_ms_per_clip']} (bbs)"
        )
    print(
        f"long / base: storage per clip x{report['storage_per_clip_ratio']}, loader CPU "
        f"x{report['tiny_loader_ratio']} (tiny), x{report['bbs_loader_ratio']} (bbs); clips "
        f"jittered: {report['tiny_long_clips_jittered']} (tiny)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
