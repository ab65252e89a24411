"""Shard assignment (pure and in the Beam graph), shard writing, atomic writes, deterministic tars."""

from __future__ import annotations

import json
import random
import tarfile
from collections import Counter

import apache_beam as beam
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.util import assert_that

from pipeline.beam_job import AssignShards
from pipeline.manifest import ManifestRow
from pipeline.options import BuildOptions
from pipeline.records import LostClips, VideoRecord
from pipeline.shards import (
    ShardPlan,
    ShardSpec,
    assign_in_memory,
    permute,
    place_videos,
    samples_per_shard,
    write_shard,
)
from pipeline.video import process_video
from pipeline.work import part_uri
from vattclips import storage
from vattclips.tars import SampleTarWriter


def rec(vid: str, clips: int, size: int = 100, split: str = "train") -> VideoRecord:
    return VideoRecord(
        video_id=vid,
        line=1,
        source=f"{vid}.mp4",
        split=split,
        clips=clips,
        bytes=clips * size,
        spill=f"_work/videos/{vid}.tar",
        offsets=[i * size for i in range(clips + 1)] if clips else [],
    )


def plan_all(records: list[VideoRecord], shard_samples: int, shard_bytes: int, **kw):
    """{shard: [(order, video_id, start)]} of the whole assignment, in one process."""
    shards = assign_in_memory(records, shard_samples, shard_bytes, **kw)
    return {k: [(c.order, c.video_id, c.start) for c in v] for k, v in shards.items()}


def test_permute_is_a_keyed_bijection():
    for n in [1, 2, 3, 5, 64, 1000, 1023, 1024, 1025, 4099]:
        assert sorted(permute(x, n, 7) for x in range(n)) == list(range(n)), n
    assert [permute(x, 1000, 7) for x in range(50)] != [permute(x, 1000, 8) for x in range(50)]
    assert [permute(x, 1000, 7) for x in range(50)] != list(range(50))
    with pytest.raises(ValueError):
        permute(10, 10, 7)


def test_every_clip_gets_one_place_and_shards_are_even_and_within_the_limit():
    rng = random.Random(3)
    records = [
        rec(f"v{i:04d}", rng.randint(0, 40), split=rng.choice(["train", "train", "val"]))
        for i in range(300)
    ]
    shards = plan_all(records, 64, 1 << 30, per_bucket=40)
    for split in ("train", "val"):
        names = [n for n in shards if n.startswith(f"shards/{split}-")]
        sizes = [len(shards[n]) for n in names]
        total = sum(r.clips for r in records if r.split == split)
        assert names == [f"shards/{split}-{k:06d}.tar" for k in range(len(names))]
        assert len(names) == -(-total // 64) and max(sizes) <= 64 and max(sizes) - min(sizes) <= 1
        assert sum(sizes) == total
        for n in names:
            assert [o for o, _, _ in shards[n]] == list(range(len(shards[n])))
    placed = Counter((vid, start) for v in shards.values() for _, vid, start in v)
    want = Counter((r.video_id, r.offsets[i]) for r in records for i in range(r.clips))
    assert placed == want  # each clip exactly once
    split_of = {r.video_id: r.split for r in records}
    assert all(
        n.startswith(f"shards/{split_of[vid]}-") for n, v in shards.items() for _, vid, _ in v
    )


def test_shards_of_64_from_40_videos_of_two_minutes_mix_30_and_more_videos():
    # 2 min = 37 clips of 3.2 s; 36 train videos -> 1,332 clips in 21 shards of 63 or 64
    records = [rec(f"video{i:02d}", 37) for i in range(36)]
    shards = plan_all(records, 64, 1 << 30)
    assert len(shards) == 21 and {len(v) for v in shards.values()} == {63, 64}
    mixes = [len({vid for _, vid, _ in v}) for v in shards.values()]
    assert min(mixes) >= 30, mixes
    # no video has more than ceil(37 / 21) = 2 clips in a shard
    assert max(Counter(vid for _, vid, _ in v).most_common(1)[0][1] for v in shards.values()) == 2
    # and each shard lists its clips in a shuffled order, not a video's clips side by side
    runs = [sum(a[1] == b[1] for a, b in zip(v, v[1:])) for v in shards.values()]
    assert max(runs) <= 3, runs


def test_assignment_is_deterministic_whatever_the_record_order():
    rng = random.Random(1)
    records = [
        rec(f"v{i:03d}", rng.randint(0, 9), rng.randint(50, 500), rng.choice(["train", "val"]))
        for i in range(80)
    ]
    want = plan_all(records, 7, 2000, per_bucket=10)
    for _ in range(3):
        rng.shuffle(records)
        assert plan_all(records, 7, 2000, per_bucket=10) == want
    # a later round numbers its shards after the committed ones and never changes them
    later = plan_all(records[:5], 7, 2000, first={"train": 40, "val": 9}, round_=1)
    assert all(int(n[-10:-4]) >= (40 if "train" in n else 9) for n in later)


def test_the_byte_limit_sets_the_samples_per_shard():
    assert samples_per_shard(10, 3000, 1000, 1000) == 3  # 300-byte clips, 1000-byte shards
    assert samples_per_shard(2, 10_000, 1000, 1000) == 1  # a clip over the limit: one a shard
    assert samples_per_shard(10, 3000, 2, 1 << 30) == 2
    shards = plan_all([rec("a", 10, size=300)], 1000, 1000)
    assert [len(v) for v in shards.values()] == [3, 3, 2, 2]  # even, none over 900 bytes


def test_the_beam_graph_assigns_a_few_thousand_records_like_the_pure_plan(tmp_path):
    rng = random.Random(5)
    records = [
        rec(f"v{i:05d}", rng.choice([0, 3, 12, 25]), split=rng.choice(["train"] * 9 + ["val"]))
        for i in range(3000)
    ]
    opts = BuildOptions(shard_samples=100)
    out = str(tmp_path)
    want = plan_all(records, 100, opts.shard_bytes, per_bucket=250)

    def check(groups):
        got = {name: sorted((c.order, c.video_id, c.start) for c in refs) for name, refs in groups}
        assert dict(sorted(got.items())) == want

    p = beam.Pipeline(runner=FnApiRunner())  # in-process: never the Prism download
    shards = (
        p
        | beam.Create(records, reshuffle=True)
        | AssignShards(out, opts, {}, 0, videos_per_bucket=250)
    )
    assert_that(shards, check)
    p.run().wait_until_finish()
    # the records are listed once each, a part per bucket (12 here), for finalize to stream
    listed = []
    for b in range(12):
        listed += storage.read_bytes(part_uri(out, 0, b)).decode().splitlines()
    assert sorted(json.loads(x)["video_id"] for x in listed) == [r.video_id for r in records]
    assert not storage.exists(part_uri(out, 0, 12))


def _meta(vid: str, clip: int) -> bytes:
    meta = {"video_id": vid, "source": f"{vid}.mp4", "clip": clip, "start": 3.2 * clip}
    meta.update(end=3.2 * clip + 3.2, has_audio=False, segments=[], neighbors=[])
    return json.dumps(meta).encode()


def _spill(tmp_path, vid: str, n: int) -> tuple[VideoRecord, list[dict]]:
    samples = [
        {
            "__key__": f"{vid}_{i:05d}",
            "json": _meta(vid, i),
            "mp4": bytes([i] * 700),
        }
        for i in range(n)
    ]
    offsets = [0]
    spill = f"_work/videos/{vid}.tar"
    (tmp_path / "_work" / "videos").mkdir(parents=True, exist_ok=True)
    with open(tmp_path / spill, "wb") as f, SampleTarWriter(f) as tw:
        for s in samples:
            offsets[-1:] = list(tw.write(s))
    r = VideoRecord(vid, 1, f"{vid}.mp4", "train", n, 700 * n, spill=spill, offsets=offsets)
    return r, samples


def test_a_shard_keeps_what_it_can_read_and_reports_the_rest_as_write_failures(tmp_path):
    a, _ = _spill(tmp_path, "a", 4)
    b, _ = _spill(tmp_path, "b", 3)
    gone = rec("gone", 2, size=1024)  # its per-video tar was never written (or was deleted)
    records = [a, b, gone]
    plan = ShardPlan.from_counts({("train", 0): (9, 9000)}, 100, 1 << 30)
    refs = [ref for _, ref in place_videos(records, 0, plan)]
    spec = ShardSpec.from_group("shards/train-000000.tar", refs)
    commit = write_shard(str(tmp_path), spec)
    assert commit.samples == 7 and commit.lost == {"gone": LostClips(2, commit.lost["gone"].error)}
    assert "gone.tar" in commit.lost["gone"].error
    assert [r.shard for r in commit.rows] == [spec.name] * 7
    assert write_shard(str(tmp_path), spec) == commit  # committed: the record read back, typed
    shard = tmp_path / "shards" / "train-000000.tar"
    with tarfile.open(shard) as t:
        keys = [m.name.split(".")[0] for m in t.getmembers()][::2]
    assert sorted(keys) == [f"a_{i:05d}" for i in range(4)] + [f"b_{i:05d}" for i in range(3)]
    assert keys != sorted(keys)  # in the plan's shuffled order
    first = shard.read_bytes()
    shard.unlink()
    (tmp_path / "_work" / "shards" / "train-000000.json").unlink()
    write_shard(str(tmp_path), ShardSpec.from_group(spec.name, reversed(refs)))
    assert shard.read_bytes() == first  # the same bytes whatever order the refs came in


def test_a_per_video_tar_that_cannot_be_written_is_a_write_failure(clock_video, tmp_path):
    (tmp_path / "_work" / "videos" / "clock.tar").mkdir(parents=True)  # blocks the final name
    row = ManifestRow(video_id="clock", video=str(clock_video), line=3, captions=None)
    r = process_video(row, str(tmp_path), BuildOptions(asr="none"))
    assert r.clips == 0 and [f.stage for f in r.failures] == ["write"]
    assert r.failures[0].clips_lost == 4 and "clock.tar" in r.failures[0].error
