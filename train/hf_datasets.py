"""vatt-clips shards through Hugging Face `datasets` (its `webdataset` builder), no torchcodec.

    from train.hf_datasets import load_clips
    ds = load_clips("OUTPUT", "train")                  # a datasets.Dataset (cached as Arrow)
    ds = load_clips("OUTPUT", "train", streaming=True)  # an IterableDataset, read as it goes

Why a `features=` recipe rather than the builder's guess: datasets 5 types `mp4` members as
`Video` and `flac` as `Audio`, both decoded through torchcodec (not loadable with a CPU-only
torch), and it guesses the `json` schema from the first five samples, so a pass-through manifest
column that is `[]` there becomes `null` and later rows fail to cast. Here media stay bytes
(decode them with `vattclips.video.decode_frames` and `vattclips.audio.decode_waveform`, or cast
to `Audio`/`Video` where torchcodec works) and `json` has the documented fields with their
types; the manifest's pass-through `meta` is left out unless its columns are typed by the caller.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import datasets
from datasets import Features, List, Value

from vattclips.dataset import list_shards
from vattclips.meta import ClipMeta

SEGMENT = {"start": Value("float64"), "end": Value("float64"), "text": Value("string")}
PROBE = {
    "duration": Value("float64"),
    "width": Value("int32"),
    "height": Value("int32"),
    "rotation": Value("int32"),
    "fps": Value("float64"),
    "video_codec": Value("string"),
    "audio_codec": Value("string"),
    "audio_channels": Value("int32"),
    "audio_sample_rate": Value("int32"),
    "format": Value("string"),
}


# Value types of ClipMeta's plain fields, by their annotation (`from __future__ import
# annotations`: the names as strings); the nested ones are typed below.
_SCALARS = {"str": "string", "int": "int32", "float": "float64", "bool": "bool"}
_NESTED = {"segments": List(SEGMENT), "neighbors": List(SEGMENT), "probe": PROBE}
_LABELS = ("label", "label_index")


def clip_features(meta: dict[str, Any] | None = None, multi_label: bool | None = None) -> Features:
    """The features of a vatt-clips sample (docs/shard-format.md): the json member's fields are
    `vattclips.meta.ClipMeta`'s. `meta`: datasets types of the manifest's pass-through columns
    to keep, e.g. {"lang": Value("string")}. `multi_label`: a labelled dataset's kind (the json's
    `label` / `label_index` are a name and an index, or lists of them); None: unlabelled."""
    json_fields: dict[str, Any] = {}
    for f in dataclasses.fields(ClipMeta):
        if f.name in _NESTED:
            json_fields[f.name] = _NESTED[f.name]
        elif f.name in ("meta", *_LABELS):
            continue
        else:
            json_fields[f.name] = Value(_SCALARS[str(f.type)])
    if multi_label is not None:
        name, index = Value("string"), Value("int64")
        if multi_label:
            name, index = List(name), List(index)
        json_fields.update(label=name, label_index=index)
    if meta:
        json_fields["meta"] = dict(meta)
    return Features(
        {
            "__key__": Value("string"),
            "__url__": Value("string"),
            "mp4": Value("binary"),
            "flac": Value("binary"),  # None for a clip whose source has no audio
            "txt": Value("string"),
            "cls": Value("int64"),  # labelled datasets only (None otherwise)
            "json": json_fields,
        }
    )


def load_clips(
    root: str, split: str = "train", streaming: bool = False, meta: dict[str, Any] | None = None
) -> datasets.Dataset | datasets.IterableDataset:
    """The clips of `split` under the dataset `root` (any fsspec URI), in dataset.json's shard
    order, typed by `clip_features` (labels typed as dataset.json says they are)."""
    shards = list_shards(root, split)
    urls = list(shards.urls)
    if not urls:
        raise ValueError(f"{root} has no {split!r} shards")
    return datasets.load_dataset(
        "webdataset",
        data_files={split: urls},
        split=split,
        features=clip_features(meta, shards.multi_label if shards.labels else None),
        streaming=streaming,
    )
