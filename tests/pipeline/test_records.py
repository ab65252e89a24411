"""The records of a build: they pickle (runners move them as they are) and their JSON on disk is
the one earlier builds committed (a re-run resumes from it)."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

from pipeline.errors import STAGES
from pipeline.labels import LabelSpace
from pipeline.manifest import ManifestRow
from pipeline.options import BuildOptions
from pipeline.records import (
    Failure,
    IndexRow,
    LostClips,
    RoundRecord,
    ShardCommit,
    VideoRecord,
)

ROW = ManifestRow(
    line=7,
    video="/v/a.mp4",
    video_id="a",
    captions={"start": [0.0], "end": [1.5], "text": ["hi"]},
    meta={"lang": "en", "tags": ["x"]},
    label=["blue", "red"],
    split="val",
    start=1.25,
    end=None,
)


def _index_row(key: str) -> IndexRow:
    return IndexRow(key, "shards/train-000000.tar", "train", "a", "/v/a.mp4", 0, 0.0, 3.2, True,
                    True, [], 12, 1, 2)  # fmt: skip


def test_a_staged_manifest_row_is_sorted_json_of_its_fields_and_reads_back():
    line = ROW.to_json()
    assert list(json.loads(line)) == sorted(
        ["captions", "end", "label", "line", "meta", "split", "start", "video", "video_id"]
    )
    assert line == json.dumps(json.loads(line), sort_keys=True)
    assert ManifestRow.from_json(line) == ROW


def test_a_shard_commit_keeps_its_json_layout_and_reads_back_typed():
    commit = ShardCommit(
        "shards/train-000000.tar", "train", 2, 4096, {"b": LostClips(1, "gone")},
        [_index_row("a_00000"), _index_row("a_00001")],
    )  # fmt: skip
    data = commit.to_json()
    d = json.loads(data)
    assert list(d) == ["name", "split", "samples", "bytes", "lost", "rows"]
    assert d["lost"] == {"b": [1, "gone"]}
    assert list(d["rows"][0]) == [
        "key", "shard", "split", "video_id", "source", "clip", "start", "end", "has_audio",
        "has_video", "labels", "text_chars", "n_segments", "n_neighbors",
    ]  # fmt: skip
    back = ShardCommit.from_json(data)
    assert back == commit and isinstance(back.lost["b"], LostClips)
    assert isinstance(back.rows[0], IndexRow)
    assert back.entry().bytes == 4096


def test_video_and_round_records_read_back():
    rec = VideoRecord("a", 7, "/v/a.mp4", "train", clips=2, offsets=[0, 10, 20], round=1)
    rec.failures.append(Failure("/v/a.mp4", 7, "a", "asr", "boom", 0, True))
    assert VideoRecord.from_json(rec.to_json()) == rec
    assert rec.to_json() == json.dumps(json.loads(rec.to_json()), sort_keys=True).encode()
    done = RoundRecord(1, 3, {"train": 2})
    assert RoundRecord.from_json(done.to_json()) == done


def test_what_crosses_the_beam_graph_pickles():
    labels = LabelSpace(("blue", "red"), multi_label=True)
    for value in (ROW, BuildOptions(asr="none"), labels, VideoRecord("a", 1, "s", "train")):
        assert pickle.loads(pickle.dumps(value)) == value
    assert pickle.loads(pickle.dumps(labels)).clip_fields(["red"])[0]["label_index"] == [1]


def test_the_stage_names_are_the_documented_ones():
    doc = (Path(__file__).parents[2] / "docs" / "shard-format.md").read_text()
    row = next(line for line in doc.splitlines() if line.startswith("| `stage` |"))
    assert tuple(re.findall(r"`(\w+)`", row.split("|")[2])) == STAGES
