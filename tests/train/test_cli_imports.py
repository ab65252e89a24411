"""`--help` and argument errors of the training CLIs answer before torch, transformers or Ray
are imported (they took 8-13 s), checked by what is imported, not by a clock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import model
from train.augment import AUGMENT_PRESETS
from train.names import AUGMENT_NAMES, CONFIG_NAMES

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "ray", "webdataset", "model")
PROBE = """
import runpy, sys
HEAVY = sys.argv.pop(1).split(",")
sys.argv = [sys.argv[1], *sys.argv[2:]]
try:
    runpy.run_module(sys.argv[0], run_name="__main__")
except SystemExit as e:
    code = e.code
print("exit", code, "loaded", ",".join(m for m in HEAVY if m in sys.modules))
"""


@pytest.mark.parametrize("module", ["train.pretrain", "train.evaluate"])
@pytest.mark.parametrize(
    ("args", "code"), [(["--help"], 0), ([], 2), (["--data", "x", "--batch-size", "many"], 2)]
)
def test_help_and_argument_errors_load_no_heavy_library(module, args, code):
    res = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(HEAVY), module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert res.stdout.splitlines()[-1] == f"exit {code} loaded ", res.stdout + res.stderr
    if code:
        assert "error:" in res.stderr and "Traceback" not in res.stderr


def test_the_cli_choices_are_the_libraries_names():
    assert CONFIG_NAMES == model.CONFIG_NAMES
    assert AUGMENT_NAMES == tuple(sorted(AUGMENT_PRESETS))
