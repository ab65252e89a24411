"""Both jobs on a bucket, as users run them: `make shards OUTPUT=gs://...`, `make pretrain` with
`--data gs://... --output gs://...` and `make evaluate` from the bucket, against the GCS emulator
(and the same on `s3://` against a moto server) on loopback. Nothing differs from a local run
but the URIs and the store's environment variables."""

from __future__ import annotations

import io
import json
import os
import subprocess

import pandas as pd
import pytest

from tests.pipeline.conftest import ROOT, write_clock_video, write_manifest
from tests.train.conftest import TEST_MODEL
from vattclips import storage

pytestmark = pytest.mark.slow

COLOURS = ("red", "green", "blue", "yellow", "white", "black")


def _make(target: str, env: dict[str, str], **variables: str) -> subprocess.CompletedProcess:
    cmd = ["make", "--no-print-directory", target, *(f"{k}={v}" for k, v in variables.items())]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"make {target}:\n{(done.stdout + done.stderr)[-4000:]}"
    return done


def test_make_shards_pretrain_evaluate_on_a_bucket(bucket, tmp_path) -> None:
    prefix, bucket_env = bucket
    rows = []
    for i in range(6):  # 9.6 s each: 3 clips of 3.2 s
        write_clock_video(tmp_path / f"v{i}.mp4", seconds=9.6)
        cues = {  # inline, HowTo100M's layout
            "start": [3.2 * c for c in range(3)],
            "end": [3.2 * c + 3.0 for c in range(3)],
            "text": [f"a {COLOURS[(i + c) % 6]} clock" for c in range(3)],
        }
        rows.append({"id": f"v{i}", "video": f"v{i}.mp4", "captions": cues})
    manifest = write_manifest(tmp_path / "manifest.jsonl", rows)
    data = f"{prefix}/e2e-{tmp_path.name}/shards"
    run = f"{prefix}/e2e-{tmp_path.name}/run"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "MAKE"))}
    env.update(bucket_env)

    shards = _make(
        "shards",
        env,
        INPUT=str(manifest),
        OUTPUT=data,
        ARGS="--val-fraction 0.4 --shard-samples 4 --direct_num_workers=2",
    )
    ds = json.loads(storage.read_bytes(f"{data}/dataset.json"))
    assert ds["counts"]["samples"] == 18 and ds["counts"]["videos_failed"] == 0, shards.stdout
    index = pd.read_parquet(io.BytesIO(storage.read_bytes(f"{data}/index.parquet")))
    assert set(index.split) == {"train", "val"}, index.split.value_counts()
    assert data in shards.stdout  # the summary says where the shards are

    settings = " ".join(f"--set {k}={v}" for k, v in TEST_MODEL.items())
    trained = _make(
        "pretrain",
        env,
        OUTPUT=data,
        RUN=run,
        PRETRAIN_ARGS=f"--config tiny --max-steps 4 --batch-size 4 --num-workers 1 "
        f"--cpus-per-worker 1 --loader-workers 0 --checkpoint-every 2 {settings}",
    )
    assert f"last checkpoint: {run}/checkpoint_00000004" in trained.stdout
    assert "AdaptiveReadaheadCache" not in trained.stdout + trained.stderr  # fsspec kept quiet
    fs, root = storage.fs_for(run)
    fs.invalidate_cache()
    names = {p.removeprefix(root + "/") for p in fs.find(root)}
    for step in (2, 4):
        assert f"checkpoint_{step:08d}/model/model.safetensors" in names, sorted(names)
    assert "tensorboard/loss_curves.png" in names

    evaluated = _make("evaluate", env, OUTPUT=data, RUN=run)
    assert "R@1" in evaluated.stdout and "MedR" in evaluated.stdout
    assert "Task was destroyed" not in shards.stderr + trained.stderr + evaluated.stderr
    fs.invalidate_cache()  # this process listed the run before evaluation wrote to it
    assert storage.read_bytes(f"{run}/retrieval_examples.png").startswith(b"\x89PNG")

    # No credential or endpoint is printed, or written anywhere in the dataset or the run.
    secrets = [
        v.encode()
        for k, v in bucket_env.items()
        if any(w in k for w in ("SECRET", "KEY_ID", "HOST", "ENDPOINT"))
    ]
    assert secrets
    logs = "".join(d.stdout + d.stderr for d in (shards, trained, evaluated)).encode()
    assert not any(s in logs for s in secrets)
    fs.invalidate_cache()
    data_fs, data_root = storage.fs_for(data)
    written = fs.find(root) + data_fs.find(data_root)
    assert len(written) > 20
    for path in written:
        if path.endswith((".json", ".yaml", ".txt", ".pt", ".parquet")) or "tfevents" in path:
            blob = fs.cat_file(path)
            assert not any(s in blob for s in secrets), path
