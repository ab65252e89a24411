"""WebDataset-layout tars: the one writer and the one reader of both jobs (standard library).

A sample is a dict {"__key__": key, ext: bytes, ...}; in the tar its members `{key}.{ext}`
lie next to each other. The builder writes per-video tars and shards with `SampleTarWriter`
(deterministic bytes); the builder's shard writer fetches one sample back by the byte range
the writer reported (`read_sample_block`); every reader of a whole tar (the shard writer's
tools, the viewers, the trainer, `vattclips.clips`) streams it with `iter_samples`.

Why not webdataset's TarWriter / tariterators: importing webdataset imports torch (~2 s of CPU
in every Beam worker), and the layout is simple.

Member names follow WebDataset's rules, so tars written by other tools read the same: the key
is everything before the first dot of the base name, with the folder in front when there is
one (`a/b/x.mp4` -> key `a/b/x`); extensions are compared in lower case; names that start
with `__` (WebDataset's metadata) and names without a dot are skipped.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from typing import IO, Any

from vattclips import storage

Sample = dict[str, Any]  # {"__key__": str, "__url__": str (when read from a URI), ext: bytes}


class SampleTarWriter:
    """Writes samples ({"__key__": key, ext: bytes, ...}) to a stream, members sorted by ext."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._tar = tarfile.open(fileobj=stream, mode="w|", format=tarfile.USTAR_FORMAT)

    def write(self, sample: Sample) -> tuple[int, int]:
        """Append one sample; returns the byte range [start, end) its members take in the tar
        (headers and padding included), so that a reader can fetch it alone later."""
        key = sample["__key__"]
        if "." in key or "/" in key:
            raise ValueError(f"sample key {key!r} must not contain '.' or '/'")
        start = self._tar.offset
        for ext in sorted(k for k in sample if not k.startswith("__")):
            data = sample[ext]
            info = tarfile.TarInfo(f"{key}.{ext}")
            info.size, info.mtime, info.mode = len(data), 0, 0o444
            info.uname = info.gname = "vatt"
            self._tar.addfile(info, io.BytesIO(data))
        return start, self._tar.offset

    def close(self) -> None:
        self._tar.close()

    def __enter__(self) -> SampleTarWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def split_member(name: str) -> tuple[str, str] | None:
    """(key, ext) of a tar member name by WebDataset's rules; None for a name that is no
    sample member (no dot in its base name, or WebDataset metadata starting with `__`)."""
    base = name.rsplit("/", 1)[-1]
    if "." not in base or base.startswith("__"):
        return None
    key, ext = base.split(".", 1)
    prefix = name[: len(name) - len(base)]
    return prefix + key, ext.lower()


def iter_tar(stream: IO[bytes], url: str | None = None) -> Iterator[Sample]:
    """The samples of a tar stream (plain or compressed), members grouped by key, one sample in
    memory at a time. `url` is set as each sample's `__url__` when given.

    A read error propagates after the samples before it were yielded; the sample being
    assembled when it happened is never yielded half-read. (A tar cut inside a member's header
    reads as a tar that ends there: tarfile's stream reader cannot tell the two apart.)
    """
    current: Sample | None = None
    with tarfile.open(fileobj=stream, mode="r|*") as tar:
        for member in tar:
            if not member.isreg():
                continue
            parts = split_member(member.name)
            if parts is None:
                continue
            key, ext = parts
            if current is not None and current["__key__"] != key:
                yield current
                current = None
            if current is None:
                current = {"__key__": key} if url is None else {"__key__": key, "__url__": url}
            data = tar.extractfile(member)
            current[ext] = data.read() if data is not None else b""
    if current is not None:
        yield current


def iter_samples(uri: str) -> Iterator[Sample]:
    """The samples of the tar at `uri` (any fsspec URI), streamed (see `iter_tar`)."""
    with storage.open_file(uri, "rb") as f:
        yield from iter_tar(f, uri)


def read_sample_block(data: bytes) -> Sample:
    """The sample held by one byte range that `SampleTarWriter.write` reported.

    Raises ValueError when the bytes are not whole tar members of exactly one sample.
    """
    sample: Sample = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for m in tar:
                parts = split_member(m.name) if m.isfile() else None
                if parts is None:
                    raise ValueError(f"unexpected tar member {m.name!r}")
                key, ext = parts
                if sample.setdefault("__key__", key) != key:
                    raise ValueError(f"members of two samples ({sample['__key__']}, {key})")
                sample[ext] = tar.extractfile(m).read()
    except tarfile.TarError as exc:
        raise ValueError(f"not a whole sample ({exc})") from exc
    if "__key__" not in sample:
        raise ValueError("no sample in these bytes")
    return sample
