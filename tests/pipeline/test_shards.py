"""Shard assignment (pure), atomic writes, deterministic tars."""

from __future__ import annotations

import io
import random
import tarfile

import pytest

from pipeline import storage
from pipeline.shards import assign_shards
from pipeline.tars import SampleTarWriter


def rec(vid: str, clips: int, size: int = 100, split: str = "train") -> dict:
    return {
        "video_id": vid,
        "split": split,
        "clips": clips,
        "bytes": clips * size,
        "spill": f"s/{vid}.tar",
    }


def test_shards_roll_over_on_sample_count_and_cover_every_clip():
    specs = assign_shards(
        [rec("b", 5), rec("a", 3), rec("c", 0), rec("d", 4, split="val")], 4, 1 << 30
    )
    assert [s.name for s in specs] == [
        "shards/train-000000.tar",
        "shards/train-000001.tar",
        "shards/val-000000.tar",
    ]
    assert [s.samples for s in specs] == [4, 4, 4]
    # a (3 clips) then b (5): b continues in the next shard; c has no clip
    parts = [(p.video_id, p.first, p.last) for s in specs for p in s.parts]
    assert parts == [("a", 0, 3), ("b", 0, 1), ("b", 1, 5), ("d", 0, 4)]


def test_shards_roll_over_on_bytes():
    specs = assign_shards([rec("a", 10, size=300)], 1000, 1000)
    assert [s.samples for s in specs] == [3, 3, 3, 1]
    assert all(s.est_bytes <= 1000 for s in specs)


def test_one_sample_larger_than_the_byte_limit_still_gets_a_shard():
    specs = assign_shards([rec("a", 2, size=5000)], 1000, 1000)
    assert [s.samples for s in specs] == [1, 1]


def test_assignment_is_deterministic_whatever_the_record_order():
    rng = random.Random(1)
    recs = [
        rec(f"v{i:03d}", rng.randint(0, 9), rng.randint(50, 500), rng.choice(["train", "val"]))
        for i in range(80)
    ]
    want = [s.to_dict() for s in assign_shards(recs, 7, 2000)]
    for _ in range(5):
        rng.shuffle(recs)
        assert [s.to_dict() for s in assign_shards(recs, 7, 2000)] == want
    total = sum(r["clips"] for r in recs)
    assert sum(s["samples"] for s in want) == total


def test_sample_tar_writer_is_deterministic_and_refuses_unsafe_keys():
    def write() -> bytes:
        buf = io.BytesIO()
        with SampleTarWriter(buf) as tw:
            tw.write({"__key__": "v_00000", "txt": b"hi", "json": b"{}", "mp4": b"\x00" * 10})
        return buf.getvalue()

    assert write() == write()
    with tarfile.open(fileobj=io.BytesIO(write())) as t:
        assert t.getnames() == ["v_00000.json", "v_00000.mp4", "v_00000.txt"]
    with pytest.raises(ValueError, match="must not contain"):
        SampleTarWriter(io.BytesIO()).write({"__key__": "a.b", "txt": b""})


def test_open_atomic_leaves_nothing_under_the_final_name_on_error(tmp_path):
    target = tmp_path / "sub" / "x.bin"
    with pytest.raises(RuntimeError):
        with storage.open_atomic(str(target)) as f:
            f.write(b"partial")
            raise RuntimeError("killed")
    assert not target.exists()
    assert list((tmp_path / "sub").iterdir()) == []
    storage.write_atomic(str(target), b"whole")
    assert target.read_bytes() == b"whole"


def test_stale_temporaries_are_removed(tmp_path):
    (tmp_path / "shards").mkdir()
    (tmp_path / "shards" / "train-000000.tar.tmp-123-abcd").write_bytes(b"half")
    (tmp_path / "shards" / "train-000001.tar").write_bytes(b"whole")
    assert storage.remove_stale_temporaries(str(tmp_path)) == 1
    assert [p.name for p in (tmp_path / "shards").iterdir()] == ["train-000001.tar"]
