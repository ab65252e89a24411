"""transformers' Auto classes: a saved VATT folder loads with AutoConfig/AutoModel once `model`
is imported, and, through the `auto_map` and source files saved beside the weights, in a process
that never imports this package (as from the Hugging Face Hub, with trust_remote_code)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModel

from model import VattModel, get_config
from tests.model.test_model import inputs

ROOT = Path(__file__).resolve().parents[2]

REMOTE = """
import sys, torch
from transformers import AutoModel
model = AutoModel.from_pretrained(sys.argv[1], trust_remote_code=True).eval()
assert "model" not in sys.modules, "loaded this project's package, not the folder's code"
with torch.no_grad():
    out = model(**torch.load(sys.argv[2]))
torch.save({k: v for k, v in out.items()}, sys.argv[3])
print(type(model).__module__)
"""


def test_saved_folders_load_through_the_auto_classes(tmp_path):
    cfg = get_config("tiny", video_frames=8, video_size=64, audio_samples=40 * 128)
    torch.manual_seed(0)
    saved = VattModel(cfg).eval()
    folder = tmp_path / "vatt"
    saved.save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "vatt"
    assert config["auto_map"] == {"AutoConfig": "config.VattConfig", "AutoModel": "vatt.VattModel"}
    assert {
        "config.py",
        "vatt.py",
        "heads.py",
        "embeddings.py",
        "patches.py",
        "transformer.py",
    } <= set(os.listdir(folder))
    x = inputs(cfg, batch=2)
    with torch.no_grad():
        want = saved(**x)

    assert AutoConfig.from_pretrained(folder).video_size == 64
    loaded = AutoModel.from_pretrained(folder).eval()
    assert type(loaded) is VattModel
    with torch.no_grad():
        got = loaded(**x)
    assert all(torch.equal(want[k], got[k]) for k in want)

    torch.save(x, tmp_path / "inputs.pt")
    env = {**os.environ, "HF_MODULES_CACHE": str(tmp_path / "modules"), "HF_HUB_OFFLINE": "1"}
    res = subprocess.run(
        [sys.executable, "-c", REMOTE, str(folder), str(tmp_path / "inputs.pt"),
         str(tmp_path / "out.pt")],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip().startswith("transformers_modules.")
    remote = torch.load(tmp_path / "out.pt")
    assert all(torch.equal(want[k], remote[k]) for k in want)
