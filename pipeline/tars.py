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

    def write(self, sample: dict) -> None:
        key = sample["__key__"]
        if "." in key or "/" in key:
            raise ValueError(f"sample key {key!r} must not contain '.' or '/'")
        for ext in sorted(k for k in sample if not k.startswith("__")):
            data = sample[ext]
            info = tarfile.TarInfo(f"{key}.{ext}")
            info.size, info.mtime, info.mode = len(data), 0, 0o444
            info.uname = info.gname = "vatt"
            self._tar.addfile(info, io.BytesIO(data))

    def close(self) -> None:
        self._tar.close()

    def __enter__(self) -> SampleTarWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
