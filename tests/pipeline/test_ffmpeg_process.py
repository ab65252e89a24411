"""The ffmpeg child process on its own: failures said in one line, timeouts, passed pipes."""

from __future__ import annotations

import os
import signal

import pytest

from pipeline.ffmpeg_process import FfmpegProcess


def test_a_failing_ffmpeg_says_why_from_its_stderr(tmp_path):
    missing = f"file:{tmp_path / 'missing.mp4'}"
    with FfmpegProcess(["ffmpeg", "-nostdin", "-hide_banner", "-i", missing], 60.0) as proc:
        proc.finish()
    assert proc.returncode not in (0, None) and not proc.timed_out
    why = proc.failure()
    assert why.startswith("ffmpeg failed (") and "missing.mp4" in why


def test_a_child_past_its_deadline_is_killed_and_reported(tmp_path):
    endless = ["ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi", "-i",
               "anullsrc", "-f", "s16le", "pipe:1"]  # fmt: skip
    with FfmpegProcess(endless, 0.5) as proc:
        proc.finish()  # returns once the timer has killed it
    assert proc.timed_out and proc.failure() == "ffmpeg timed out after 0s"
    assert not proc.stopped_from_outside


def test_passed_pipe_ends_are_closed_here_and_the_reader_sees_the_end(tmp_path):
    r, w = os.pipe()
    cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
           "sine=duration=0.5:sample_rate=8000", "-f", "s16le", f"pipe:{w}"]  # fmt: skip
    with FfmpegProcess(cmd, 60.0, (w,)) as proc:
        with os.fdopen(r, "rb") as f:
            data = f.read()  # ends: the parent's copy of `w` is closed
        proc.finish()
    assert proc.returncode == 0 and proc.failure() is None
    assert len(data) == 4000 * 2
    with pytest.raises(OSError):
        os.fstat(w)  # closed in the parent once the child held it


def test_a_signal_from_outside_is_told_apart():
    with FfmpegProcess(["sleep", "30"], 60.0) as proc:
        os.kill(proc.proc.pid, signal.SIGTERM)
        proc.finish()
    assert proc.stopped_from_outside and not proc.timed_out
