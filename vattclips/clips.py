"""Decoded clips of a `vatt-clips` dataset, for any video-text model (no torch, no Ray).

    import vattclips
    for clip in vattclips.iter_clips("gs://bucket/ds", "train"):
        clip.frames    # (T, H, W, 3) uint8 RGB as stored (None: an audio-only sample)
        clip.waveform  # (S,) float32 in [-1, 1], mono (None: the source had no audio)
        clip.texts     # the MIL-NCE bag: the K captions nearest in time, by the builder's
                       # rule, in time order (the clip's own text when it has no neighbour)
        clip.neighbors, clip.segments  # [Caption(start, end, text)] in source time
        clip.meta      # the json member as written (docs/shard-format.md)
        clip.label, clip.label_index   # labelled datasets: class name(s) and index (indices)

Shards are read in dataset.json's order, samples in shard order, each once; `worker=(i, n)`
takes every n-th shard from the i-th (one share per data-loader worker or rank). Decoding is
`vattclips.video` and `vattclips.audio`, the decoders this project's trainer uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from vattclips.audio import AudioDecodeError, decode_waveform, flac_rate
from vattclips.captions import bag_texts
from vattclips.dataset import list_shards
from vattclips.keys import video_id_of
from vattclips.meta import Caption, Label, LabelIndex, label_indices, read_meta
from vattclips.schema import FLAC, MP4, TXT
from vattclips.tars import Sample, iter_samples
from vattclips.video import VideoDecodeError, decode_frames


class ClipError(ValueError):
    """A sample that cannot be decoded into a clip; names the sample and its shard."""


@dataclass
class Clip:
    """One sample of a shard, decoded."""

    key: str  # `{video_id}_{clip:05d}`
    video_id: str
    clip: int  # index of the clip within its video
    start: float  # window in the source video, seconds
    end: float
    frames: np.ndarray | None  # (T, H, W, 3) uint8 RGB; None without an mp4 (or not decoded)
    fps: float
    waveform: np.ndarray | None  # (S,) float32 in [-1, 1], mono; None without a flac
    sample_rate: int  # of `waveform`
    text: str  # the `txt` member: the captions overlapping the window
    texts: list[str]  # the MIL-NCE bag: the K nearest captions, in time order (module doc)
    neighbors: list[Caption]  # the stored K nearest captions, by start
    segments: list[Caption]  # the captions overlapping the window, by start
    meta: dict[str, Any]  # the json member, every field as written
    label: Label | None = None  # the class name (names, multi-label); None: unlabelled
    label_index: LabelIndex | None = None  # into dataset.json `labels`
    url: str = ""  # the shard the sample came from

    @property
    def has_video(self) -> bool:
        return bool(self.meta.get("has_video", True)) and self.frames is not None

    @classmethod
    def from_sample(
        cls,
        sample: Sample,
        neighbors: int | None = None,
        video: bool = True,
        audio: bool = True,
        frames: int | None = None,
        sample_rate: int | None = None,
    ) -> Clip:
        """Decode one raw sample ({"__key__", ext: bytes}, as `vattclips.tars` reads it).

        `neighbors`: the bag size K of `texts` (None: every stored neighbour); `video`,
        `audio`: False skips decoding that member (`frames` / `waveform` None); `frames`:
        that many frames spread evenly over the clip (None: all); `sample_rate`: resample the
        waveform (None: the member's own rate). ClipError naming the sample when a member
        cannot be decoded.
        """
        key, url = sample["__key__"], str(sample.get("__url__", ""))
        try:
            meta = read_meta(sample)
            text = sample.get(TXT, b"").decode("utf-8")
            pixels = decode_frames(sample[MP4], frames) if video and MP4 in sample else None
            wave, rate = None, int(meta.get("sample_rate") or 0)
            if audio and FLAC in sample:
                # the json's sample_rate is the member's own (the format says so): one open
                rate = sample_rate or rate or flac_rate(sample[FLAC])
                wave = decode_waveform(sample[FLAC], rate)
            stored = meta.get("neighbors") or []
            k = len(stored) if neighbors is None else neighbors
            indices = label_indices(sample, meta)
            multi = isinstance(meta.get("label"), list)
            label_index = (indices if multi else indices[0]) if indices else None
            return cls(
                key=key,
                video_id=str(meta.get("video_id") or video_id_of(key)),
                clip=int(meta.get("clip", 0)),
                start=float(meta.get("start", 0.0)),
                end=float(meta.get("end", 0.0)),
                frames=pixels,
                fps=float(meta.get("fps") or 0.0),
                waveform=wave,
                sample_rate=rate,
                text=text,
                texts=bag_texts(meta, text, k),
                neighbors=[Caption.from_dict(n) for n in stored],
                segments=[Caption.from_dict(s) for s in meta.get("segments") or []],
                meta=meta,
                label=meta.get("label"),
                label_index=label_index,
                url=url,
            )
        except (AudioDecodeError, VideoDecodeError, ValueError, KeyError, TypeError) as error:
            where = f" of {url}" if url else ""
            raise ClipError(f"sample {key!r}{where}: {type(error).__name__}: {error}") from error


def iter_split(
    root: str, split: str = "train", worker: tuple[int, int] = (0, 1)
) -> Iterator[Sample]:
    """The raw samples ({"__key__", "__url__", ext: bytes}) of `split`, shard after shard."""
    index, count = worker
    if not 0 <= index < count:
        raise ValueError(f"worker must be (index, count) with 0 <= index < count, got {worker}")
    for url in list_shards(root, split).urls[index::count]:
        yield from iter_samples(url)


def iter_clips(
    root: str,
    split: str = "train",
    *,
    neighbors: int | None = None,
    video: bool = True,
    audio: bool = True,
    frames: int | None = None,
    sample_rate: int | None = None,
    worker: tuple[int, int] = (0, 1),
) -> Iterator[Clip]:
    """The decoded clips of `split` under the dataset `root` (any fsspec URI), each once, in
    dataset.json's shard order. See `Clip.from_sample` for the options; `worker` = (i, n)
    reads shards i, i+n, i+2n... (`vattclips.dataset.DatasetRootError` when the root has no
    such shards)."""
    for sample in iter_split(root, split, worker):
        yield Clip.from_sample(sample, neighbors, video, audio, frames, sample_rate)
