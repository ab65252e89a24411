"""Reading a dataset root: dataset.json and its schema, the shards of a split (listed or
globbed), the index, the failures and the word counts, on local folders and fsspec URIs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import fsspec
import pytest

from vattclips.dataset import (
    DatasetRootError,
    list_shards,
    read_failures,
    read_index,
    read_summary,
    read_word_counts,
)
from vattclips.schema import SCHEMAS
from vattclips.tables import FAILURES_SCHEMA


def test_shards_of_a_split_in_dataset_json_order(synthetic_root: Path) -> None:
    summary = read_summary(str(synthetic_root))
    assert summary is not None and summary["schema"] in SCHEMAS
    train = list_shards(str(synthetic_root), "train")
    listed = [s for s in summary["shards"] if s["split"] == "train"]
    assert train.urls == tuple(f"{synthetic_root}/{s['name']}" for s in listed)
    assert train.samples == tuple(s["samples"] for s in listed) and train.total_samples == 36
    assert train.labels is None and not train.multi_label
    with pytest.raises(ValueError, match="split must be one of"):
        list_shards(str(synthetic_root), "test")


def test_labels_come_from_dataset_json(labelled_root: Path) -> None:
    shards = list_shards(str(labelled_root), "val")
    assert shards.labels == tuple(
        json.loads((labelled_root / "dataset.json").read_text())["labels"]
    )
    assert len(shards.labels) == 8 and not shards.multi_label


def test_dataset_root_errors_name_the_input(tmp_path: Path, synthetic_root: Path) -> None:
    with pytest.raises(DatasetRootError, match=str(tmp_path)):
        list_shards(str(tmp_path), "train")
    with pytest.raises(DatasetRootError, match="dataset.json is missing"):
        read_summary(str(tmp_path), required=True)
    assert read_summary(str(tmp_path)) is None
    with pytest.raises(DatasetRootError, match=f"{tmp_path}: no index.parquet"):
        read_index(str(tmp_path))
    assert read_failures(str(tmp_path)) == [] and read_word_counts(str(tmp_path)) is None
    copy = tmp_path / "copy"
    shutil.copytree(synthetic_root, copy)
    (copy / "dataset.json").unlink()  # falls back to globbing shards/
    globbed = list_shards(str(copy), "train")
    assert len(globbed.urls) == 6 and globbed.samples is None
    (copy / "dataset.json").write_text("{cut sh")
    with pytest.raises(DatasetRootError, match="dataset.json: not JSON"):
        list_shards(str(copy), "train")
    (copy / "dataset.json").write_text(json.dumps({"schema": "other/9", "shards": []}))
    with pytest.raises(DatasetRootError, match="schema 'other/9', expected 'vatt-clips/1' or"):
        list_shards(str(copy), "train")


def test_tables_of_a_root(synthetic_root: Path) -> None:
    index = read_index(str(synthetic_root), ["key", "split"])
    assert index.column_names == ["key", "split"] and index.num_rows == 48
    assert read_failures(str(synthetic_root)) == []
    assert FAILURES_SCHEMA.names == [
        "source", "line", "video_id", "stage", "error", "clips_lost", "transient"
    ]  # fmt: skip


def test_a_root_behind_an_fsspec_uri(synthetic_root: Path) -> None:
    # An object-store-like filesystem without a local path: fsspec's in-memory one.
    fs = fsspec.filesystem("memory")
    for path in synthetic_root.rglob("*"):
        if path.is_file():
            fs.pipe(f"/bucket/ds/{path.relative_to(synthetic_root)}", path.read_bytes())
    try:
        shards = list_shards("memory://bucket/ds", "val")
        assert all(u.startswith("memory://bucket/ds/shards/val-") for u in shards.urls)
        assert read_index("memory://bucket/ds", ["key"]).num_rows == 48
        fs.rm("/bucket/ds/dataset.json")
        globbed = list_shards("memory://bucket/ds", "val")
        assert globbed.urls == shards.urls  # the root's spelling kept
    finally:
        fs.rm("/bucket", recursive=True)
