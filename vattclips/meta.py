"""A sample's `json` member (docs/shard-format.md, "json fields"): written by the builder
(`ClipMeta.to_json`) and read by every reader (`read_meta`, `label_index`, `label_names`).

`ClipMeta` declares the fields once, with their meaning; the member is the dataclass's fields
as a JSON object with sorted keys (so its bytes depend on the values alone), `label` and
`label_index` only on the clips of labelled rows. Readers take the parsed dict: a `/1` dataset
lacks `has_video` (it is true there), and fields added later must pass through.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from vattclips.schema import CLS, JSON, SCHEMA

Label = str | list[str]  # a class name, or the sorted names of a multi-label clip
LabelIndex = int | list[int]


@dataclass(frozen=True)
class Caption:
    """A caption (or ASR segment) in source time: the items of `segments` and `neighbors`."""

    start: float  # seconds in the source
    end: float
    text: str

    @classmethod
    def from_dict(cls, item: dict[str, Any]) -> Caption:
        return cls(float(item.get("start", 0.0)), float(item.get("end", 0.0)), str(item["text"]))


@dataclass(frozen=True)
class ClipMeta:
    """The fields of a sample's json member, as the builder writes them."""

    key: str  # the sample key, `{video_id}_{clip:05d}`
    video_id: str
    clip: int  # index of the clip within its video (0-based, by start time)
    source: str  # the video URI as given in the manifest
    start: float  # clip window in the source, seconds (written rounded to the microsecond)
    end: float
    fps: float  # of the mp4 member
    frames: int  # of the mp4 member; 0 in an audio-only sample
    width: int  # of the mp4 member (0 in an audio-only sample)
    height: int
    sample_rate: int  # of the flac member
    samples: int
    has_audio: bool  # false: no flac member (the source has no audio)
    has_video: bool  # false: an audio-only sample, no mp4 member
    audio_padded: int  # samples of silence appended where the source audio ended early
    text_source: str  # captions:<format>, asr:<engine>, or none
    segments: list[dict[str, Any]]  # captions overlapping the window: [{start, end, text}]
    neighbors: list[dict[str, Any]]  # the K nearest captions, by start (vattclips.nearest)
    probe: dict[str, Any]  # the source: duration, width, height, rotation, fps, codecs, ...
    meta: dict[str, Any] = field(default_factory=dict)  # the manifest row's other columns
    label: Label | None = None  # labelled rows only: the class name(s)
    label_index: LabelIndex | None = None  # with `label`: index (indices) into dataset.json
    schema: str = SCHEMA

    def __post_init__(self) -> None:
        for name in ("start", "end"):  # the json's precision, the one the nearest rule uses
            object.__setattr__(self, name, round(getattr(self, name), 6))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if self.label is None:  # unlabelled clips carry neither field
            del d["label"], d["label_index"]
        return d

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), sort_keys=True).encode("utf-8")


def read_meta(sample: dict[str, Any]) -> dict[str, Any]:
    """The sample's `json` member parsed, or {} when absent; ValueError when it is not an
    object."""
    raw = sample.get(JSON)
    if raw is None:
        return {}
    meta = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    if not isinstance(meta, dict):
        raise ValueError(f"json member of {sample.get('__key__')!r} is not an object")
    return meta


def label_indices(sample: dict[str, Any], meta: dict[str, Any]) -> list[int]:
    """The clip's class indices (into dataset.json `labels`): the `cls` member of a
    single-label dataset, else json `label_index` (an int, or a list for multi-label); [] for
    an unlabelled clip."""
    if CLS in sample:
        return [int(sample[CLS].decode("utf-8").strip())]
    index = meta.get("label_index")
    if index is None:
        return []
    return [int(i) for i in index] if isinstance(index, list) else [int(index)]


def label_names(label: Label | None) -> list[str]:
    """A json `label` as a list of names ([] when unlabelled): index.parquet's `labels`."""
    return [] if label is None else [label] if isinstance(label, str) else list(label)
