"""Run storage on any fsspec URI (a folder, gs://, s3://), for our files and for Ray Train's.

Ray Train persists checkpoints through pyarrow filesystems; wrapping the fsspec filesystem in
pyarrow's FSSpecHandler lets one URI scheme (and one set of credentials) serve both.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import fsspec
import pyarrow.fs


@dataclass(frozen=True)
class RayStorage:
    """RunConfig arguments that put the run's folder exactly at the output URI."""

    storage_path: str
    storage_filesystem: pyarrow.fs.FileSystem | None
    name: str


def is_local(uri: str) -> bool:
    """True for plain paths and file:// URIs."""
    return _fs_is_local(fsspec.core.url_to_fs(uri)[0])


def _fs_is_local(fs: fsspec.AbstractFileSystem) -> bool:
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocols or "local" in protocols


def normalize(uri: str) -> str:
    """Absolute local paths (Ray wants them); object-store URIs unchanged, without a trailing /."""
    fs, path = fsspec.core.url_to_fs(uri)
    if _fs_is_local(fs):
        return os.path.abspath(path)
    return uri.rstrip("/")


def join(uri: str, *parts: str) -> str:
    return "/".join([uri.rstrip("/"), *[p.strip("/") for p in parts]])


def ray_storage(output: str) -> RayStorage:
    """Split `output` into Ray's (storage_path, name): the run folder is storage_path/name."""
    output = normalize(output)
    fs, path = fsspec.core.url_to_fs(output)
    parent, name = path.rstrip("/").rsplit("/", 1)
    if _fs_is_local(fs):
        return RayStorage(storage_path=parent or "/", storage_filesystem=None, name=name)
    handler = pyarrow.fs.FSSpecHandler(fs)
    return RayStorage(parent, pyarrow.fs.PyFileSystem(handler), name)


def exists(uri: str) -> bool:
    fs, path = fsspec.core.url_to_fs(uri)
    return fs.exists(path)


def read_bytes(uri: str) -> bytes:
    fs, path = fsspec.core.url_to_fs(uri)
    return fs.cat_file(path)


def check_writable(uri: str) -> None:
    """Write and remove a small probe object under folder `uri`: raises (the store's own
    error: no credentials, no permission, no such bucket) when the run could not be saved."""
    fs, path = fsspec.core.url_to_fs(uri)
    if _fs_is_local(fs):
        fs.makedirs(path, exist_ok=True)  # object stores have no folders to make
    probe = f"{path.rstrip('/')}/.write-probe-{uuid.uuid4().hex[:12]}"
    fs.pipe_file(probe, b"")
    fs.rm_file(probe)


def remove(uri: str) -> None:
    fs, path = fsspec.core.url_to_fs(uri)
    if fs.exists(path):
        fs.rm(path, recursive=True)


def glob(uri_pattern: str) -> list[str]:
    """Matches of a glob, as URIs of the same scheme as the pattern."""
    fs, path = fsspec.core.url_to_fs(uri_pattern)
    found = sorted(fs.glob(path))
    if _fs_is_local(fs):
        return found
    return [fs.unstrip_protocol(p) for p in found]


def upload_dir(local_dir: str, uri: str) -> None:
    """Copy a local folder's files to `uri` (created or overwritten file by file)."""
    fs, path = fsspec.core.url_to_fs(uri)
    for root, _, files in os.walk(local_dir):
        rel = os.path.relpath(root, local_dir)
        target = path if rel == "." else f"{path.rstrip('/')}/{rel}"
        fs.makedirs(target, exist_ok=True)
        for name in files:
            fs.put_file(os.path.join(root, name), f"{target.rstrip('/')}/{name}")


def download_dir(uri: str, local_dir: str) -> None:
    """Copy the files under `uri` into `local_dir`."""
    fs, path = fsspec.core.url_to_fs(uri)
    base = path.rstrip("/")
    for remote in fs.find(base):
        local = os.path.join(local_dir, os.path.relpath(remote, base))
        os.makedirs(os.path.dirname(local), exist_ok=True)
        fs.get_file(remote, local)
