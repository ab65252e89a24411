"""The one storage module of both jobs, on a local folder and on a real object-store API (the
GCS emulator, moto's S3): names, atomic writes, listings, removal of a file vs a tree."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from vattclips import storage

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("uri", "local"),
    [
        ("/data/ds", True),
        ("data/ds", True),
        ("file:///data/ds", True),
        ("local:///data/ds", True),
        ("gs://bucket/ds", False),
        ("s3://bucket/ds", False),
        ("memory://ds", False),
        ("simplecache::gs://bucket/ds", False),
    ],
)
def test_is_local_is_decided_from_the_uri(uri: str, local: bool) -> None:
    assert storage.is_local(uri) is local


def test_join_and_normalize() -> None:
    assert storage.join("gs://b/ds/", "/shards/", "x.tar") == "gs://b/ds/shards/x.tar"
    assert storage.join("ds") == "ds"
    assert storage.normalize("gs://b/ds/") == "gs://b/ds"
    assert storage.normalize("file:///tmp/x/../y") == "/tmp/y"
    assert storage.normalize("rel") == os.path.abspath("rel")


def _tree(root: str) -> None:
    storage.write_atomic(storage.join(root, "a.json"), b"{}")
    storage.write_atomic(storage.join(root, "sub", "b.tar"), b"b" * 10)
    storage.write_atomic(storage.join(root, "sub", "c.tar"), b"c" * 10)


def _check_store(root: str) -> None:
    _tree(root)
    assert storage.list_names(storage.join(root, "sub"), ".tar") == ["b.tar", "c.tar"]
    assert storage.list_names(storage.join(root, "missing")) == []
    assert storage.read_bytes(storage.join(root, "a.json")) == b"{}"
    assert storage.read_range(storage.join(root, "sub", "b.tar"), 2, 5) == b"bbb"
    with pytest.raises(EOFError, match="expected 5"):
        storage.read_range(storage.join(root, "sub", "b.tar"), 8, 13)
    found = storage.glob(storage.join(root, "sub", "*.tar"))
    assert [u.rsplit("/", 1)[-1] for u in found] == ["b.tar", "c.tar"]
    assert all(u.startswith(root.split("://")[0]) for u in found)  # same scheme as asked

    # a write that fails leaves nothing under the name
    with pytest.raises(RuntimeError), storage.open_atomic(storage.join(root, "half.bin")) as f:
        f.write(b"half")
        raise RuntimeError("killed")
    assert not storage.exists(storage.join(root, "half.bin"))

    # remove_file: one file, quietly when gone; remove_tree: a folder and all under it
    storage.remove_file(storage.join(root, "sub", "b.tar"))
    storage.remove_file(storage.join(root, "sub", "b.tar"))
    assert storage.list_names(storage.join(root, "sub")) == ["c.tar"]
    storage.remove_many([storage.join(root, "sub", "c.tar"), storage.join(root, "gone")])
    assert storage.list_names(storage.join(root, "sub")) == []
    _tree(root)
    storage.remove_tree(root)
    assert not storage.exists(storage.join(root, "a.json"))
    assert storage.list_names(storage.join(root, "sub")) == []
    storage.remove_tree(root)  # nothing there: no error


def test_a_local_folder(tmp_path: Path) -> None:
    root = str(tmp_path / "ds")
    _check_store(root)
    _tree(root)
    (tmp_path / "ds" / "sub" / f"d.tar{storage.TMP_MARK}123-abc").write_bytes(b"")
    assert storage.list_names(storage.join(root, "sub")) == ["b.tar", "c.tar"]
    assert storage.remove_stale_temporaries(root) == 1


def test_an_object_store(bucket) -> None:
    prefix, _ = bucket
    _check_store(f"{prefix}/storage-{uuid.uuid4().hex[:8]}")


def test_upload_download_and_check_writable(bucket, tmp_path: Path) -> None:
    prefix, _ = bucket
    root = f"{prefix}/dirs-{uuid.uuid4().hex[:8]}"
    (tmp_path / "up" / "x").mkdir(parents=True)
    (tmp_path / "up" / "x" / "f.txt").write_text("hello")
    (tmp_path / "up" / "g.txt").write_text("world")
    storage.check_writable(root)
    storage.upload_dir(str(tmp_path / "up"), root)
    storage.download_dir(root, str(tmp_path / "down"))
    assert (tmp_path / "down" / "x" / "f.txt").read_text() == "hello"
    assert (tmp_path / "down" / "g.txt").read_text() == "world"
    with storage.open_file(storage.join(root, "g.txt"), "rb") as f:
        assert f.read() == b"world"


def test_the_emulator_is_reached_without_google_credentials(gcs_emulator, tmp_path: Path) -> None:
    # A process with no Google credentials at all (no ADC file, no metadata server) reads and
    # writes the emulator: the anonymous token is this module's, not the caller's.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "GCE_"))}
    env.update(gcs_emulator, GOOGLE_APPLICATION_CREDENTIALS=str(tmp_path / "none.json"))
    env["NO_GCE_CHECK"] = "True"
    uri = f"gs://vatt-test/anon-{uuid.uuid4().hex[:8]}/x.bin"
    code = (
        "import sys; from vattclips import storage; "
        "storage.write_atomic(sys.argv[1], b'ok'); print(storage.read_bytes(sys.argv[1]).decode())"
    )
    cmd = [sys.executable, "-c", code, uri]
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "ok"
