"""Clip planning: which windows of a video become samples, their frames, samples and text."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clifields import option
from vattclips.nearest import caption_rank, nearest_k

if TYPE_CHECKING:
    from pipeline.captions import Segment


@dataclass(frozen=True)
class ClipSpec:
    """The geometry of every clip a build cuts (the shard format's `fps`, `frames`,
    `samples`...); what a model takes of a clip is train's `InputSpec`."""

    clip_seconds: float = option(
        3.2,
        help="window length in seconds; longer than the model's 3.2 s (e.g. 4.0 with "
        "--clip-stride 3.2) gives the trainer a random sub-window per sample",
    )
    fps: float = option(10.0, help="frames per second of the clips (32 frames per 3.2 s clip)")
    short_side: int = option(256, help="short side of the frames in pixels, aspect kept")
    sample_rate: int = option(48000, help="audio sample rate of the clips (mono)")
    stride: float | None = option(
        None,
        flag="--clip-stride",
        help="seconds between window starts (overlapping or gapped windows)",
        default_text="the clip length",
    )
    max_clips: int | None = option(
        None,
        flag="--max-clips-per-video",
        help="at most this many windows per video, spread evenly over it",
        default_text="all",
    )
    neighbors: int = option(5, help="K captions nearest in time stored per clip (MIL-NCE)")

    def __post_init__(self) -> None:
        if self.clip_seconds <= 0 or self.fps <= 0 or self.sample_rate <= 0:
            raise ValueError("clip_seconds, fps and sample_rate must be positive")
        if self.frames < 1:
            raise ValueError(f"clip of {self.clip_seconds}s at {self.fps} fps has no frame")
        if self.short_side < 16 or self.short_side % 2:
            raise ValueError(f"short_side must be an even number >= 16, got {self.short_side}")
        if self.stride is not None and self.stride <= 0:
            raise ValueError(f"clip stride must be positive, got {self.stride}")
        if self.max_clips is not None and self.max_clips < 1:
            raise ValueError(f"max clips per video must be >= 1, got {self.max_clips}")
        if self.neighbors < 0:
            raise ValueError(f"neighbors must be >= 0, got {self.neighbors}")

    @property
    def frames(self) -> int:
        return int(round(self.clip_seconds * self.fps))

    @property
    def samples(self) -> int:
        return int(round(self.clip_seconds * self.sample_rate))

    @property
    def stride_frames(self) -> int:
        return max(1, int(round((self.stride or self.clip_seconds) * self.fps)))


@dataclass(frozen=True)
class Window:
    """A clip window. `first_frame`, `start`, `end` and `first_sample` count from the start of
    the decoded stream, which begins `offset` seconds into the source (a row's `start`: the
    decoder seeks there); `source_start` / `source_end` are the window in source time."""

    clip: int  # index among the video's clips, by start time
    first_frame: int  # index into the constant-rate (spec.fps) frame stream from `offset`
    frames: int
    fps: float
    sample_rate: int
    samples: int
    offset: float = 0.0  # seconds of the source before frame 0 of the decoded stream

    @property
    def start(self) -> float:
        return self.first_frame / self.fps

    @property
    def end(self) -> float:
        return (self.first_frame + self.frames) / self.fps

    @property
    def source_start(self) -> float:
        return self.offset + self.start

    @property
    def source_end(self) -> float:
        return self.offset + self.end

    @property
    def first_sample(self) -> int:
        return int(round(self.start * self.sample_rate))


def plan_windows(
    duration: float, spec: ClipSpec, start: float | None = None, end: float | None = None
) -> list[Window]:
    """Fixed windows of `spec.frames` frames every `spec.stride_frames`, inside the video, or
    inside its span [start, end) when given (the end capped at the video's end).

    Only whole windows are planned: the frame stream of a `duration`-second video at `fps`
    holds floor(duration * fps) frames (a small tolerance absorbs float noise in durations).
    """
    offset = start or 0.0
    length = min(duration, end if end is not None else duration) - offset
    available = int(math.floor(length * spec.fps + 1e-6)) if length > 0 else 0
    n = 0 if available < spec.frames else (available - spec.frames) // spec.stride_frames + 1
    firsts = [i * spec.stride_frames for i in range(n)]
    if spec.max_clips is not None and n > spec.max_clips:
        m = spec.max_clips
        # evenly spread: the first and the last window, and m-2 between them
        picks = [0] if m == 1 else [round(j * (n - 1) / (m - 1)) for j in range(m)]
        firsts = [firsts[i] for i in picks]
    return [
        Window(
            clip=i,
            first_frame=f,
            frames=spec.frames,
            fps=spec.fps,
            sample_rate=spec.sample_rate,
            samples=spec.samples,
            offset=offset,
        )
        for i, f in enumerate(firsts)
    ]


def output_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """Display size scaled so the short side is `short_side`; the long side rounded to even."""
    if width <= 0 or height <= 0:
        raise ValueError(f"bad frame size {width}x{height}")
    if width <= height:
        return short_side, max(2, int(round(height * short_side / width / 2)) * 2)
    return max(2, int(round(width * short_side / height / 2)) * 2), short_side


class CaptionIndex:
    """The captions of one video, indexed so each clip's lookups cost O(log n + matches).

    A video with many thousands of tiny cues and thousands of clips stays fast: candidates
    come from a bisect on start times (a caption starting more than `max_len` before a
    window cannot reach it).
    """

    def __init__(self, segments: list[Segment]) -> None:
        self.segs = sorted(segments, key=lambda s: (s.start, s.end))
        self.starts = [s.start for s in self.segs]
        self.max_len = max((s.end - s.start for s in self.segs), default=0.0)

    def _between(self, lo: float, hi: float) -> list[Segment]:
        """Captions that start in [lo - max_len, hi]."""
        a = bisect.bisect_left(self.starts, lo - self.max_len)
        b = bisect.bisect_right(self.starts, hi)
        return self.segs[a:b]

    def overlapping(self, start: float, end: float) -> list[Segment]:
        """Captions that overlap [start, end) by more than zero time, by start."""
        return [s for s in self._between(start, end) if s.start < end and s.end > start]

    def nearest(self, start: float, end: float, k: int) -> list[Segment]:
        """The k captions nearest in time to the window, sorted by start (MIL-NCE positives).

        Nearest by the shard format's one rule (`vattclips.nearest.caption_rank`: the gap
        between caption and window, then the distance between centres, then start time), the
        rule the loader applies again when a model takes fewer than the shard's K.
        """
        if k <= 0 or not self.segs:
            return []
        radius = max(end - start, 1.0)
        while True:
            cands = self._between(start - radius, end + radius)
            within = [s for s in cands if caption_rank(start, end, s.start, s.end)[0] <= radius]
            if len(within) >= k or len(cands) == len(self.segs):
                # every caption not in `cands` is more than `radius` away: the top k are here
                return nearest_k(within if len(within) >= k else cands, start, end, k, _span)
            radius *= 4


def _span(s: Segment) -> tuple[float, float]:
    return (s.start, s.end)


def overlapping(segments: list[Segment], start: float, end: float) -> list[Segment]:
    """Captions that overlap [start, end) by more than zero time."""
    return CaptionIndex(segments).overlapping(start, end)


def nearest(segments: list[Segment], start: float, end: float, k: int) -> list[Segment]:
    """The k captions nearest in time to the window (see CaptionIndex.nearest)."""
    return CaptionIndex(segments).nearest(start, end, k)
