"""The options of a shard build: what goes into `dataset.json` and decides resume safety."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from pipeline.clips import ClipSpec
from pipeline.decode import EncodeOptions
from vattclips.schema import SCHEMA

# How clips are laid out in shards (not the format: readers see the same). 2: spread over the
# shards of a split by a keyed permutation; 1 (before): packed side by side in video-id order.
# Part of the fingerprint, so that a re-run never mixes the two layouts in one output.
SHARD_LAYOUT = 2

# Options that change the bytes of the output. A re-run with any of them different is refused
# (it would mix two datasets in one folder); the others (timeouts, workers) may change freely.
_CONTENT_FIELDS = (
    "clip",
    "encode",
    "val_fraction",
    "shard_samples",
    "shard_bytes",
    "asr",
    "max_video_seconds",
    "max_video_pixels",
    "max_caption_cues",
    "allow_audio_only",
)


@dataclass(frozen=True)
class BuildOptions:
    clip: ClipSpec = field(default_factory=ClipSpec)
    encode: EncodeOptions = field(default_factory=EncodeOptions)
    val_fraction: float = 0.1  # whole videos, by a stable hash of the video id
    shard_samples: int = 1000  # roll-over limits: a shard never holds more
    shard_bytes: int = 1 << 30
    asr: str = "auto"  # auto: captions when given, else offline ASR; none; an engine name
    ffmpeg_timeout: float = 0.0  # per video, seconds; 0 = 60 s + 4 x the decoded duration
    max_video_seconds: float = 4 * 3600.0  # longer videos go to failures (resource bound)
    max_video_pixels: int = 7680 * 4320  # 8K; larger frames go to failures
    max_video_bytes: int = 20 << 30  # remote videos are copied locally up to this size
    max_caption_cues: int = 100_000  # a captions file with more cues is truncated (and reported)
    keep_spill: bool = False  # keep per-video clip tars under _work/ after the shards are made
    allow_audio_only: bool = False  # inputs without a video stream become audio-only samples

    def __post_init__(self) -> None:
        if not 0.0 <= self.val_fraction <= 1.0:
            raise ValueError(f"--val-fraction must be in [0, 1], got {self.val_fraction}")
        if self.shard_samples < 1:
            raise ValueError(f"--shard-samples must be >= 1, got {self.shard_samples}")
        if self.shard_bytes < 1 << 16:
            raise ValueError(f"--shard-bytes must be >= 65536, got {self.shard_bytes}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["clip"]["frames"] = self.clip.frames
        d["clip"]["samples"] = self.clip.samples
        return d

    @classmethod
    def from_dict(cls, d: dict) -> BuildOptions:
        d = dict(d)
        clip = {k: v for k, v in d.pop("clip").items() if k not in ("frames", "samples")}
        return cls(clip=ClipSpec(**clip), encode=EncodeOptions(**d.pop("encode")), **d)

    def content_dict(self) -> dict:
        d = self.to_dict()
        return {k: d[k] for k in _CONTENT_FIELDS}

    def fingerprint(self) -> str:
        blob = json.dumps(
            {"schema": SCHEMA, "layout": SHARD_LAYOUT, **self.content_dict()}, sort_keys=True
        )
        return hashlib.sha1(blob.encode()).hexdigest()[:16]

    def timeout_for(self, decoded_seconds: float) -> float:
        return self.ffmpeg_timeout or 60.0 + 4.0 * decoded_seconds
