"""The shard format `vatt-clips/2` (docs/shard-format.md): the one home of the data contract
between the shard builder (`pipeline/`) and any trainer (this project's `train/`, or another
video-text model). Both jobs import it; it needs no Beam, Ray or torch (the standard library,
fsspec, numpy, PyAV; pyarrow for the two tables; Hugging Face `tokenizers` for `words`).

Public API, for reading a dataset without this project's training code:

    import vattclips
    for clip in vattclips.iter_clips("gs://bucket/ds", "train"):
        clip.frames, clip.waveform, clip.texts, clip.neighbors, clip.meta, clip.label

Modules, one rule each:

- `schema`: the format's versions, the files of a dataset root, shard and member names;
- `keys`: video ids, the sample key `{video_id}_{clip:05d}` and its parser, the split;
- `meta`: the fields of a sample's json member (written by `ClipMeta`), labels;
- `nearest`: which captions are a clip's MIL-NCE positives (the K nearest in time);
- `captions`: a clip's texts as its json holds them (the bag of k <= K, one caption);
- `words`: how caption text splits into words (the corpus word counts and the tokenizer);
- `tars`: writing and reading the WebDataset tars;
- `tables`: the schemas of index.parquet and failures.parquet;
- `dataset`: reading a dataset root (dataset.json, shard lists, index, failures, counts);
- `storage`: fsspec access (object stores, the GCS emulator, atomic writes);
- `video`, `audio`: decoding the mp4 and flac members (`crop`: the crop box, without PyAV);
- `clips`: a sample decoded to frames, waveform and texts (`iter_clips`);
- `logs`: the logging setup of both jobs' command lines.

Importing `vattclips` alone loads nothing heavy: the names below load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "Caption": "vattclips.meta",
    "Clip": "vattclips.clips",
    "ClipError": "vattclips.clips",
    "DatasetRootError": "vattclips.dataset",
    "SCHEMA": "vattclips.schema",
    "SCHEMAS": "vattclips.schema",
    "ShardList": "vattclips.dataset",
    "iter_clips": "vattclips.clips",
    "iter_split": "vattclips.clips",
    "list_shards": "vattclips.dataset",
    "read_index": "vattclips.dataset",
    "read_summary": "vattclips.dataset",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'vattclips' has no attribute {name!r}")
