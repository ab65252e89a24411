"""Object storage through fsspec URIs: a folder, file://, gs:// (gcsfs), s3:// (s3fs).

Everything the pipeline writes goes through `open_atomic`, so a file appears under its final
name only when complete: on a local filesystem it is written under a temporary name and
renamed; on object stores an object becomes visible only when its upload finishes.
"""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, TypeVar

if os.environ.get("STORAGE_EMULATOR_HOST"):
    # gcsfs probes for gRPC/HNS support on every call unless told not to (60 s against an emulator)
    os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

import fsspec  # noqa: E402
from fsspec.core import url_to_fs  # noqa: E402

from pipeline.errors import StageError, is_transient  # noqa: E402

T = TypeVar("T")
R = TypeVar("R")


def fs_for(uri: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem and the path inside it; gcsfs talks to an emulator anonymously."""
    kwargs = {}
    if uri.startswith(("gs://", "gcs://")) and os.environ.get("STORAGE_EMULATOR_HOST"):
        kwargs["token"] = "anon"
    return url_to_fs(uri, **kwargs)


def is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


def join(uri: str, *parts: str) -> str:
    out = uri.rstrip("/")
    for p in parts:
        out += "/" + p.strip("/")
    return out


def _fresh(uri: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """fs_for, with fsspec's listing cache dropped for the path: other workers write here."""
    fs, path = fs_for(uri)
    fs.invalidate_cache(path)
    return fs, path


def exists(uri: str) -> bool:
    fs, path = _fresh(uri)
    return fs.exists(path)


def read_bytes(uri: str) -> bytes:
    fs, path = fs_for(uri)
    with fs.open(path, "rb") as f:
        return f.read()


def read_range(uri: str, start: int, end: int) -> bytes:
    """Bytes [start, end) of a file: one ranged GET on an object store."""
    fs, path = fs_for(uri)
    data = fs.cat_file(path, start=start, end=end)
    if len(data) != end - start:
        raise EOFError(f"{uri}: {len(data)} bytes at {start}, expected {end - start}")
    return data


def prefetched(items: Iterable[T], fn: Callable[[T], R], depth: int = 8) -> Iterator[tuple[T, R]]:
    """(item, fn(item)) in the order of `items`, with up to `depth` calls running at once.

    For many small reads from an object store, where each costs a round trip: memory holds at
    most `depth` results. An exception of fn(item) is raised when that item's turn comes.
    """
    with ThreadPoolExecutor(max_workers=depth) as pool:
        window: collections.deque[tuple[T, Future]] = collections.deque()
        for item in items:
            window.append((item, pool.submit(fn, item)))
            if len(window) >= depth:
                head, fut = window.popleft()
                yield head, fut.result()
        while window:
            head, fut = window.popleft()
            yield head, fut.result()


def list_names(uri: str, suffix: str = "") -> list[str]:
    """Names (not paths) of the files directly in folder `uri` ending in `suffix`; [] if none."""
    fs, path = _fresh(uri)
    try:
        entries = fs.ls(path, detail=False)
    except FileNotFoundError:
        return []
    names = [e.rstrip("/").rsplit("/", 1)[-1] for e in entries]
    return sorted(n for n in names if n.endswith(suffix) and ".tmp-" not in n)


@contextlib.contextmanager
def open_atomic(uri: str) -> Iterator[IO[bytes]]:
    """Write `uri` so that it exists under its name only once complete (and never half)."""
    fs, path = fs_for(uri)
    if is_local(uri):
        parent = os.path.dirname(path)
        os.makedirs(parent, exist_ok=True)
        tmp = f"{path}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            with open(tmp, "wb") as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return
    # object stores: the upload commits on close(); an exception aborts it (nothing visible)
    f = fs.open(path, "wb")
    try:
        yield f
    except BaseException:
        if hasattr(f, "discard"):
            with contextlib.suppress(Exception):
                f.discard()
        raise
    f.close()


def remove_stale_temporaries(uri: str) -> int:
    """Delete the temporary files a killed run left under a local `uri`; returns how many."""
    if not is_local(uri):
        return 0  # object stores never show an unfinished upload
    _, root = fs_for(uri)
    n = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if ".tmp-" in name:
                os.remove(os.path.join(dirpath, name))
                n += 1
    return n


def write_atomic(uri: str, data: bytes) -> None:
    with open_atomic(uri) as f:
        f.write(data)


def remove(uri: str) -> None:
    """Delete one file (no error when it is already gone)."""
    fs, path = _fresh(uri)
    with contextlib.suppress(FileNotFoundError):
        fs.rm(path)


def remove_many(uris: Iterable[str], batch: int = 1000) -> None:
    """Delete files (gone ones are fine), in batches: object stores delete many per request."""
    pending: list[str] = []

    def flush() -> None:
        fs, _ = fs_for(pending[0])
        paths = [fs_for(u)[1] for u in pending]
        try:
            fs.rm(paths)
        except FileNotFoundError:  # some were gone already: one at a time then
            for u in pending:
                remove(u)
        pending.clear()

    for uri in uris:
        pending.append(uri)
        if len(pending) >= batch:
            flush()
    if pending:
        flush()


@contextlib.contextmanager
def local_copy(uri: str, max_bytes: int, source: str | None = None) -> Iterator[str]:
    """A local path for `uri`: the file itself when local, else a streamed temporary copy.

    Raises StageError("fetch") when it is missing, unreadable, empty, or larger than max_bytes.
    """
    source = source or uri
    try:
        fs, path = fs_for(uri)
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
    if is_local(uri):
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


def read_parquet(uri: str, columns: list[str] | None = None):
    """A Parquet file as a pyarrow Table, read so that no Arrow thread holds Python memory.

    Why not `pq.read_table(fsspec_file)`: Arrow reads a Python file object through its I/O
    thread pool, and a task there can drop the last reference to a buffer of Python bytes
    after the read returned. When that happens while the interpreter exits, the thread cannot
    take the GIL, Python ends it with pthread_exit, and the forced unwind through Arrow's C++
    aborts the process ("terminate called without an active exception", exit 134: seen in ~1
    of 10 builds, which read failures.parquet just before exiting). A local file is opened by
    Arrow itself (its buffers are Arrow's); other URIs are read into memory first and parsed
    from a buffer, whose reads are synchronous. One thread: no pool task outlives the call.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if is_local(uri):
        source = uri.removeprefix("file://")
    else:
        source = pa.BufferReader(read_bytes(uri))
    return pq.ParquetFile(source).read(columns=columns, use_threads=False)
