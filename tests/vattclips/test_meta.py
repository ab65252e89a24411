"""The json member: its bytes (sorted keys, the window to the microsecond, label fields only
on labelled clips) and how readers take its labels."""

from __future__ import annotations

import json

import pytest

from vattclips.meta import Caption, ClipMeta, label_indices, label_names, read_meta
from vattclips.schema import SCHEMA

FIELDS = {
    "key": "v_00001",
    "video_id": "v",
    "clip": 1,
    "source": "gs://b/v.mp4",
    "start": 3.2000000000000006,  # float noise: written to the microsecond
    "end": 6.4,
    "fps": 10.0,
    "frames": 32,
    "width": 342,
    "height": 256,
    "sample_rate": 48000,
    "samples": 153600,
    "has_audio": True,
    "has_video": True,
    "audio_padded": 0,
    "text_source": "captions:vtt",
    "segments": [{"start": 3.0, "end": 4.0, "text": "hi"}],
    "neighbors": [{"start": 3.0, "end": 4.0, "text": "hi"}],
    "probe": {"duration": 9.0},
    "meta": {"lang": "en"},
}


def test_the_json_member_is_the_documented_object_with_sorted_keys() -> None:
    data = ClipMeta(**FIELDS).to_json()
    want = {**FIELDS, "start": 3.2, "schema": SCHEMA}
    assert data == json.dumps(want, sort_keys=True).encode("utf-8")
    assert "label" not in json.loads(data) and "label_index" not in json.loads(data)
    labelled = json.loads(ClipMeta(**FIELDS, label="red", label_index=4).to_json())
    assert labelled["label"] == "red" and labelled["label_index"] == 4


def test_readers_take_labels_from_cls_or_the_json() -> None:
    meta = json.loads(ClipMeta(**FIELDS, label=["a", "c"], label_index=[0, 2]).to_json())
    sample = {"__key__": "v_00001", "json": json.dumps(meta).encode()}
    assert read_meta(sample) == meta
    assert label_indices(sample, meta) == [0, 2] and label_names(meta["label"]) == ["a", "c"]
    assert label_indices({"cls": b"4\n"}, {}) == [4] and label_names("red") == ["red"]
    assert label_indices({}, {"label_index": 3}) == [3] and label_indices({}, {}) == []
    assert label_names(None) == [] and read_meta({"__key__": "x"}) == {}
    with pytest.raises(ValueError, match="json member of 'x' is not an object"):
        read_meta({"__key__": "x", "json": b"[1, 2]"})
    assert Caption.from_dict({"start": 1, "end": 2.5, "text": "t"}) == Caption(1.0, 2.5, "t")
