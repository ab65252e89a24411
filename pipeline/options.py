"""The options of a shard build: what goes into `dataset.json` and decides resume safety."""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import asdict, dataclass, field

from clifields import option
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


def parse_size(text: str) -> int:
    """'1G', '500M', '64k' or a plain number of bytes."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    t = text.strip().lower().removesuffix("b").removesuffix("i")
    try:
        if t and t[-1] in units:
            return int(float(t[:-1]) * units[t[-1]])
        return int(t)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 1G, 500M)") from exc


@dataclass(frozen=True)
class BuildOptions:
    """The options of `python -m pipeline build` that `dataset.json` records (each field is
    its flag, with its help: pipeline/cli.py builds the parser from them)."""

    clip: ClipSpec = field(default_factory=ClipSpec)
    encode: EncodeOptions = field(default_factory=EncodeOptions)
    val_fraction: float = option(
        0.1,
        help="share of whole videos in the val split, by a stable hash of the video id (rows "
        "with a split keep theirs)",
    )
    shard_samples: int = option(1000, help="roll over after this many samples")
    shard_bytes: int = option(
        1 << 30, parse=parse_size, default_text="1G", help="roll over before this size (e.g. 1G)"
    )
    asr: str = option(
        "auto",
        help="text of the videos without captions: auto (faster-whisper tiny.en when "
        "installed, else pocketsphinx), faster-whisper:NAME_OR_DIR, pocketsphinx, "
        "whisper:DIR (transformers), none",
    )
    ffmpeg_timeout: float = option(
        0.0, help="seconds per video", default_text="0: 60 + 4 x the decoded duration"
    )
    max_video_seconds: float = option(
        4 * 3600.0, help="longer videos go to failures (resource bound)", default_text="14400: 4 h"
    )
    max_video_pixels: int = option(
        7680 * 4320,
        help="frame area limit: larger frames go to failures",
        default_text="7680 x 4320, 8K",
    )
    max_video_bytes: int = option(
        20 << 30,
        parse=parse_size,
        default_text="20G",
        help="remote videos are copied locally up to this size; larger go to failures",
    )
    max_caption_cues: int = option(
        100_000, help="cues per captions file; more are truncated (and reported)"
    )
    keep_spill: bool = option(
        False, help="keep the per-video clip tars under _work/ after the shards are made"
    )
    allow_audio_only: bool = option(
        False,
        help="inputs without a video stream (e.g. wav) become audio-only samples instead of "
        "failures",
    )

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
