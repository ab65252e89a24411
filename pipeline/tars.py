"""WebDataset-layout tar writing with the standard library (deterministic bytes).

webdataset's TarWriter would do, but importing webdataset imports torch (~2 s of CPU in every
Beam worker); the layout is simple: members `{key}.{ext}`, one sample's members together.
"""

from __future__ import annotations

import io
import tarfile
from typing import IO


class SampleTarWriter:
    """Writes samples ({"__key__": key, ext: bytes, ...}) to a stream, members sorted by ext."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._tar = tarfile.open(fileobj=stream, mode="w|", format=tarfile.USTAR_FORMAT)

    def write(self, sample: dict) -> tuple[int, int]:
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

    def __exit__(self, *exc) -> None:
        self.close()


def read_sample_block(data: bytes) -> dict:
    """The sample held by one byte range that `SampleTarWriter.write` reported.

    Raises ValueError when the bytes are not whole tar members of exactly one sample.
    """
    sample: dict = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for m in tar:
                if not m.isfile() or "." not in m.name:
                    raise ValueError(f"unexpected tar member {m.name!r}")
                key, ext = m.name.split(".", 1)
                if sample.setdefault("__key__", key) != key:
                    raise ValueError(f"members of two samples ({sample['__key__']}, {key})")
                sample[ext] = tar.extractfile(m).read()
    except tarfile.TarError as exc:
        raise ValueError(f"not a whole sample ({exc})") from exc
    if "__key__" not in sample:
        raise ValueError("no sample in these bytes")
    return sample
