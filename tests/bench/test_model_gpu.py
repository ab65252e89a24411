"""`bench/model_gpu.py` as a CPU smoke run: every part runs, writes its JSON, counts FLOPs right,
and needs none of the packages the GPU machine lacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from model import VattModel, get_config
from model.summary import forward_gflops

ROOT = Path(__file__).resolve().parents[2]

# Packages of this project's setup that the GPU machine does not have (its package list is in
# /work/.library/device/KINDS.md): the bench runs with these unimportable, as it will there.
NOT_ON_THE_GPU_MACHINE = (
    "av", "ray", "apache_beam", "webdataset", "gcsfs", "soundfile", "ffmpeg",
    "faster_whisper", "ctranslate2", "pocketsphinx", "moto",
)  # fmt: skip
RUN_WITHOUT = """
import importlib.abc, runpy, sys
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (absent on the GPU machine)")
sys.meta_path.insert(0, Absent())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_cpu_smoke_run_writes_every_result(tmp_path: Path) -> None:
    out = tmp_path / "results"
    without = RUN_WITHOUT.format(blocked=set(NOT_ON_THE_GPU_MACHINE))
    cmd = [sys.executable, "-c", without, str(ROOT / "bench" / "model_gpu.py"), "--device", "cpu"]
    cmd += ["--steps", "1", "--warmup", "0", "--configs", "tiny", "--batches", "2"]
    cmd += ["--drops", "0.5", "--compile-runs", "0", "--budget-s", "600", "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    (train,) = summary["train"]
    assert train["status"] == "ok" and train["samples_per_s"] > 0
    assert train["loss"] > 0 and summary["skipped"] == []
    # forward + backward: about three times the forward FLOPs that model.summary counts
    model = VattModel(get_config("tiny", video_drop_rate=0.5, audio_drop_rate=0.5))
    forward = forward_gflops(model, 0.5) * 1e9 * 2  # per sample -> batch of 2
    assert train["train_flops_per_step"] / forward == pytest.approx(3.0, rel=0.2)
    (evaluated,) = summary["eval"]
    assert evaluated["forward_tflops"] * 1e12 < train["train_flops_per_step"]
    assert summary["gather"]["overhead"] > -1.0  # both paths ran and were timed
    assert summary["profile"]["top_kernels"] and (out / "profile.txt").stat().st_size > 500
    for name in ("train.jsonl", "eval.jsonl", "gather.json"):
        assert (out / name).stat().st_size > 0
    assert "samples/s" in done.stdout  # the table
