"""The one tar writer and reader: deterministic bytes, ranges that read back alone, and
WebDataset's member rules for tars written by other tools (folders, case, `__` names)."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from vattclips import storage
from vattclips.tars import (
    SampleTarWriter,
    iter_samples,
    iter_tar,
    read_sample_block,
    split_member,
)


def _samples(n: int) -> list[dict]:
    return [
        {"__key__": f"v_{i:05d}", "json": b'{"clip": %d}' % i, "mp4": bytes([i]) * (700 + i)}
        for i in range(n)
    ]


def _written(samples: list[dict]) -> tuple[bytes, list[tuple[int, int]]]:
    buf = io.BytesIO()
    with SampleTarWriter(buf) as tw:
        ranges = [tw.write(s) for s in samples]
    return buf.getvalue(), ranges


def test_sample_tar_writer_is_deterministic_and_refuses_unsafe_keys() -> None:
    def write() -> bytes:
        buf = io.BytesIO()
        with SampleTarWriter(buf) as tw:
            tw.write({"__key__": "v_00000", "txt": b"hi", "json": b"{}", "mp4": b"\x00" * 10})
        return buf.getvalue()

    assert write() == write()
    with tarfile.open(fileobj=io.BytesIO(write())) as t:
        assert t.getnames() == ["v_00000.json", "v_00000.mp4", "v_00000.txt"]
        assert {m.mtime for m in t.getmembers()} == {0}
    for key in ("a.b", "a/b"):
        with pytest.raises(ValueError, match="must not contain"):
            SampleTarWriter(io.BytesIO()).write({"__key__": key, "txt": b""})


def test_a_sample_is_read_back_alone_from_the_range_its_writer_reported() -> None:
    samples = _samples(5)
    data, ranges = _written(samples)
    for s, (start, end) in zip(samples, ranges):
        assert read_sample_block(data[start:end]) == s
    with pytest.raises(ValueError, match="two samples"):
        read_sample_block(data[ranges[1][0] : ranges[2][1]])
    with pytest.raises(ValueError):
        read_sample_block(data[ranges[1][0] : ranges[1][1] - 512])  # cut short
    with pytest.raises(ValueError, match="no sample"):
        read_sample_block(b"\0" * 1024)


def test_the_reader_gives_back_what_the_writer_wrote(tmp_path: Path) -> None:
    samples = _samples(4)
    data, _ = _written(samples)
    path = tmp_path / "x.tar"
    path.write_bytes(data)
    read = list(iter_samples(str(path)))
    assert [{k: v for k, v in s.items() if k != "__url__"} for s in read] == samples
    assert {s["__url__"] for s in read} == {str(path)}
    assert list(iter_tar(io.BytesIO(data))) == samples  # no __url__ without a URL
    # a compressed tar reads the same
    (tmp_path / "x.tar.gz").write_bytes(gzip.compress(data))
    assert [s["__key__"] for s in iter_samples(str(tmp_path / "x.tar.gz"))] == [
        s["__key__"] for s in samples
    ]


def _tar_of(names: list[str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = len(name)
            tar.addfile(info, io.BytesIO(name.encode()))
        folder = tarfile.TarInfo("a/")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
    return buf.getvalue()


def test_member_names_follow_webdataset_rules() -> None:
    assert split_member("v_00001.mp4") == ("v_00001", "mp4")
    assert split_member("a/b/x.seg.JSON") == ("a/b/x", "seg.json")
    assert split_member("__meta__.json") is None
    assert split_member("dir/README") is None
    data = _tar_of(["a/x.MP4", "a/x.json", "__index__.json", "README", "b/x.txt"])
    read = list(iter_tar(io.BytesIO(data)))
    # folders are part of the key (a/x and b/x are two samples), extensions lower case
    assert [s["__key__"] for s in read] == ["a/x", "b/x"]
    assert set(read[0]) == {"__key__", "mp4", "json"} and read[0]["mp4"] == b"a/x.MP4"


def test_a_broken_tar_yields_the_samples_before_the_break_and_never_half_of_one(
    tmp_path: Path,
) -> None:
    samples = _samples(3)
    data, ranges = _written(samples)
    mp4_data = ranges[2][0] + 1024 + 512  # the last sample's json member, then its mp4 header
    path = tmp_path / "cut.tar"
    path.write_bytes(data[: mp4_data + 100])  # cut inside the mp4's bytes
    got = []
    with pytest.raises(tarfile.ReadError):
        for s in iter_samples(str(path)):
            got.append(s["__key__"])
    assert got == ["v_00000", "v_00001"]
    # Cut inside a member's header, the stream reads as a tar that ends there (tarfile cannot
    # tell the two apart): the last sample comes without that member, and a reader that needs
    # it rejects the sample (train/ counts it as corrupt).
    path.write_bytes(data[: mp4_data - 512 + 100])
    last = list(iter_samples(str(path)))[-1]
    assert last["__key__"] == "v_00002" and "mp4" not in last


def test_tars_on_an_object_store(bucket) -> None:
    prefix, _ = bucket
    uri = f"{prefix}/tars/x.tar"
    data, _ = _written(_samples(2))
    storage.write_atomic(uri, data)
    assert [s["__key__"] for s in iter_samples(uri)] == ["v_00000", "v_00001"]
