"""`gs://` output through gcsfs against a real GCS API on loopback (in-memory emulator)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pandas as pd

from pipeline import storage
from tests.pipeline.conftest import ROOT, write_clock_video, write_manifest


def test_build_to_gs_and_read_back(gcs_emulator, tmp_path):
    write_clock_video(tmp_path / "a.mp4", seconds=6.4)
    write_clock_video(tmp_path / "b.mp4", seconds=3.2, no_audio=True)
    manifest = write_manifest(
        tmp_path / "m.jsonl",
        [{"id": "a", "video": "a.mp4"}, {"id": "b", "video": "b.mp4"}, {"video": "nope.mp4"}],
    )
    out = "gs://vatt-test/ds1"
    env = dict(os.environ, **gcs_emulator)
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
    assert b"STORAGE_EMULATOR_HOST" not in blob and b"token" not in blob
