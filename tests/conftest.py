"""Fixtures shared by every package's tests: a real GCS API on loopback (in-memory emulator),
an S3 one (moto), and the small synthetic datasets of tests/train/shardgen.py."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def environ(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """Set `env` in this process for the block, then put back what was there."""
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def gcs_emulator():
    """An in-memory GCS emulator with bucket `vatt-test`; yields the env a subprocess needs.

    The variables are also set in this process (gcsfs reads them at use), and removed after.
    """
    from gcp_storage_emulator.server import create_server

    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket="vatt-test")
    server.start()
    env = {
        "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{port}",
        "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
    }
    try:
        with environ(env):
            yield env
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_server():
    """A moto S3 server on loopback with bucket `vatt-test`; yields the env a subprocess needs."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "test-key-id",
        "AWS_SECRET_ACCESS_KEY": "test-secret-never-written",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    try:
        with environ(env):
            import s3fs

            s3fs.S3FileSystem().mkdir("vatt-test")
            yield env
    finally:
        server.stop()


@pytest.fixture(params=["gs", "s3"])
def bucket(request):
    """(URI prefix of an empty-ish bucket, env for subprocesses) for each object store."""
    if request.param == "gs":
        env = request.getfixturevalue("gcs_emulator")
    else:
        env = request.getfixturevalue("s3_server")
    return f"{request.param}://vatt-test", env


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """vatt-clips/1, written by webdataset's own TarWriter (shardgen.SMALL)."""
    from tests.train.shardgen import SMALL, write_dataset

    return write_dataset(tmp_path_factory.mktemp("shards"), SMALL)


@pytest.fixture(scope="session")
def labelled_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """vatt-clips/2: the colour planted as a single label (8 classes), audio-only samples."""
    from tests.train.shardgen import LABELLED, write_dataset

    return write_dataset(tmp_path_factory.mktemp("labelled"), LABELLED)
