"""Datasets the format package is tested on: the synthetic shards of tests/train (written by
webdataset's own TarWriter, not by this project's writer) and, in test_clips.py, real
pipeline output."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.train.shardgen import LABELLED, FixtureSpec, write_dataset

SPEC = FixtureSpec(samples_per_shard=6)  # 36 train clips in 6 shards, 12 val clips in 2


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("shards"), SPEC)


@pytest.fixture(scope="session")
def labelled_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """vatt-clips/2: a single label per clip, audio-only samples."""
    return write_dataset(tmp_path_factory.mktemp("labelled"), LABELLED)
