"""Shard assignment at web scale: 10M simulated video records in bounded memory.

    .venv/bin/python bench/assignment.py [--videos 10000000] [--check-every 200]

The shard builder's assignment (`pipeline/shards.py`, `pipeline/beam_job.py::AssignShards`)
runs here on simulated video records (HowTo100M-like: 20 to 220 clips each, mean ~120, 10% val),
with the pipeline's own functions in the order the Beam graph runs them, and each step holding
what one Beam worker would hold:

1. count the videos (`Count.Globally`) -> buckets (`bucket_count`);
2. clips and bytes per (split, bucket) through the job's `ClipTotals` combiner -> the side
   input, a few entries per thousand videos -> `ShardPlan.from_counts`;
3. the GroupByKey on buckets, simulated as a runner does it: records spilled to disk by bucket,
   then read back one spill file at a time; per bucket `video_positions` (the global numbering)
   for every video, checked to tile [0, N) exactly; and the clip placement (`place_videos`, one
   keyed permutation per clip) for one bucket in `--check-every`, checked for distinct slots
   (1.2 billion clips in pure Python would take an hour; the rest is the same function).

Each measurement runs in a fresh process and reports its peak RSS: the assignment at
`--videos` and at a tenth of it (flat: memory does not grow with the corpus), against the step
it replaces, the `AllVideos` ToList that held every video's record in one element (measured at
a tenth, per record, and extrapolated).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from pipeline.beam_job import ClipTotals  # noqa: E402
from pipeline.records import VideoRecord  # noqa: E402
from pipeline.shards import (  # noqa: E402
    ShardPlan,
    bucket_count,
    bucket_of,
    place_videos,
    video_positions,
)
from vattclips.keys import split_for  # noqa: E402

SPILL_FILES = 512  # the simulated shuffle's files (a runner spills to disk or a shuffle service)
CLIP_BYTES = 290_000  # ~0.29 MB per clip (docs/scaling.md)
SHARD_SAMPLES = 1000


def simulated(videos: int):
    """(video_id, split, clips) of `videos` videos, deterministic."""
    for i in range(videos):
        vid = f"v{i:010d}"
        clips = 20 + hashlib.sha1(vid.encode()).digest()[0] * 200 // 255  # 20..220, mean ~120
        yield vid, split_for(vid, 0.1), clips


def _record(vid: str, split: str, clips: int) -> VideoRecord:
    offsets = [k * CLIP_BYTES for k in range(clips + 1)]
    return VideoRecord(
        vid, 0, vid, split, clips, clips * CLIP_BYTES, 0.0, spill=vid, offsets=offsets
    )


def assign(videos: int, check_every: int, folder: str) -> dict:
    t0 = time.process_time()
    buckets = bucket_count(sum(1 for _ in simulated(videos)))  # 1. Count.Globally
    combine = ClipTotals()
    totals: dict[tuple[str, int], tuple[int, int]] = {}
    spills = [open(os.path.join(folder, f"{k:04d}"), "w") for k in range(SPILL_FILES)]  # noqa: SIM115
    for vid, split, clips in simulated(videos):  # 2. combiner, and the shuffle's spill
        b = bucket_of(vid, buckets)
        acc = totals.get((split, b)) or combine.create_accumulator()
        totals[(split, b)] = combine.add_input(acc, (clips, clips * CLIP_BYTES))
        spills[b % SPILL_FILES].write(f"{b} {vid} {split} {clips}\n")
    for f in spills:
        f.close()
    totals = {k: combine.extract_output(v) for k, v in totals.items()}
    plan = ShardPlan.from_counts(totals, SHARD_SAMPLES, 1 << 30)
    ends = {}  # (split, bucket) -> end of its positions, to check the tiling
    checked_clips = 0
    for k in range(SPILL_FILES):  # 3. one spill file at a time, grouped by bucket
        groups: dict[int, list[tuple[str, str, int]]] = {}
        with open(os.path.join(folder, f"{k:04d}")) as f:
            for line in f:
                b, vid, split, clips = line.split()
                groups.setdefault(int(b), []).append((vid, split, int(clips)))
        os.remove(os.path.join(folder, f"{k:04d}"))
        for b, group in groups.items():
            records = [_record(*g) for g in group]
            for rec, g in video_positions(records, b, plan):
                ends[(rec.split, b)] = g + rec.clips
            if b % check_every == 0:  # distinct slots (across buckets: the tiling below)
                slots: set[tuple[str, int]] = set()
                for name, ref in place_videos(records, b, plan):
                    slots.add((name, ref.order))
                    checked_clips += 1
                assert len(slots) == sum(r.clips for r in records), b
    for split, sp in plan.splits.items():  # positions tile [0, N): each bucket ends where
        keys = sorted(k for k in plan.starts if k[0] == split)  # the next one starts
        for key, nxt in zip(keys, keys[1:] + [None]):
            want = plan.starts[nxt] if nxt else sp.clips
            assert ends.get(key, plan.starts[key]) == want, key
    return {
        "videos": videos,
        "clips": sum(sp.clips for sp in plan.splits.values()),
        "buckets": buckets,
        "side_input_entries": len(totals),
        "shards": plan.shards_by_split(),
        "clips_placed_and_checked": checked_clips,
        "cpu_s": round(time.process_time() - t0, 1),
    }


def to_list(videos: int) -> dict:
    """The replaced step: every video's summary (as ProcessVideo yielded it) in one list."""
    t0 = time.process_time()
    held = [
        {
            "video_id": vid,
            "split": split,
            "clips": clips,
            "bytes": clips * CLIP_BYTES,
            "spill": f"_work/videos/{vid}.tar",
            "duration": clips * 3.2,
            "line": i,
            "source": f"gs://bucket/howto100m/videos/{vid}.mp4",
            "text_source": "captions:howto100m",
            "failures": [],
        }
        for i, (vid, split, clips) in enumerate(simulated(videos))
    ]
    return {"videos": len(held), "cpu_s": round(time.process_time() - t0, 1)}


def measure(mode: str, videos: int, check_every: int) -> dict:
    """Run one measurement in a fresh process; its result and peak RSS in MB."""
    cmd = [sys.executable, __file__, "--worker", mode, "--videos", str(videos)]
    out = subprocess.run(
        [*cmd, "--check-every", str(check_every)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--videos", type=int, default=10_000_000)
    p.add_argument("--check-every", type=int, default=200, help="buckets whose clips are placed")
    p.add_argument("--worker", choices=["assign", "to_list", "idle"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        with tempfile.TemporaryDirectory(prefix="vatt-assign-") as folder:
            if args.worker == "assign":
                result = assign(args.videos, args.check_every, folder)
            elif args.worker == "to_list":
                result = to_list(args.videos)
            else:  # the imports alone: what every measurement starts from
                result = {}
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        print(json.dumps(result))
        return 0
    tenth = max(1, args.videos // 10)
    full = measure("assign", args.videos, args.check_every)
    small = measure("assign", tenth, args.check_every)
    held = measure("to_list", tenth, args.check_every)
    idle = measure("idle", 0, args.check_every)
    per_record = (held["peak_rss_mb"] - idle["peak_rss_mb"]) * 1e6 / tenth
    report = {
        f"assign_{args.videos}": full,
        f"assign_{tenth}": small,
        "peak_rss_ratio_10x_videos": round(full["peak_rss_mb"] / small["peak_rss_mb"], 2),
        "imports_only_peak_rss_mb": idle["peak_rss_mb"],
        f"to_list_{tenth}": held,
        "to_list_bytes_per_record": round(per_record),
        f"to_list_{args.videos}_extrapolated_gb": round(per_record * args.videos / 1e9, 1),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
