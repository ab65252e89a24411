"""ffprobe a source video: duration, geometry after display rotation, streams present."""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, dataclass
from fractions import Fraction

from pipeline.errors import StageError
from pipeline.ffmpeg_args import local_media_arg

FFPROBE_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Probe:
    duration: float  # seconds, of the video stream (falls back to the container's)
    width: int  # as displayed: display rotation applied, sample aspect ratio applied (0: none)
    height: int
    rotation: int  # degrees of the display matrix, normalised to 0/90/180/270
    fps: float  # average frame rate (0 when unknown)
    video_codec: str | None  # None: an audio-only input (kept only with allow_audio_only)
    audio_codec: str | None
    audio_channels: int
    audio_sample_rate: int
    format: str

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None

    @property
    def has_video(self) -> bool:
        return self.video_codec is not None

    def to_dict(self) -> dict:
        return asdict(self)


def _rate(text: str | None) -> float:
    try:
        value = Fraction(text or "0")
    except (ValueError, ZeroDivisionError):
        return 0.0
    return float(value)


def _rotation(stream: dict) -> int:
    rot = 0.0
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            rot = float(side["rotation"])
    if not rot:
        rot = float((stream.get("tags") or {}).get("rotate", 0) or 0)
    return int(round(rot)) % 360


def _audio_only(audio: dict, fmt: dict, source: str) -> Probe:
    duration = float(audio.get("duration") or 0) or float(fmt.get("duration") or 0)
    if duration <= 0:
        raise StageError("probe", f"{source}: unknown duration")
    return Probe(
        duration=duration,
        width=0,
        height=0,
        rotation=0,
        fps=0.0,
        video_codec=None,
        audio_codec=str(audio.get("codec_name", "?")),
        audio_channels=int(audio.get("channels") or 0),
        audio_sample_rate=int(audio.get("sample_rate") or 0),
        format=str(fmt.get("format_name", "?")),
    )


def parse_probe(info: dict, source: str, allow_audio_only: bool = False) -> Probe:
    """Turn ffprobe's JSON into a Probe; StageError("probe") when there is no usable video
    (an input with audio but no video is an audio-only Probe when `allow_audio_only`)."""
    streams = info.get("streams") or []
    fmt = info.get("format") or {}
    videos = [
        s
        for s in streams
        if s.get("codec_type") == "video"
        and not (s.get("disposition") or {}).get("attached_pic", 0)
    ]
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    if not videos and audios and allow_audio_only:
        return _audio_only(audios[0], fmt, source)
    if not videos:
        kind = "audio-only file" if audios else "no video stream"
        hint = "; --allow-audio-only keeps it as audio-only samples" if audios else ""
        raise StageError("probe", f"{source}: {kind} (format {fmt.get('format_name', '?')}){hint}")
    v = videos[0]
    width, height = int(v.get("width") or 0), int(v.get("height") or 0)
    if width <= 0 or height <= 0:
        raise StageError("probe", f"{source}: video stream has no frame size")
    sar = _rate(v.get("sample_aspect_ratio", "1:1").replace(":", "/")) or 1.0
    width = int(round(width * sar))
    rotation = _rotation(v)
    if rotation in (90, 270):
        width, height = height, width
    duration = float(v.get("duration") or 0) or float(fmt.get("duration") or 0)
    if duration <= 0:
        raise StageError("probe", f"{source}: unknown duration")
    a = audios[0] if audios else {}
    return Probe(
        duration=duration,
        width=width,
        height=height,
        rotation=rotation,
        fps=_rate(v.get("avg_frame_rate")) or _rate(v.get("r_frame_rate")),
        video_codec=str(v.get("codec_name", "?")),
        audio_codec=str(a["codec_name"]) if a else None,
        audio_channels=int(a.get("channels") or 0) if a else 0,
        audio_sample_rate=int(a.get("sample_rate") or 0) if a else 0,
        format=str(fmt.get("format_name", "?")),
    )


def probe(
    path: str,
    source: str | None = None,
    timeout: float = FFPROBE_TIMEOUT_S,
    allow_audio_only: bool = False,
) -> Probe:
    """Run ffprobe on a local file. `source` names the input in errors (defaults to path).

    By hand, not `ffmpeg.probe` (ffmpeg-python 0.2.0): that one waits on ffprobe with no
    timeout (a stalled read would hold the worker for good), leaves it the parent's stdin and
    gives no handle to kill it. The arguments are the ones it would build (the same JSON out);
    the run is `subprocess.run` with stdin closed and a timeout, which kills ffprobe."""
    source = source or path
    # ffmpeg.probe's argument list: [cmd, -show_format, -show_streams, -of json, *options, path]
    cmd = ["ffprobe", "-show_format", "-show_streams", "-of", "json", "-v", "error"]
    cmd.append(local_media_arg(path))
    try:
        res = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        # a loaded worker or a slow disk: may pass
        raise StageError(
            "probe", f"{source}: ffprobe timed out after {timeout:.0f}s", True
        ) from exc
    if res.returncode != 0:
        tail = res.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
        raise StageError("probe", f"{source}: not a readable media file ({tail[0]})")
    try:
        info = json.loads(res.stdout or b"{}")
    except json.JSONDecodeError as exc:
        raise StageError("probe", f"{source}: ffprobe gave unreadable output") from exc
    return parse_probe(info, source, allow_audio_only)
