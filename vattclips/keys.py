"""Deterministic, safe identifiers: video ids, WebDataset sample keys and the train/val split.

The key format, `{video_id}_{clip:05d}` (docs/shard-format.md), is written by `clip_key` and
read back by `parse_key`, the one parser of both jobs.

Why SHA-1 everywhere: keys, splits and shard assignment must be identical on every run,
machine and Python version (a resumed job must find the shards of the first run), and Python's
`hash()` is salted per process. Why the restricted alphabet: a key becomes tar member names
(`{key}.mp4`), WebDataset splits a member name at its first dot, and an id must never be able to
climb out of the output folder (`..`, `/`).
"""

from __future__ import annotations

import hashlib
import math
import re

MAX_ID_CHARS = 80
_HASH_CHARS = 8  # hex chars of sha1(raw) appended to an id that had to be changed
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9_-]+")
_DASH_RUN = re.compile(r"-{2,}")


def _utf8(text: str) -> bytes:
    # surrogatepass: a JSON manifest may hold lone surrogates ("\ud800"); they still get an id.
    return text.encode("utf-8", "surrogatepass")


def sanitize_id(raw: str) -> str:
    """A video id made of `[A-Za-z0-9_-]` only, 1 to 80 chars, derived from any string.

    A `raw` id that is already safe is returned unchanged. Otherwise unsafe characters become
    '-', runs of '-' collapse, leading/trailing '-'/'_' go, the rest is cut to fit, and
    '-' + 8 hex chars of sha1(raw) are appended, so that ids that differ only in the replaced
    characters ("a.b", "a b", "a/b") still map to distinct results.
    """
    if not isinstance(raw, str):
        raise TypeError(f"video id must be a str, got {type(raw).__name__}: {raw!r}")
    safe = _DASH_RUN.sub("-", _UNSAFE_RUN.sub("-", raw)).strip("-_")
    if safe and safe == raw and len(safe) <= MAX_ID_CHARS:
        return safe
    suffix = hashlib.sha1(_utf8(raw)).hexdigest()[:_HASH_CHARS]
    base = safe[: MAX_ID_CHARS - _HASH_CHARS - 1].rstrip("-_")
    return f"{base}-{suffix}" if base else suffix


def default_video_id(uri: str) -> str:
    """The id of a video whose manifest row has none: 'v' + 16 hex chars of sha1(uri)."""
    return "v" + hashlib.sha1(_utf8(uri)).hexdigest()[:16]


def clip_key(video_id: str, clip: int) -> str:
    """The WebDataset key of clip `clip` (0-based) of a video: `{video_id}_{clip:05d}`."""
    if isinstance(clip, bool) or not isinstance(clip, int) or clip < 0:
        raise ValueError(f"clip index must be an int >= 0, got {clip!r} (video {video_id!r})")
    return f"{video_id}_{clip:05d}"


def video_id_of(key: str) -> str:
    """The video id of a sample key `{video_id}_{clip:05d}`: the part before the last "_" (a
    video id may hold "_"), or the whole key when it has none (shards written by hand)."""
    return key.rpartition("_")[0] or key


def parse_key(key: str) -> tuple[str, int]:
    """(video_id, clip) of a sample key; ValueError naming the key when it is not
    `{video_id}_{clip:05d}`."""
    video_id, _, clip = key.rpartition("_")
    if not video_id or not (clip.isascii() and clip.isdigit()):
        raise ValueError(f"sample key {key!r} is not {{video_id}}_{{clip:05d}}")
    return video_id, int(clip)


def _unit_interval(digest: bytes) -> float:
    # The top 53 bits: every value is exact in a float64, and the largest is 1 - 2**-53 < 1.
    # (Dividing a 64-bit integer by 2**64 would round its largest values up to 1.0.)
    return (int.from_bytes(digest[:8], "big") >> 11) / float(1 << 53)


def stable_fraction(text: str, salt: str = "") -> float:
    """A number in [0, 1) that depends only on (`salt`, `text`): stable across runs and platforms.

    The NUL separator keeps ("ab", "c") and ("a", "bc") apart.
    """
    return _unit_interval(hashlib.sha1(_utf8(salt + "\x00" + text)).digest())


def split_for(video_id: str, val_fraction: float) -> str:
    """'val' for about `val_fraction` of all video ids (chosen by a stable hash), else 'train'.

    Whole videos go to one split, so no clip of a validation video is ever trained on.
    """
    if not (isinstance(val_fraction, int | float) and math.isfinite(val_fraction)) or not (
        0.0 <= val_fraction <= 1.0
    ):
        raise ValueError(f"val_fraction must be in [0, 1], got {val_fraction!r}")
    return "val" if stable_fraction(video_id, "split") < val_fraction else "train"
