"""Storage through fsspec URIs: a folder, file://, gs:// (gcsfs), s3:// (s3fs), for both jobs.

Every read and write of a dataset root (the builder's shards and records, the trainer's shard
streams, checkpoints and results) goes through here, so that one set of rules holds on both
sides of the data contract:

- credentials are the filesystem's own (gcsfs, s3fs read the environment); against a GCS
  emulator (`STORAGE_EMULATOR_HOST`) gcsfs talks anonymously and skips its gRPC probe;
- a file appears under its final name only when complete (`open_atomic`): on a local
  filesystem it is written under a temporary name and renamed; on object stores an object
  becomes visible only when its upload finishes;
- a listing is never stale (fsspec caches them; other workers write here).
"""

from __future__ import annotations

import collections
import contextlib
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any, TypeVar

if os.environ.get("STORAGE_EMULATOR_HOST"):
    # gcsfs probes for gRPC/HNS support on every call unless told not to (60 s against an emulator)
    os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

import fsspec  # noqa: E402
from fsspec.core import url_to_fs  # noqa: E402
from fsspec.utils import get_protocol  # noqa: E402

T = TypeVar("T")
R = TypeVar("R")

TMP_MARK = ".tmp-"  # in the names of files being written (never listed, removed on resume)


def _options(uri: str) -> dict[str, Any]:
    # An emulator has no credentials to check; gcsfs would otherwise look for Google ones.
    if uri.startswith(("gs://", "gcs://")) and os.environ.get("STORAGE_EMULATOR_HOST"):
        return {"token": "anon"}
    return {}


def fs_for(uri: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem of `uri` and the path inside it."""
    return url_to_fs(uri, **_options(uri))


def open_file(uri: str, mode: str = "rb", **kwargs: Any) -> fsspec.core.OpenFile:
    """`fsspec.open` with this module's filesystem options (use as a context manager);
    `kwargs` as fsspec's (compression="infer", ...)."""
    return fsspec.open(uri, mode, **_options(uri), **kwargs)


def is_local(uri: str) -> bool:
    """True for plain paths and file:// (local://) URIs. Decided from the URI alone: no
    filesystem is created (an object store's would look for credentials)."""
    return get_protocol(uri) in ("file", "local")


def join(uri: str, *parts: str) -> str:
    """`uri` and the relative `parts`, joined by single slashes."""
    return "/".join([uri.rstrip("/"), *(p.strip("/") for p in parts)])


def normalize(uri: str) -> str:
    """An absolute local path (Ray wants them) for a local URI; an object-store URI unchanged,
    without a trailing /."""
    if is_local(uri):
        return os.path.abspath(fs_for(uri)[1])
    return uri.rstrip("/")


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
    return fs.cat_file(path)


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
    """Names (not paths) of the files directly in folder `uri` ending in `suffix`, sorted; []
    when the folder does not exist. Files being written (temporary names) are not listed."""
    fs, path = _fresh(uri)
    try:
        entries = fs.ls(path, detail=False)
    except FileNotFoundError:
        return []
    names = [e.rstrip("/").rsplit("/", 1)[-1] for e in entries]
    return sorted(n for n in names if n.endswith(suffix) and TMP_MARK not in n)


def glob(uri_pattern: str) -> list[str]:
    """Matches of a glob, sorted, as URIs of the same scheme as the pattern (local: paths)."""
    fs, path = fs_for(uri_pattern)
    found = sorted(fs.glob(path))
    if is_local(uri_pattern):
        return found
    return [fs.unstrip_protocol(p) for p in found]


@contextlib.contextmanager
def open_atomic(uri: str) -> Iterator[IO[bytes]]:
    """Write `uri` so that it exists under its name only once complete (and never half)."""
    fs, path = fs_for(uri)
    if is_local(uri):
        parent = os.path.dirname(path)
        os.makedirs(parent, exist_ok=True)
        tmp = f"{path}{TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}"
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
                f.closed = True  # discarded: closing it later (on collection) must not upload
        raise
    f.close()


def write_atomic(uri: str, data: bytes) -> None:
    with open_atomic(uri) as f:
        f.write(data)


def remove_stale_temporaries(uri: str) -> int:
    """Delete the temporary files a killed run left under a local `uri`; returns how many."""
    if not is_local(uri):
        return 0  # object stores never show an unfinished upload
    _, root = fs_for(uri)
    n = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if TMP_MARK in name:
                os.remove(os.path.join(dirpath, name))
                n += 1
    return n


def remove_file(uri: str) -> None:
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
                remove_file(u)
        pending.clear()

    for uri in uris:
        pending.append(uri)
        if len(pending) >= batch:
            flush()
    if pending:
        flush()


def remove_tree(uri: str) -> None:
    """Delete a folder and everything under it, or a file (nothing when it does not exist)."""
    fs, path = _fresh(uri)
    if fs.exists(path):
        fs.rm(path, recursive=True)


def check_writable(uri: str) -> None:
    """Write and remove a small probe object under folder `uri`: raises (the store's own
    error: no credentials, no permission, no such bucket) when nothing could be saved there."""
    fs, path = fs_for(uri)
    if is_local(uri):
        fs.makedirs(path, exist_ok=True)  # object stores have no folders to make
    probe = f"{path.rstrip('/')}/.write-probe-{uuid.uuid4().hex[:12]}"
    fs.pipe_file(probe, b"")
    fs.rm_file(probe)


def upload_dir(local_dir: str, uri: str) -> None:
    """Copy a local folder's files to `uri` (created or overwritten file by file)."""
    fs, path = fs_for(uri)
    for root, _, files in os.walk(local_dir):
        rel = os.path.relpath(root, local_dir)
        target = path if rel == "." else f"{path.rstrip('/')}/{rel}"
        fs.makedirs(target, exist_ok=True)
        for name in files:
            fs.put_file(os.path.join(root, name), f"{target.rstrip('/')}/{name}")


def download_dir(uri: str, local_dir: str) -> None:
    """Copy the files under `uri` into `local_dir`."""
    fs, path = fs_for(uri)
    base = path.rstrip("/")
    for remote in fs.find(base):
        local = os.path.join(local_dir, os.path.relpath(remote, base))
        os.makedirs(os.path.dirname(local), exist_ok=True)
        fs.get_file(remote, local)


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
        source = fs_for(uri)[1]
    else:
        source = pa.BufferReader(read_bytes(uri))
    return pq.ParquetFile(source).read(columns=columns, use_threads=False)
