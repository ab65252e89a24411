"""Loader throughput: clips/s per CPU core for the whole training data path.

    python bench/loader.py [--data ROOT] [--clips 160] [--json] [--spread-only]

Per geometry (the paper's 32x224x224 + 153,600 samples at 48 kHz, and `tiny`), one process with
one torch thread runs the real training stream: read tar -> shuffle -> decode mp4 (PyAV) ->
random resized crop + flip -> colour jitter + [-1, 1] (`finalize_video`, which training runs on
the device; here on the CPU) -> decode + resample flac -> tokenize the K captions -> batch.
clips/s of that process = clips/s per core. Then the same with one DataLoader worker per core.
Also reported: the time of each stage, and how often two clips of one video share a batch, on
the dataset and at realistic counts (`--spread-videos` x `--spread-clips` in shards of
`--spread-shard`: 1,700 videos of 120 clips in shards of 1,000 by default), for shards laid out
by the shard builder against shards packed video by video, as ratios to uniform batches.

Without --data, a synthetic dataset at the paper's shard geometry (32 frames, short side 256,
48 kHz) is written to a temporary folder first.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from model import get_config, train_word_tokenizer  # noqa: E402
from train.augment import AugmentConfig, finalize_video, random_resized_crop  # noqa: E402
from train.data import (  # noqa: E402
    ClipStream,
    LoaderConfig,
    expected_pairs_uniform,
    make_loader,
    same_video_pairs,
)
from train.sample import InputSpec  # noqa: E402
from train.stream import DataHealth, read_shard  # noqa: E402
from train.text import caption_corpus, neighbor_texts, tokenize_bag  # noqa: E402
from vattclips.audio import decode_waveform  # noqa: E402
from vattclips.dataset import list_shards  # noqa: E402
from vattclips.video import decode_clip  # noqa: E402

BATCH = 16


def synthetic_root(folder: str) -> str:
    from tests.train.shardgen import FixtureSpec, write_dataset

    spec = FixtureSpec(
        videos=24,
        clips_per_video=8,
        frames=32,
        short_side=256,
        sample_rate=48000,
        val_videos=4,
        samples_per_shard=32,
    )
    return str(write_dataset(Path(folder), spec))


def _cpu_seconds() -> float:
    # This process and its finished children (DataLoader workers once the loader is done).
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_stream(
    stream: ClipStream, clips: int, workers: int, finalize: bool = True
) -> tuple[float, float]:
    """(clips per CPU-second, clips per wall second) of the full path, through a DataLoader
    with `workers` processes (0 = inline). CPU time is the per-core number that holds on a
    busy machine too; wall time shows what these cores delivered."""
    stream.cfg = LoaderConfig(BATCH, workers, stream.cfg.shuffle_buffer, stream.cfg.interleave)
    batches = max(1, clips // BATCH)
    per_worker = max(1, batches // max(1, workers))
    # Warm-up epoch: worker start, imports, shuffle-buffer fill, first decodes.
    for batch in make_loader(stream, 1):
        finalize_video(*_video(batch))
    cpu, wall, seen = _cpu_seconds(), time.perf_counter(), 0
    for batch in make_loader(stream, per_worker):
        if finalize:
            finalize_video(*_video(batch))
        seen += len(batch["key"])
    wall = time.perf_counter() - wall
    return seen / (_cpu_seconds() - cpu), seen / wall


def _video(batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    return batch["video"], batch["video_affine"]


def stage_times(urls: list[str], spec: InputSpec, tokenizer, n: int) -> dict[str, float]:
    """CPU milliseconds per clip of each stage on `n` clips (one thread), best of 2 passes
    after a warm-up clip."""
    rng = np.random.default_rng(0)
    raws = []
    for url in urls:
        raws.extend(read_shard(url, DataHealth()))
        if len(raws) >= n:
            break
    raws = raws[:n]
    aug = AugmentConfig()
    names = ("video_decode_crop_ms", "audio_ms", "text_ms", "finalize_ms")
    best = dict.fromkeys(names, float("inf"))
    for clips in (raws[:1], raws, raws):
        times = dict.fromkeys(names, 0.0)
        for raw in clips:
            t0 = time.process_time()
            frames = decode_clip(
                raw["mp4"],
                spec.video_frames,
                spec.video_size,
                lambda w, h: random_resized_crop(w, h, rng, aug),
                flip=True,
            )
            t1 = time.process_time()
            if "flac" in raw:
                decode_waveform(raw["flac"], spec.audio_sample_rate)
            t2 = time.process_time()
            meta = json.loads(raw["json"])
            texts = neighbor_texts(meta, "", spec.num_neighbors)
            tokenize_bag(tokenizer, texts, spec.text_max_tokens)
            t3 = time.process_time()
            finalize_video(torch.from_numpy(frames)[None], torch.eye(3, 4)[None])
            t4 = time.process_time()
            for name, dt in zip(names, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                times[name] += 1000 * dt / len(clips)
        if len(clips) > 1:
            best = {k: min(best[k], times[k]) for k in names}
    return {k: round(v, 2) for k, v in best.items()}


def spreading(root: str, tokenizer, spec: InputSpec, batches: int) -> dict[str, float]:
    """Mean same-video pairs per batch, and share of batches with one, for our shuffle, for no
    shuffle, and for ideal uniform batches."""
    import pyarrow.parquet as pq

    shards = list_shards(root, "train")
    index = pq.read_table(Path(root) / "index.parquet").to_pandas()
    counts = index[index["split"] == "train"].groupby("video_id").size().tolist()
    out: dict[str, float] = {"train_clips": int(sum(counts)), "train_videos": len(counts)}
    for name, cfg in (
        ("ours", LoaderConfig(BATCH, 0)),
        ("no_shuffle", LoaderConfig(BATCH, 0, shuffle_buffer=1, interleave=1)),
    ):
        stream = ClipStream(shards.urls, spec, tokenizer, cfg, shard_samples=shards.samples)
        ids = stream.video_id_batches(batches)
        pairs = [same_video_pairs(b) for b in ids]
        out[f"{name}_pairs_per_batch"] = round(float(np.mean(pairs)), 3)
        out[f"{name}_batches_with_pair"] = round(float(np.mean([p > 0 for p in pairs])), 3)
    out["uniform_pairs_per_batch"] = round(expected_pairs_uniform(counts, BATCH), 3)
    return out


def spreading_at_scale(
    folder: str, videos: int, clips: int, shard_samples: int, batches: int
) -> dict[str, object]:
    """The same measure at realistic counts (HowTo100M: ~120 clips per video): same-video pairs
    per batch of the training stream (its defaults: 4 shards open, 512-sample buffer) at batch
    16 and 64, on shards laid out by the shard builder (clips spread by its plan) and, as the
    baseline of the same run, packed side by side (the layout before), against uniform draws
    from the whole split. Samples hold a json member only: these stages never decode."""
    from tests.train.shardgen import write_layout_dataset

    out: dict[str, object] = {"videos": videos, "clips_per_video": clips, "shard": shard_samples}
    for layout in ("spread", "packed"):
        root = write_layout_dataset(
            Path(folder) / layout, videos, clips, shard_samples, spread=layout == "spread"
        )
        shards = list_shards(str(root), "train")
        for batch in (16, 64):
            cfg = LoaderConfig(batch, 0)
            stream = ClipStream(shards.urls, None, None, cfg, shard_samples=shards.samples)
            n = max(1, batches * 16 // batch)
            pairs = float(np.mean([same_video_pairs(b) for b in stream.video_id_batches(n)]))
            uniform = expected_pairs_uniform([clips] * videos, batch)
            out[f"{layout}_batch{batch}"] = {
                "pairs_per_batch": round(pairs, 4),
                "uniform": round(uniform, 4),
                "ratio_to_uniform": round(pairs / uniform, 2),
            }
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="dataset root (default: a synthetic one in a temp folder)")
    p.add_argument("--clips", type=int, default=160, help="clips timed per measurement")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--spread-videos", type=int, default=1700, help="videos of the spreading test")
    p.add_argument("--spread-clips", type=int, default=120, help="clips per video, same")
    p.add_argument("--spread-shard", type=int, default=1000, help="samples per shard, same")
    p.add_argument("--spread-only", action="store_true", help="only the clip-spreading measures")
    args = p.parse_args()
    torch.set_num_threads(1)
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="vatt-bench-") as tmp:
        root = args.data or synthetic_root(tmp)
        shards = list_shards(root, "train")
        urls = list(shards.urls)
        tokenizer = train_word_tokenizer(list(caption_corpus(urls, 2000)), vocab_size=8192)
        report: dict[str, object] = {"cores": cores, "data": args.data or "synthetic"}
        report["clip_spreading_at_scale"] = spreading_at_scale(
            tmp, args.spread_videos, args.spread_clips, args.spread_shard, 1000
        )
        geometries = (("full_32x224", get_config("bbs")), ("tiny", get_config("tiny")))
        for geometry, cfg in geometries if not args.spread_only else ():
            spec = InputSpec.from_model_config(cfg)
            stream = ClipStream(
                urls, spec, tokenizer, LoaderConfig(BATCH, 0), shard_samples=shards.samples
            )
            cpu_one, wall_one = run_stream(stream, args.clips, workers=0)
            cpu_loader, _ = run_stream(stream, args.clips, workers=0, finalize=False)
            cpu_many, wall_many = run_stream(stream, args.clips * cores, workers=cores)
            report[geometry] = {
                "geometry": f"{spec.video_frames}x{spec.video_size}x{spec.video_size}, "
                f"{spec.audio_samples} samples at {spec.audio_sample_rate} Hz",
                "clips_per_cpu_s_inline": round(cpu_one, 1),
                "clips_per_cpu_s_inline_without_finalize": round(cpu_loader, 1),
                "clips_per_wall_s_inline": round(wall_one, 1),
                f"clips_per_cpu_s_{cores}_workers": round(cpu_many, 1),
                f"clips_per_wall_s_{cores}_workers": round(wall_many, 1),
                "stage_ms_per_clip": stage_times(urls, spec, tokenizer, 48),
            }
        spec = InputSpec.from_model_config(get_config("tiny"))
        report["clip_spreading"] = spreading(root, tokenizer, spec, 400)
    if args.json:
        print(json.dumps(report))
    else:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
