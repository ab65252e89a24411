"""`train.hf_datasets.load_clips` keeps the labelled fields of vatt-clips/2 (typed from
dataset.json's kind of labels) and every ClipMeta field: a field its features left out would
be dropped silently by `datasets`."""

from __future__ import annotations

import json
from pathlib import Path

from train.hf_datasets import load_clips
from vattclips.dataset import list_shards
from vattclips.tars import iter_samples


def _jsons(root: Path, split: str) -> dict[str, dict]:
    return {
        s["__key__"]: json.loads(s["json"])
        for url in list_shards(str(root), split).urls
        for s in iter_samples(url)
    }


def test_labels_and_has_video_survive_datasets(labelled_root: Path, multi_label_root: Path):
    for root in (labelled_root, multi_label_root):
        want = _jsons(root, "val")
        rows = {r["__key__"]: r for r in load_clips(str(root), "val", streaming=True)}
        assert set(rows) == set(want)
        for key, meta in want.items():
            got = rows[key]["json"]
            for name in ("label", "label_index", "has_video", "has_audio", "clip"):
                assert got[name] == meta[name], (root.name, key, name)
    assert any(not m["has_video"] for m in _jsons(labelled_root, "val").values())
    assert all(isinstance(m["label_index"], list) for m in _jsons(multi_label_root, "val").values())
