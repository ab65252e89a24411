"""`ray job submit` against a local head node started here, as a cluster would be used."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.train.conftest import pretrain_command

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).parent / "ray")


@pytest.fixture(scope="module")
def head_node():
    """`ray start --head` from this venv with a dashboard (job submission needs it); token auth
    as Ray >= 2.59 sets up, so the CLI calls carry RAY_AUTH_MODE=token."""
    port = free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "token"}
    env.pop("RAY_ADDRESS", None)
    temp_dir = tempfile.mkdtemp(prefix="rayt", dir="/tmp")  # short: Ray's socket paths
    head = subprocess.Popen(
        [
            RAY,
            "start",
            "--head",
            "--block",
            "--port=0",
            "--num-cpus=2",
            "--include-dashboard=true",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={port}",
            f"--temp-dir={temp_dir}",
            "--disable-usage-stats",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: stopped below without `ray stop`
    )
    address = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"{address}/api/version", timeout=2)
                break
            except urllib.error.HTTPError:
                break  # it answers (401 without the token): it is up
            except OSError:
                if time.time() > deadline or head.poll() is not None:
                    raise RuntimeError(f"Ray head did not come up at {address}") from None
                time.sleep(1)
        yield address, env
    finally:
        # Only the processes of this head: its process group (ray stop would end every Ray).
        for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 5)):
            try:
                os.killpg(head.pid, sig)
            except ProcessLookupError:
                break
            try:
                head.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
        try:
            os.killpg(head.pid, signal.SIGKILL)  # stragglers of the group
        except ProcessLookupError:
            pass


def test_ray_job_submit_runs_pretraining(head_node, synthetic_root: Path, tmp_path: Path) -> None:
    address, env = head_node
    output = tmp_path / "job-run"
    cmd = [
        *(RAY, "job", "submit", "--address", address, "--working-dir", str(REPO), "--"),
        *pretrain_command(synthetic_root, output, 2, 2),
    ]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=400)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    assert "succeeded" in log
    assert "Connecting to existing Ray cluster" in log  # attached, did not start its own
    assert (output / "checkpoint_00000002" / "model" / "config.json").exists()
