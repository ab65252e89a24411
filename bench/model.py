"""CPU benchmark: training-step time (forward + backward) of a Base-width video tower with
DropToken at 0 and at 0.5, measured in one run, and their ratio (goal: >= 1.7x at 0.5).

    .venv/bin/python bench/model.py [--layers 12] [--batch 1] [--steps 3] [--json]

The tower is VATT-BBS's video tower (patch projection, factorized positions, [AGG], 12 pre-LN
blocks of width 768) at the paper's 32 x 224 x 224 input. Steps at the two rates alternate, so
that load from other processes on the machine hits both alike; the median step is reported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.config import get_config  # noqa: E402
from model.droptoken import kept_count  # noqa: E402
from model.vatt import VattModel  # noqa: E402


def video_tower_step(
    model: VattModel, video: torch.Tensor, drop_rate: float
) -> tuple[float, float]:
    """Wall-clock and CPU seconds (this process, all threads) of one forward + backward of the
    video tower at `drop_rate`. CPU time is what other processes on a shared machine disturb
    least."""
    model.video_embed.drop_rate = drop_rate
    wall, cpu = time.perf_counter(), time.process_time()
    pooled = model.encode_video(video)  # (B, 768)
    pooled.square().mean().backward()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    model.zero_grad(set_to_none=True)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=12, help="Transformer blocks (Base: 12)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per drop rate")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    config = get_config("bbs", dropout=0.0, attention_dropout=0.0)
    model = VattModel(config).train()
    # Only the video tower runs; trimming its depth keeps the width (the per-layer ratio).
    del model.video_transformer.blocks[args.layers :]
    video = torch.rand(args.batch, 3, config.video_frames, config.video_size, config.video_size)
    video = video * 2 - 1

    rates = (0.0, 0.5)
    for rate in rates:  # warm-up: allocator, thread pool, kernel selection
        video_tower_step(model, video, rate)
    walls: dict[float, list[float]] = {rate: [] for rate in rates}
    cpus: dict[float, list[float]] = {rate: [] for rate in rates}
    for _ in range(args.steps):
        for rate in rates:
            wall, cpu = video_tower_step(model, video, rate)
            walls[rate].append(wall)
            cpus[rate].append(cpu)

    wall = {rate: statistics.median(values) for rate, values in walls.items()}
    cpu = {rate: statistics.median(values) for rate, values in cpus.items()}
    result = {
        "layers": args.layers,
        "batch": args.batch,
        "threads": args.threads,
        "tokens": {"drop0": config.video_tokens, "drop50": kept_count(config.video_tokens, 0.5)},
        "step_s": {"drop0": round(wall[0.0], 3), "drop50": round(wall[0.5], 3)},
        "cpu_s": {"drop0": round(cpu[0.0], 3), "drop50": round(cpu[0.5], 3)},
        "speedup": round(wall[0.0] / wall[0.5], 2),
        "speedup_cpu_time": round(cpu[0.0] / cpu[0.5], 2),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"Base-width video tower, {args.layers} layers, batch {args.batch}, "
            f"{args.threads} threads, 32x224x224 -> {config.video_tokens} tokens "
            f"(median of {args.steps} steps)\n"
            f"  drop 0.0: {wall[0.0]:.3f} s/step wall, {cpu[0.0]:.3f} s CPU\n"
            f"  drop 0.5: {wall[0.5]:.3f} s/step wall, {cpu[0.5]:.3f} s CPU\n"
            f"  speed-up at drop 0.5: {result['speedup']:.2f}x wall-clock, "
            f"{result['speedup_cpu_time']:.2f}x CPU time (goal >= 1.7x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
