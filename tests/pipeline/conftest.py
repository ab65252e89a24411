"""Shared fixtures: generated videos whose every frame and audio block tells its own time."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from pipeline.synth.media import write_frames_video

ROOT = Path(__file__).resolve().parents[2]

# A "clock" video: the picture's grey level and the audio tone's pitch both step every 0.8 s,
# so any decoded frame or audio block says which moment of the source it came from.
STEP = 0.8
N_STEPS = 16  # 12.8 s


def level_at(t: float) -> int:
    return 20 + 14 * int(t // STEP)


def tone_at(t: float) -> float:
    return 300.0 + 150.0 * int(t // STEP)


def write_clock_video(path: Path, seconds: float = N_STEPS * STEP, fps: float = 25.0, **kw) -> Path:
    sr = kw.pop("sample_rate", 44100)
    size = kw.pop("size", (160, 120))
    n = int(round(seconds * fps))
    frames = (np.full((size[1], size[0], 3), level_at(i / fps), dtype=np.uint8) for i in range(n))
    t = np.arange(int(seconds * sr)) / sr
    freq = np.array([tone_at(x) for x in t[:: sr // 100]]).repeat(sr // 100)[: len(t)]
    phase = 2 * np.pi * np.cumsum(freq) / sr
    audio = (0.5 * np.sin(phase)).astype(np.float32)
    if kw.pop("no_audio", False):
        audio = None
    return write_frames_video(path, frames, fps, size, audio=audio, sample_rate=sr, **kw)


def decode_mp4(data: bytes) -> list[np.ndarray]:
    """Luma planes of every frame of an mp4 member."""
    with av.open(io.BytesIO(data)) as c:
        return [f.to_ndarray(format="gray") for f in c.decode(video=0)]


def decode_flac(data: bytes) -> tuple[np.ndarray, int]:
    with av.open(io.BytesIO(data)) as c:
        rate = c.streams.audio[0].sample_rate
        pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(audio=0)])
    return pcm.astype(np.float32) / 32768.0, rate


def dominant_hz(x: np.ndarray, rate: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec) * rate / len(x))


def build_command(manifest: Path, output: Path | str, *extra: str) -> list[str]:
    """`python -m pipeline build` as users run it (the real Beam DirectRunner, 2 workers)."""
    return [
        sys.executable,
        "-m",
        "pipeline",
        "build",
        "--input",
        str(manifest),
        "--output",
        str(output),
        "--progress-every",
        "1",
        "--direct_num_workers=2",
        *extra,
    ]


def run_build(
    manifest: Path, output: Path | str, *extra: str, check: bool = True
) -> subprocess.CompletedProcess:
    res = subprocess.run(
        build_command(manifest, output, *extra),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check and res.returncode != 0:
        raise AssertionError(
            f"build failed ({res.returncode}):\n{res.stdout}\n{res.stderr[-4000:]}"
        )
    return res


def write_manifest(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="session")
def clock_video(tmp_path_factory) -> Path:
    return write_clock_video(tmp_path_factory.mktemp("clock") / "clock.mp4")
