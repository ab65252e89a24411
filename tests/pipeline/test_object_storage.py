"""`gs://` (gcsfs, GCS emulator) and `s3://` (s3fs, moto server) outputs, on loopback."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pandas as pd

from tests.pipeline.conftest import ROOT, run_build, write_clock_video, write_manifest
from vattclips import storage


def test_build_to_object_storage_and_read_back(bucket, tmp_path):
    prefix, env_vars = bucket
    write_clock_video(tmp_path / "a.mp4", seconds=6.4)
    write_clock_video(tmp_path / "b.mp4", seconds=3.2, no_audio=True)
    manifest = write_manifest(
        tmp_path / "m.jsonl",
        [{"id": "a", "video": "a.mp4"}, {"id": "b", "video": "b.mp4"}, {"video": "nope.mp4"}],
    )
    out = f"{prefix}/ds-{tmp_path.name}"
    env = dict(os.environ, **env_vars)
    cmd = [sys.executable, "-m", "pipeline", "build", "--input", str(manifest), "--output", out]
    res = subprocess.run(
        [*cmd, "--direct_num_workers=2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    fs, root = storage.fs_for(out)
    names = {p.removeprefix(root + "/") for p in fs.find(root)}
    assert {"dataset.json", "index.parquet", "failures.parquet"} <= names
    assert not [n for n in names if ".tmp-" in n or n.endswith(".tar") and n.startswith("_work")]
    ds = json.loads(storage.read_bytes(f"{out}/dataset.json"))
    assert ds["counts"]["samples"] == 3 and ds["counts"]["videos_failed"] == 1
    index = pd.read_parquet(io.BytesIO(storage.read_bytes(f"{out}/index.parquet")))
    assert sorted(index.key) == ["a_00000", "a_00001", "b_00000"]
    # nothing of the environment's credentials or emulator settings is written into outputs
    blob = storage.read_bytes(f"{out}/dataset.json") + storage.read_bytes(
        f"{out}/_work/options.json"
    )
    for name, value in env_vars.items():
        if any(w in name for w in ("SECRET", "KEY_ID", "HOST", "ENDPOINT")):
            assert value.encode() not in blob, name
    assert b"token" not in blob
    # and the job's own output (logs, summary) never prints a credential
    assert "test-secret-never-written" not in res.stdout + res.stderr


def test_missing_bucket_credentials_is_a_one_line_error(s3_server, tmp_path):
    manifest = write_manifest(tmp_path / "m.jsonl", [{"id": "a", "video": "a.mp4"}])
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=s3_server["AWS_ENDPOINT_URL"],
        AWS_EC2_METADATA_DISABLED="true",  # never ask a metadata server off this machine
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
    )
    cmd = [sys.executable, "-m", "pipeline", "build", "--input", str(manifest)]
    res = subprocess.run(
        [*cmd, "--output", "s3://vatt-test/nocreds"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2
    last = res.stderr.strip().splitlines()[-1]
    assert (
        last.startswith("error: cannot write to s3://vatt-test/nocreds") and "Credentials" in last
    )
    assert "Traceback" not in res.stderr


def test_unwritable_local_output_is_a_one_line_error(tmp_path):
    manifest = write_manifest(tmp_path / "m.jsonl", [{"id": "a", "video": "a.mp4"}])
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    res = run_build(manifest, blocker / "out", check=False)
    assert res.returncode == 2 and "cannot write to" in res.stderr and "Traceback" not in res.stderr
