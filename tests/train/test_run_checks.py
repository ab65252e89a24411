"""Settings a run cannot take, refused in one line before training: `--resume` against the
run's own settings, and `--use-gpu` on a local Ray without a GPU."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.train.conftest import pretrain_command
from train.checkpoint import REQUIRED_FILES, STATE_FILE
from train.config import TrainConfig
from train.pretrain import main as pretrain_main
from train.resume import ResumeConflictError, check_resume

ROOT = Path(__file__).resolve().parents[2]


def _trained(**fields) -> dict:
    return TrainConfig(data="/data/demo", output="/runs/a", **fields).to_dict()


def test_resume_refuses_another_model_data_or_optimisation_naming_each():
    before = _trained(config="tiny", batch_size=16, lr=5e-4, overrides={"dropout": 0.0})
    now = TrainConfig(data="/data/other", output="/runs/a", config="bbs", batch_size=16, lr=1e-3)
    with pytest.raises(ResumeConflictError) as err:
        check_resume(now, before)
    text = str(err.value)
    assert "config tiny -> bbs" in text and "data /data/demo -> /data/other" in text
    assert "lr 0.0005 -> 0.001" in text and 'overrides {"dropout": 0.0} -> {}' in text
    assert "\n" not in text
    doubled = TrainConfig(data="/data/demo", output="/runs/a", batch_size=32, lr=5e-4)
    with pytest.raises(ResumeConflictError, match="global batch 16 -> 32"):
        check_resume(doubled, _trained(batch_size=16, lr=5e-4))


def test_resume_applies_and_states_how_the_run_goes_on():
    before = _trained(batch_size=16, num_workers=1, max_steps=900)
    now = TrainConfig(
        data="/data/demo", output="/runs/a", batch_size=8, num_workers=2, max_steps=1800
    )
    changes = check_resume(now, before)
    assert "max_steps 900 -> 1800 (the learning-rate schedule now ends there)" in changes
    assert any(c.startswith("num_workers 1 -> 2") for c in changes)
    assert any(c.startswith("batch_size 16 -> 8") for c in changes)
    assert check_resume(TrainConfig(**before), before) == []
    saved_before_mixtures = {**before, "data": "/data/demo"}  # one root, as a string
    assert check_resume(TrainConfig(**before), saved_before_mixtures) == []


def _fake_run(folder: Path, config: dict) -> None:
    """A run folder whose latest checkpoint says it was trained with `config`."""
    ckpt = folder / "checkpoint_00000002"
    for name in REQUIRED_FILES:
        (ckpt / name).parent.mkdir(parents=True, exist_ok=True)
        (ckpt / name).write_bytes(b"")
    (ckpt / STATE_FILE).write_text(json.dumps({"state": {"step": 2}, "config": config}))


def test_resume_of_a_run_saved_before_newer_fields_takes_their_defaults():
    saved = _trained()
    saved["data"] = saved["data"][0]  # saved before dataset mixtures: one root, a string
    del saved["temporal_jitter"], saved["data_weights"]  # fields added since
    assert check_resume(TrainConfig(data="/data/demo", output="/runs/a"), saved) == []


def test_resume_with_another_config_is_one_error_before_ray(capsys, synthetic_root, tmp_path):
    import ray

    run = tmp_path / "run"
    args = ["--data", str(synthetic_root), "--output", str(run), "--config", "tiny"]
    _fake_run(run, TrainConfig(data=str(synthetic_root), output=str(run)).to_dict())
    assert pretrain_main([*args[:-1], "bbs", "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1 and err[0].startswith("error: --resume: ") and "config tiny -> bbs" in err[0]
    )
    assert not ray.is_initialized()


def test_use_gpu_on_a_local_ray_without_gpus_is_one_error(synthetic_root, tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # no GPU for Ray, whatever the machine
    env.pop("RAY_ADDRESS", None)
    cmd = pretrain_command(synthetic_root, tmp_path / "run", 2, 2, "--use-gpu")
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2, res.stderr[-3000:]
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "--use-gpu" in errors[0] and "0 GPU(s)" in errors[0], errors
    assert "No available node types" not in res.stderr
