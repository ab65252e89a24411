"""One rule of "nearest caption" on both sides of the data contract: the loader's K of the
builder's stored `neighbors` are the K nearest of all the video's captions."""

from __future__ import annotations

import json
import random
from dataclasses import asdict

from pipeline.captions import Segment
from pipeline.clips import CaptionIndex
from train.text import neighbor_texts
from vattclips.captions import bag_texts, clip_caption, nearest_captions


def _sample_meta(index: CaptionIndex, start: float, end: float, shard_k: int) -> dict:
    """A sample's json as pipeline/video.py writes it (window rounded, neighbours by start),
    read back as the loader reads it."""
    meta = {
        "start": round(start, 6),
        "end": round(end, 6),
        "neighbors": [asdict(s) for s in index.nearest(start, end, shard_k)],
    }
    return json.loads(json.dumps(meta, sort_keys=True))


def test_a_model_k_below_the_shards_takes_the_nearest_not_the_earliest() -> None:
    # One caption a second, c0 = [0, 1) ... c19 = [19, 20); the clip is [10.6, 13.8), centre 12.2.
    index = CaptionIndex([Segment(float(i), i + 1.0, f"c{i}") for i in range(20)])
    meta = _sample_meta(index, 10.6, 13.8, shard_k=8)
    stored = [n["text"] for n in meta["neighbors"]]
    assert stored == [f"c{i}" for i in range(8, 16)]  # the shard's 8, sorted by start
    # K = 3: the captions nearest the middle of the clip, not the 3 earliest stored (c8-c10).
    assert neighbor_texts(meta, "", 3) == ["c11", "c12", "c13"]
    assert neighbor_texts(meta, "", 3) == [s.text for s in index.nearest(10.6, 13.8, 3)]
    assert clip_caption(meta, "") == "c12"  # the nearest of all: centre 12.5, 0.3 s off
    assert neighbor_texts(meta, "", 10) == stored + ["", ""]  # more than stored: padded
    assert bag_texts(meta, "", 10) == stored and bag_texts({}, " own ", 3) == ["own"]


def test_loader_and_builder_agree_for_every_k_below_the_shards() -> None:
    rng = random.Random(7)
    for _ in range(300):
        segs = []
        for i in range(rng.randint(1, 40)):
            s = round(rng.uniform(0, 90), rng.choice([1, 2, 6]))  # ties happen at 1 decimal
            segs.append(Segment(s, s + rng.choice([0.5, 1.0, 2.5, rng.uniform(0.1, 6)]), f"t{i}"))
        index = CaptionIndex(segs)
        start = rng.choice([0.0, 3.2, 6.4]) + rng.uniform(0, 80)
        end = start + 3.2
        shard_k = rng.randint(1, 10)
        meta = _sample_meta(index, start, end, shard_k)
        for k in range(1, shard_k + 1):
            want = [asdict(s) for s in index.nearest(start, end, k)]
            assert nearest_captions(meta, k) == want, (start, k, shard_k)


def test_empty_captions_are_not_candidates_and_foreign_json_keeps_its_order() -> None:
    meta = {
        "start": 10.0,
        "end": 13.2,
        "neighbors": [
            {"start": 11.0, "end": 12.0, "text": "  "},
            {"start": 0.0, "end": 1.0, "text": "far"},
            {"start": 14.0, "end": 15.0, "text": "near"},
        ],
    }
    assert neighbor_texts(meta, "", 1) == ["near"]
    # A dataset without the window in its json: the stored order (nothing to measure from).
    assert neighbor_texts({"neighbors": meta["neighbors"]}, "", 1) == ["far"]
