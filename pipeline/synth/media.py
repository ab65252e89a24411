"""Synthetic media for tests, benchmarks and the demo corpus, made with the real ffmpeg/espeak-ng.

Every external tool is called with an argument list (never a shell) and a timeout; a failure
raises `ToolError` naming the output file and carrying the tail of the tool's stderr.

Well-formed videos with the properties real web video has (display rotation, variable frame
rate, 5.1 or 8 kHz audio, no audio, WebM). The broken inputs of the failure tests (zero-byte
files, text named .mp4, truncated mp4, ...) are the tests' own: tests/pipeline/broken_inputs.py.
"""

from __future__ import annotations

import logging
import math
import subprocess
import tempfile
import threading
import wave
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

FFMPEG = "ffmpeg"
ESPEAK = "espeak-ng"
DEFAULT_TIMEOUT_S = 120.0

# Variable frame rate: frame n is shown at (n + VFR_JITTER * sin(VFR_STEP * n)) / fps. A jitter
# below 0.5 keeps timestamps strictly increasing while frame durations range over 0.2-1.8 frame
# periods. The same formula runs in ffmpeg's setpts and in `vfr_frame_time`, so a caller that
# renders its own frames can draw frame n for the time it will be shown at.
VFR_JITTER = 0.4
VFR_STEP = 1.7
_VFR_TIMEBASE = 10000  # ticks per second; fine enough that jittered timestamps stay distinct

_ROTATIONS = (0, 90, 180, 270)
_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
_MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}
_DEFAULT_CODECS = {  # muxer -> (video codec, audio codec)
    "mp4": ("libx264", "aac"),
    "mov": ("libx264", "aac"),
    "matroska": ("libx264", "aac"),
    "webm": ("libvpx-vp9", "libopus"),
}


class MediaSynthError(RuntimeError):
    """Base class of this module's errors."""


class ToolError(MediaSynthError):
    """An external tool (ffmpeg, espeak-ng) failed, timed out or is missing."""

    def __init__(self, tool: str, output: Path | str, reason: str, stderr: str = "") -> None:
        tail = stderr.strip()[-2000:]
        message = f"{tool} failed making {output}: {reason}"
        if tail:
            message += f"\n--- {tool} stderr (tail) ---\n{tail}"
        super().__init__(message)
        self.tool = tool
        self.output = Path(output)
        self.stderr_tail = tail


def run_tool(
    args: Sequence[str], output: Path, timeout_s: float, stdin_bytes: bytes | None = None
) -> None:
    """Run one tool invocation; raise ToolError with its stderr when it does not exit 0."""
    tool = args[0]
    try:
        proc = subprocess.run(
            list(args),
            input=stdin_bytes,
            stdin=None if stdin_bytes is not None else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout_s,
            check=False,
        )
    except FileNotFoundError as e:
        raise ToolError(tool, output, f"{tool} is not installed (not on PATH)") from e
    except subprocess.TimeoutExpired as e:
        stderr = (e.stderr or b"").decode("utf-8", "replace")
        raise ToolError(tool, output, f"timed out after {timeout_s:g} s", stderr) from e
    if proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", "replace")
        raise ToolError(tool, output, f"exit status {proc.returncode}", stderr)


def ffmpeg_base() -> list[str]:
    # -nostdin: ffmpeg must never wait on a terminal; -y: outputs are ours to overwrite.
    return [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]


def _muxer_for(path: Path, container: str | None) -> str:
    if container is not None:
        muxer = {"mkv": "matroska"}.get(container, container)
        if muxer not in _DEFAULT_CODECS:
            raise ValueError(f"unsupported container {container!r} for {path}")
        return muxer
    return _MUXERS.get(path.suffix.lower(), "mp4")


def _check_rotation(rotation: int, muxer: str, path: Path) -> None:
    if rotation not in _ROTATIONS:
        raise ValueError(f"rotation must be one of {_ROTATIONS}, got {rotation} for {path}")
    if rotation and muxer not in ("mp4", "mov"):
        # ffmpeg 5.1 writes a display matrix only in mp4/mov.
        raise ValueError(f"display rotation needs an mp4/mov container, not {muxer} ({path})")


def _video_codec_args(vcodec: str, crf: int) -> list[str]:
    # One encoder thread: fast enough for small frames and makes the output bytes reproducible.
    if vcodec == "libx264":
        return ["-c:v", "libx264", "-preset", "ultrafast", "-crf", str(crf), "-threads", "1"]
    if vcodec == "libvpx-vp9":
        return [
            "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8",
            "-b:v", "0", "-crf", str(crf + 10), "-row-mt", "0", "-threads", "1",
        ]  # fmt: skip
    return ["-c:v", vcodec, "-threads", "1"]


def _audio_codec_args(acodec: str, channels: int, sample_rate: int) -> list[str]:
    if acodec == "libopus" and sample_rate not in _OPUS_RATES:
        sample_rate = 48000  # Opus codes only these rates; web video resamples to 48 kHz
    args = ["-c:a", acodec, "-ac", str(channels), "-ar", str(sample_rate)]
    if acodec == "aac":
        args += ["-aac_coder", "fast"]  # a third less CPU than "twoloop"; fine for test audio
    if acodec == "libopus" and channels > 2:
        args += ["-mapping_family", "1"]  # surround Opus needs the Vorbis channel mapping
    return args


def _vfr_args(fps: float, muxer: str) -> tuple[str, list[str]]:
    """(filter, output options) that move frame n to `vfr_frame_time(n, fps)`."""
    vf = f"settb=1/{_VFR_TIMEBASE},setpts='(N+{VFR_JITTER}*sin({VFR_STEP}*N))/({fps!r}*TB)'"
    # Without an explicit encoder time base ffmpeg rounds the jittered pts back onto 1/fps.
    out = ["-fps_mode", "vfr", "-enc_time_base:v", f"1/{_VFR_TIMEBASE}"]
    if muxer in ("mp4", "mov"):
        out += ["-video_track_timescale", str(_VFR_TIMEBASE)]
    return vf, out


def vfr_frame_time(n: int, fps: float) -> float:
    """Presentation time (s) of frame `n` in a video written with `vfr=True`."""
    return (n + VFR_JITTER * math.sin(VFR_STEP * n)) / fps


def _set_rotation(path: Path, rotation: int, muxer: str, timeout_s: float) -> None:
    """Add display-matrix rotation to a finished mp4 by remuxing it.

    ffmpeg 5.1 turns `-metadata:s:v:0 rotate=N` into a display matrix only on stream copy,
    not while encoding (ffmpeg >= 6 has `-display_rotation` instead), hence the second pass.
    Read back (checked): ffprobe's side data says rotation 90 for N=90, -90 for N=270, and a
    decoder that applies it shows the stored picture turned N degrees counter-clockwise.
    """
    tmp = path.with_name(f".{path.stem}.rot{path.suffix}")
    args = ffmpeg_base() + ["-i", str(path), "-map", "0", "-c", "copy"]
    args += ["-metadata:s:v:0", f"rotate={rotation}", "-fflags", "+bitexact"]
    args += ["-f", muxer, str(tmp)]
    try:
        run_tool(args, path, timeout_s)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def synth_video(
    path: str | Path,
    seconds: float,
    width: int = 320,
    height: int = 240,
    fps: float = 25.0,
    audio: str | None = "sine",
    sample_rate: int = 44100,
    channels: int = 1,
    rotation: int = 0,
    vfr: bool = False,
    vcodec: str | None = None,
    acodec: str | None = None,
    container: str | None = None,
    tone_hz: float = 440.0,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Path:
    """Write a test video from ffmpeg's lavfi sources (testsrc2 + sine or noise); return its path.

    audio: "sine" (a `tone_hz` tone), "noise" (pink noise) or None (no audio stream).
    channels: 1, 2 or 6 (6 gives a 5.1 layout). rotation: display rotation in degrees, written
    as an mp4 display matrix (the stored frames are testsrc2's; players rotate them).
    vfr: frame n at `vfr_frame_time(n, fps)` instead of n / fps.
    vcodec/acodec default to the container's usual ones: H.264/AAC for mp4/mkv, VP9/Opus for
    webm. container: "mp4", "mkv", "webm", "mov"; default from the file suffix.
    """
    path = Path(path)
    muxer = _muxer_for(path, container)
    _check_rotation(rotation, muxer, path)
    if audio not in (None, "sine", "noise"):
        raise ValueError(f"audio must be 'sine', 'noise' or None, got {audio!r} for {path}")
    default_v, default_a = _DEFAULT_CODECS[muxer]
    vcodec, acodec = vcodec or default_v, acodec or default_a

    args = ffmpeg_base() + ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps!r}"]
    if audio == "sine":
        args += ["-f", "lavfi", "-i", f"sine=frequency={tone_hz!r}:sample_rate={sample_rate}"]
    elif audio == "noise":
        args += ["-f", "lavfi", "-i", f"anoisesrc=color=pink:amplitude=0.2:seed=1:r={sample_rate}"]
    args += ["-t", f"{seconds!r}", "-map", "0:v"]
    out_opts: list[str] = []
    if vfr:
        vf, out_opts = _vfr_args(fps, muxer)
        args += ["-vf", vf]
    args += _video_codec_args(vcodec, crf=23) + ["-pix_fmt", "yuv420p"] + out_opts
    if audio is not None:
        args += ["-map", "1:a"] + _audio_codec_args(acodec, channels, sample_rate)
    args += ["-fflags", "+bitexact", "-f", muxer, str(path)]
    run_tool(args, path, timeout_s)
    if rotation:
        _set_rotation(path, rotation, muxer, timeout_s)
    logger.debug("synth_video wrote %s (%.2f s, %dx%d)", path, seconds, width, height)
    return path


def synth_speech(
    text: str,
    path: str | Path,
    voice: str = "en-us",
    words_per_minute: int = 160,
    word_gap_ms: int = 0,
    timeout_s: float = 30.0,
) -> Path:
    """Speak `text` with espeak-ng into a WAV file (mono, 16-bit, 22,050 Hz); return its path.
    `word_gap_ms` adds a pause between words (helps offline ASR segment them)."""
    path = Path(path)
    if not text.strip():
        raise ValueError(f"synth_speech needs non-empty text (for {path})")
    args = [ESPEAK, "-v", voice, "-s", str(words_per_minute), "-g", str(word_gap_ms // 10)]
    # Text goes through stdin so that text starting with "-" is never taken for an option.
    args += ["-w", str(path), "--stdin"]
    run_tool(args, path, timeout_s, stdin_bytes=text.encode("utf-8"))
    return path


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a 16-bit PCM WAV: (float32 samples in [-1, 1], shape (n,) or (n, channels); rate)."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise MediaSynthError(f"{path}: only 16-bit PCM WAV is supported")
        channels, rate = w.getnchannels(), w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    samples = pcm.astype(np.float32) / 32768.0
    return (samples if channels == 1 else samples.reshape(-1, channels)), rate


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int) -> Path:
    """Write float samples in [-1, 1], shape (n,) or (n, channels), as 16-bit PCM WAV."""
    path = Path(path)
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim not in (1, 2):
        raise ValueError(
            f"audio for {path} must have shape (n,) or (n, channels), got {audio.shape}"
        )
    channels = 1 if audio.ndim == 1 else audio.shape[1]
    pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
    return path


def write_frames_video(
    path: str | Path,
    frames_iter: Iterable[np.ndarray],
    fps: float,
    size: tuple[int, int],
    audio: np.ndarray | None = None,
    sample_rate: int = 44100,
    rotation: int = 0,
    vfr: bool = False,
    vcodec: str | None = None,
    acodec: str | None = None,
    container: str | None = None,
    crf: int = 23,
    timeout_s: float = 300.0,
) -> Path:
    """Encode frames made in Python (piped to ffmpeg as raw rgb24) plus optional audio.

    frames_iter: uint8 arrays (height, width, 3) in DISPLAY orientation; size = (width, height).
    audio: float samples in [-1, 1], (n,) or (n, channels) (6 channels = 5.1), or None for a
    video without an audio stream. rotation: display rotation in degrees; frames are stored
    rotated the other way so a player that applies the display matrix shows them as given.
    vfr: frame n is shown at `vfr_frame_time(n, fps)`; render it for that time.
    Default codecs: H.264 (yuv420p) + AAC in mp4/mkv, VP9 + Opus in webm.
    """
    path = Path(path)
    muxer = _muxer_for(path, container)
    _check_rotation(rotation, muxer, path)
    default_v, default_a = _DEFAULT_CODECS[muxer]
    vcodec, acodec = vcodec or default_v, acodec or default_a
    width, height = size
    # ffmpeg 5.1 shows a picture tagged "rotate=R" turned R degrees counter-clockwise (checked
    # by decoding), so store the display frame turned R degrees clockwise (np.rot90 k=-R/90).
    turns = -(rotation // 90)
    stored_w, stored_h = (height, width) if turns % 2 else (width, height)

    with tempfile.TemporaryDirectory(prefix="media_synth_") as tmp:
        args = ffmpeg_base() + [
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-video_size", f"{stored_w}x{stored_h}",
            "-framerate", f"{fps!r}", "-i", "pipe:0",
        ]  # fmt: skip
        if audio is not None:
            wav = write_wav(Path(tmp) / "audio.wav", audio, sample_rate)
            args += ["-i", str(wav)]
        args += ["-map", "0:v"]
        out_opts: list[str] = []
        if vfr:
            vf, out_opts = _vfr_args(fps, muxer)
            args += ["-vf", vf]
        args += _video_codec_args(vcodec, crf) + ["-pix_fmt", "yuv420p"] + out_opts
        if audio is not None:
            channels = 1 if audio.ndim == 1 else audio.shape[1]
            args += ["-map", "1:a"] + _audio_codec_args(acodec, channels, sample_rate)
        args += ["-fflags", "+bitexact", "-f", muxer, str(path)]
        n_frames = _pipe_frames(args, path, frames_iter, (height, width), turns, timeout_s, tmp)
    if rotation:
        _set_rotation(path, rotation, muxer, timeout_s)
    logger.debug("write_frames_video wrote %s (%d frames at %g fps)", path, n_frames, fps)
    return path


def _pipe_frames(
    args: list[str],
    path: Path,
    frames_iter: Iterable[np.ndarray],
    display_hw: tuple[int, int],
    turns: int,
    timeout_s: float,
    tmp: str,
) -> int:
    """Stream frames into ffmpeg's stdin under a watchdog; return the number of frames."""
    stderr_path = Path(tmp) / "ffmpeg.stderr"
    with open(stderr_path, "wb") as stderr_file:
        try:
            # stderr to a file, not a pipe: a chatty ffmpeg must not block while we write.
            proc = subprocess.Popen(
                args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=stderr_file
            )
        except FileNotFoundError as e:
            raise ToolError(FFMPEG, path, "ffmpeg is not installed (not on PATH)") from e
        watchdog = threading.Timer(timeout_s, proc.kill)
        watchdog.start()
        n = 0
        broken = False
        try:
            assert proc.stdin is not None
            for frame in frames_iter:
                if frame.shape != (*display_hw, 3) or frame.dtype != np.uint8:
                    raise ValueError(
                        f"frame {n} for {path} has shape {frame.shape} {frame.dtype}, "
                        f"expected {(*display_hw, 3)} uint8"
                    )
                stored = np.rot90(frame, k=turns) if turns else frame
                try:
                    proc.stdin.write(np.ascontiguousarray(stored).tobytes())
                except BrokenPipeError:
                    broken = True  # ffmpeg exited early; its stderr says why
                    break
                n += 1
        except BaseException:
            proc.kill()
            raise
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                broken = True
            returncode = proc.wait()
            timed_out = not watchdog.is_alive() and returncode != 0
            watchdog.cancel()
    stderr = stderr_path.read_text("utf-8", "replace")
    if timed_out:
        raise ToolError(FFMPEG, path, f"timed out after {timeout_s:g} s", stderr)
    if returncode != 0 or broken:
        raise ToolError(FFMPEG, path, f"exit status {returncode}", stderr)
    if n == 0:
        raise ValueError(f"no frames given for {path}")
    return n
