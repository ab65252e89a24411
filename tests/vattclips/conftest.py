"""Real pipeline output for the format package's tests: a build with the real Beam pipeline of
the clock videos of tests/pipeline, whose every frame and audio block tells its source time.
(The synthetic shards, written by webdataset's own TarWriter, are tests/conftest.py's.)"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from tests.pipeline.conftest import run_build, write_clock_video, write_manifest

VTT = "WEBVTT\n\n" + "".join(
    f"00:00:{1.6 * k:06.3f} --> 00:00:{1.6 * (k + 1):06.3f}\nstep {k} words\n\n" for k in range(8)
)


def _tone_wav(path: Path, seconds: float, hz: float, rate: int = 44100) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    pcm = (0.5 * np.sin(2 * np.pi * hz * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


@pytest.fixture(scope="session")
def built_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real pipeline output (vatt-clips/2, labelled): `clock` (12.8 s, captions every 1.6 s:
    4 clips), `silent` (no audio track: 1 clip), `tone` (a wav: 2 audio-only clips); the
    clock's clips in train, the others in val (the manifest's split column)."""
    d = tmp_path_factory.mktemp("built")
    (d / "clock.vtt").write_text(VTT)
    write_clock_video(d / "clock.mp4")
    write_clock_video(d / "silent.mp4", seconds=4.0, no_audio=True)
    _tone_wav(d / "tone.wav", 7.0, 660.0)
    rows = [
        {
            "id": "clock",
            "video": "clock.mp4",
            "captions": "clock.vtt",
            "label": "tick",
            "split": "train",
        },
        {"id": "silent", "video": "silent.mp4", "label": "hush", "split": "val"},
        {"id": "tone", "video": "tone.wav", "label": "tick", "split": "val"},
    ]
    flags = ["--asr", "none", "--allow-audio-only", "--shard-samples", "2"]
    run_build(
        write_manifest(d / "manifest.jsonl", rows),
        d / "out",
        *flags,
        "--direct_running_mode=in_memory",
    )
    return d / "out"
