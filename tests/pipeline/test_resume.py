"""Kill the job at several points, re-run the same command: the result equals an uninterrupted run."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.pipeline.conftest import (
    ROOT,
    build_command,
    run_build,
    write_clock_video,
    write_manifest,
)
from vattclips import storage

ARGS = ("--shard-samples", "2", "--val-fraction", "0.25")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("resume")
    rows = []
    for i in range(4):
        write_clock_video(d / f"c{i}.mp4", seconds=6.4 + 3.2 * (i % 3))
        rows.append({"id": f"c{i}", "video": f"c{i}.mp4"})
    rows.append({"id": "gone", "video": "missing.mp4"})
    manifest = write_manifest(d / "manifest.jsonl", rows)
    ref = d / "reference"
    run_build(manifest, ref, *ARGS)
    return manifest, ref


def _shard_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "shards").glob("*"))}


def _kill_when(manifest: Path, out: Path | str, folder: str, count: int) -> None:
    """Start the build, SIGKILL its whole process group once `count` records are in _work/folder."""
    cmd = build_command(manifest, out, *ARGS, "--asr", "auto")
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    records = storage.join(str(out), "_work", folder)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            if len(storage.list_names(records, ".json")) >= count:
                break
            if proc.poll() is not None:
                pytest.fail(f"the build finished before {count} {folder} were committed")
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.parametrize(("folder", "count"), [("videos", 2), ("shards", 1)])
def test_kill_and_rerun_equals_an_uninterrupted_run(corpus, tmp_path, folder, count):
    manifest, ref = corpus
    out = tmp_path / "out"
    _kill_when(manifest, out, folder, count)
    assert not (out / "dataset.json").exists()
    # whatever is under a final shard name is complete: it reads to the end as a tar
    for p in (out / "shards").glob("*.tar") if (out / "shards").exists() else []:
        import tarfile

        with tarfile.open(p) as t:
            assert t.getmembers()
    run_build(manifest, out, *ARGS)
    want = pd.read_parquet(ref / "index.parquet")
    got = pd.read_parquet(out / "index.parquet")
    pd.testing.assert_frame_equal(want, got)
    assert not got.key.duplicated().any()
    assert _shard_bytes(out) == _shard_bytes(ref)  # byte for byte, not just the same keys
    pd.testing.assert_frame_equal(
        pd.read_parquet(ref / "failures.parquet"), pd.read_parquet(out / "failures.parquet")
    )
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]


def test_kill_and_rerun_on_a_bucket(corpus, gcs_emulator, tmp_path):
    """The same on gs:// (GCS emulator): killed after the first shard, re-run, equal to the
    local uninterrupted run; no temporary or partial object left, no duplicate key."""
    manifest, ref = corpus
    out = f"gs://vatt-test/resume-{tmp_path.name}"
    _kill_when(manifest, out, "shards", 1)
    assert not storage.exists(f"{out}/dataset.json")
    run_build(manifest, out, *ARGS)
    fs, root = storage.fs_for(out)
    fs.invalidate_cache()
    names = sorted(p.removeprefix(root + "/") for p in fs.find(root))
    assert not [n for n in names if ".tmp-" in n]
    shards = {n: storage.read_bytes(f"{out}/{n}") for n in names if n.startswith("shards/")}
    assert {n.removeprefix("shards/"): b for n, b in shards.items()} == _shard_bytes(ref)
    got = pd.read_parquet(io.BytesIO(storage.read_bytes(f"{out}/index.parquet")))
    pd.testing.assert_frame_equal(pd.read_parquet(ref / "index.parquet"), got)
    assert not got.key.duplicated().any()


def test_the_portable_runner_writes_the_same_bytes(corpus, tmp_path):
    """Beam's job API (the path of Flink, Spark and Dataflow), run in-process: the whole build,
    progress and summary included, and every output file equal to the DirectRunner's."""
    manifest, ref = corpus
    out = tmp_path / "out"
    portable = ("--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK")
    res = run_build(manifest, out, *ARGS, *portable)
    assert "videos: 5 in, 4 ok, 1 failed" in res.stdout and "progress: videos" in res.stderr
    assert "beam counters: clips=" in res.stderr  # read from committed values on this runner
    assert _shard_bytes(out) == _shard_bytes(ref)
    for name in ("index.parquet", "failures.parquet", "dataset.json"):
        assert (out / name).read_bytes() == (ref / name).read_bytes(), name


def test_ctrl_c_says_what_is_kept_and_the_same_command_resumes(corpus, tmp_path):
    """SIGINT to the build's whole process group, as a terminal's Ctrl-C: one line (no
    traceback of any worker), exit 130, no process left, and the re-run equals the
    uninterrupted build byte for byte."""
    manifest, ref = corpus
    out = tmp_path / "out"
    proc = subprocess.Popen(
        build_command(manifest, out, *ARGS),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while len(storage.list_names(str(out / "_work" / "videos"), ".json")) < 1:
        assert proc.poll() is None, "the build finished before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted: ") and "run the same command again" in last
    assert str(out) in last
    assert not (out / "dataset.json").exists()
    for _ in range(100):  # the killed workers are gone (reaped) within moments
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("processes of the interrupted build are still running")
    run_build(manifest, out, *ARGS)
    pd.testing.assert_frame_equal(
        pd.read_parquet(ref / "index.parquet"), pd.read_parquet(out / "index.parquet")
    )
    assert _shard_bytes(out) == _shard_bytes(ref)
