"""A source video as a local file: the input itself when local, else a streamed copy.

Every error here is the input's failure (stage `fetch`), transient when a retry may pass.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

from pipeline.errors import StageError, is_transient
from vattclips import storage


@contextlib.contextmanager
def local_copy(uri: str, max_bytes: int, source: str | None = None) -> Iterator[str]:
    """A local path for `uri`: the file itself when local, else a streamed temporary copy.

    Raises StageError("fetch") when it is missing, unreadable, empty, or larger than max_bytes.
    """
    source = source or uri
    try:
        fs, path = storage.fs_for(uri)
        info = fs.info(path)
    except Exception as exc:  # noqa: BLE001 - any storage error is this input's failure
        # fsspec's HTTP filesystem reports a 503 as FileNotFoundError: look at the cause
        if is_transient(exc):
            raise StageError("fetch", f"{source}: cannot read ({_cause(exc)})", True) from exc
        if isinstance(exc, FileNotFoundError):
            raise StageError("fetch", f"{source}: no such file") from exc
        raise StageError("fetch", f"{source}: cannot read ({_cause(exc)})") from exc
    if info.get("type") == "directory":
        raise StageError("fetch", f"{source}: is a directory, not a video file")
    size = int(info.get("size") or 0)
    if size == 0:
        raise StageError("fetch", f"{source}: empty file (0 bytes)")
    if size > max_bytes:
        raise StageError("fetch", f"{source}: {size} bytes, over the limit of {max_bytes}")
    if storage.is_local(uri):
        yield path
        return
    tmpdir = tempfile.mkdtemp(prefix="vatt-fetch-")
    try:
        local = os.path.join(tmpdir, "source")
        try:
            with fs.open(path, "rb") as src, open(local, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 22)
        except Exception as exc:  # noqa: BLE001
            # a download that breaks off is network trouble unless the error says otherwise
            transient = is_transient(exc, default=True)
            raise StageError(
                "fetch", f"{source}: download failed ({_cause(exc)})", transient
            ) from exc
        yield local
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def _cause(exc: BaseException) -> str:
    """`Type: message` of the error, and of its cause when it has one (the HTTP status)."""
    text = f"{type(exc).__name__}: {exc}"
    if exc.__cause__ is not None and str(exc.__cause__) not in text:
        text += f" <- {type(exc.__cause__).__name__}: {exc.__cause__}"
    return text
