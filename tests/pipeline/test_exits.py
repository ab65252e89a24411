"""How `python -m pipeline build` ends: bad input is a one-line error before anything is
written, a good build exits 0 every time, and clips encode to the same bytes in any process."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipeline.synth import media as ms
from tests.pipeline.conftest import ROOT, run_build, write_clock_video, write_manifest


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp("small")
    write_clock_video(d / "a.mp4", seconds=6.4)
    write_clock_video(d / "b.mp4", seconds=6.4, size=(342, 256))
    rows = [{"id": "a", "video": "a.mp4"}, {"id": "b", "video": "b.mp4"}, {"video": "gone.mp4"}]
    return write_manifest(d / "manifest.jsonl", rows)


def _one_error_line(res: subprocess.CompletedProcess) -> str:
    assert res.returncode == 2, res.stderr[-2000:]
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert " WARNING " not in res.stderr, res.stderr[-2000:]  # no per-row warnings first
    return errors[0]


def test_a_binary_manifest_is_one_error_and_nothing_is_written(tmp_path):
    manifest = tmp_path / "videos.jsonl"
    manifest.write_bytes(bytes(range(256)) * 40)
    out = tmp_path / "out"
    line = _one_error_line(run_build(manifest, out, "--asr", "none", check=False))
    assert "videos.jsonl" in line and "none of its" in line and "usable" in line
    assert not out.exists()
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    assert "has no rows" in _one_error_line(run_build(empty, out, "--asr", "none", check=False))
    assert not out.exists()


def test_an_output_that_is_a_file_is_named_as_one(small, tmp_path):
    target = tmp_path / "dataset.tar"
    target.write_bytes(b"not a folder")
    line = _one_error_line(run_build(small, target, "--asr", "none", check=False))
    assert "dataset.tar is a file" in line
    assert target.read_bytes() == b"not a folder"


def test_repeated_small_builds_all_exit_zero(small, tmp_path):
    """Builds used to abort at exit in ~1 of 5 runs ("terminate called without an active
    exception", 134): an Arrow I/O thread released Python memory while the interpreter ended."""
    for i in range(3):
        res = run_build(small, tmp_path / f"out{i}", "--asr", "none", check=False)
        assert res.returncode == 0 and "terminate called" not in res.stderr, res.stderr[-2000:]
        assert "clips: 4 " in res.stdout
    # the read behind the abort, alone: 20 processes reading failures.parquet, then exiting
    code = (
        "import sys\nfrom pipeline.viewers.report import text_summary\n"
        "sys.stdout.write(text_summary(sys.argv[1]))\n"
    )
    for _ in range(20):
        res = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / "out0")],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert res.returncode == 0 and "failed at fetch: 1" in res.stdout, res.stderr[-2000:]


CUT = """
import hashlib, sys
import numpy as np
from pipeline.clips import ClipSpec, plan_windows
from pipeline.decode import EncodeOptions, cut_clips, encode_mp4
from pipeline.probe import probe
rng = np.random.default_rng(0)
for _ in range(int(sys.argv[2])):  # other work first: another size, other content
    other = rng.integers(0, 255, 400 * 300 * 3 // 2, dtype=np.uint8).tobytes()
    encode_mp4([other] * 8, 400, 300, 10.0, EncodeOptions())
p, spec = probe(sys.argv[1], sys.argv[1]), ClipSpec()
for clip in cut_clips(sys.argv[1], sys.argv[1], p, plan_windows(p.duration, spec), spec):
    print(hashlib.sha1(clip.mp4).hexdigest())
"""


def test_clips_encode_to_the_same_bytes_whatever_the_process_did_before(tmp_path):
    """libx264 read heap memory it never wrote: the first clip after other work differed."""
    video = ms.synth_video(tmp_path / "v.mp4", 6.4, width=342, height=256)
    runs = [
        subprocess.run(
            [sys.executable, "-c", CUT, str(video), str(n)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        for n in (0, 2)
    ]
    assert len(runs[0]) == 2 and runs[0] == runs[1]
