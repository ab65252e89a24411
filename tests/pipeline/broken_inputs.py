"""The broken inputs the pipeline's failure tests need: zero-byte files, text named .mp4,
truncated mp4, audio-only mp4 and a file name full of shell metacharacters (made with the real
ffmpeg where they are media)."""

from __future__ import annotations

from pathlib import Path

from pipeline.synth.media import DEFAULT_TIMEOUT_S, ffmpeg_base, run_tool, synth_video

# A file name that breaks any code passing paths through a shell.
HOSTILE_NAME = "a b;$(touch x)'\"&.mp4"


def make_zero_byte_file(path: str | Path) -> Path:
    """An empty file (e.g. an interrupted download)."""
    path = Path(path)
    path.write_bytes(b"")
    return path


def make_text_file_as_video(path: str | Path) -> Path:
    """A text file under a video name (e.g. an HTML error page saved as .mp4)."""
    path = Path(path)
    path.write_text("<html><body>404 Not Found: this is not a video</body></html>\n")
    return path


def make_truncated_video(source: str | Path, path: str | Path, fraction: float = 0.5) -> Path:
    """The first `fraction` of a real video's bytes. For an mp4 written by this module the
    index (moov) sits at the end, so the result has media data but no index: unreadable."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    path = Path(path)
    data = Path(source).read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def make_audio_only_video(
    path: str | Path, seconds: float = 2.0, timeout_s: float = DEFAULT_TIMEOUT_S
) -> Path:
    """An audio-only MP4 (what .m4a is) under a video name: it probes fine but has no video."""
    path = Path(path)
    args = ffmpeg_base() + ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
    args += ["-t", f"{seconds!r}", "-c:a", "aac", "-fflags", "+bitexact", "-f", "mp4", str(path)]
    run_tool(args, path, timeout_s)
    return path


def make_hostile_name_video(
    directory: str | Path, seconds: float = 2.0, timeout_s: float = DEFAULT_TIMEOUT_S
) -> Path:
    """A valid video named `HOSTILE_NAME` (spaces, ;, $(...), quotes, &) in `directory`.
    A shell-interpolating caller would create a file `x` in its working directory."""
    # ffmpeg gets the name as one argv element, so it is written as is.
    return synth_video(Path(directory) / HOSTILE_NAME, seconds, timeout_s=timeout_s)
