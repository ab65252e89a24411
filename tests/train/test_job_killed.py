"""The whole training job killed (driver, Ray and its workers: a preempted machine) while a
later checkpoint may be half-written, then resubmitted with `--resume`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.train.conftest import pretrain_command, registered_step
from train.checkpoint import checkpoint_name, find_checkpoint, is_complete, read_state

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
MAX_STEPS, EVERY = 100, 5


def _pretrain(root: Path, output: Path, *extra: str) -> list[str]:
    return pretrain_command(
        root, output, MAX_STEPS, EVERY, "--log-every", str(EVERY), "--warmup-steps", "2", *extra
    )


def _kill_everything(proc: subprocess.Popen) -> None:
    """SIGKILL the driver, the local Ray it started and every worker, at once."""
    family = psutil.Process(proc.pid).children(recursive=True)
    os.killpg(proc.pid, signal.SIGKILL)
    for p in family:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            continue
    proc.wait()
    psutil.wait_procs(family, timeout=10)


def _half_write(folder: Path, template: Path, step: int) -> None:
    """What a killed upload leaves: some files, the weights cut short, the optimizer missing."""
    if not folder.exists():
        shutil.copytree(template, folder)
        state = json.loads((folder / "state.json").read_text())
        state["state"]["step"] = step
        (folder / "state.json").write_text(json.dumps(state))
    weights = folder / "model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 3])
    (folder / "optimizer.pt").unlink(missing_ok=True)


def test_whole_job_killed_then_resubmitted_with_resume(synthetic_root: Path, tmp_path: Path):
    output = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    with open(tmp_path / "first.log", "w") as log:
        proc = subprocess.Popen(
            _pretrain(synthetic_root, output),
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 300
            while registered_step(output) is None:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("the first run ended before a checkpoint was registered")
                time.sleep(0.05)
        finally:
            _kill_everything(proc)
    first_log = (tmp_path / "first.log").read_text()
    assert f"step {MAX_STEPS}/{MAX_STEPS}" not in first_log, "killed too late: it had finished"
    registered = registered_step(output)
    assert registered is not None and registered < MAX_STEPS
    # The next checkpoint was being uploaded when the machine went: half of it is there.
    pending = output / checkpoint_name(registered + EVERY)
    _half_write(pending, output / checkpoint_name(registered), registered + EVERY)

    again = subprocess.run(
        _pretrain(synthetic_root, output, "--resume"),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = again.stdout + again.stderr
    assert again.returncode == 0, log[-4000:]
    assert f"resumed at step {registered} " in log, log[-4000:]
    final = find_checkpoint(str(output))
    assert final.endswith(checkpoint_name(MAX_STEPS))
    state = read_state(final)
    assert state.step == MAX_STEPS and state.resumed_at == [registered]
    # The resumed run rewrote the half-written folder whole when it got there (or Ray Train
    # deleted it later as an old checkpoint): never left half-written.
    if pending.exists():
        assert is_complete(str(pending))
        weights = "model/model.safetensors"
        assert (pending / weights).stat().st_size == (Path(final) / weights).stat().st_size

    evaluated = subprocess.run(
        [sys.executable, "-m", "train.evaluate", "--checkpoint", str(output)]
        + ["--data", str(synthetic_root), "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert json.loads(evaluated.stdout)["unreadable"] == {"clips": 0, "shards": 0}
