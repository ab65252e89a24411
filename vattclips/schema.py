"""The names of the shard format (docs/shard-format.md): its versions, the files of a dataset
root, the shard names and the members of a sample. The builder writes these names and every
reader looks for them; both import them from here."""

from __future__ import annotations

SCHEMA = "vatt-clips/2"  # what a build writes: /2 adds labels, spans, audio-only samples
# What a reader accepts: /2 only adds optional things, so a /1 dataset is a /2 dataset
# without labels.
SCHEMAS = ("vatt-clips/1", "vatt-clips/2")
SPLITS = ("train", "val")

# The files of a dataset root (any fsspec URI), relative to it.
DATASET_FILE = "dataset.json"  # summary: options, counts, the shard list, labels
INDEX_FILE = "index.parquet"  # one row per sample
FAILURES_FILE = "failures.parquet"  # one row per input (or part of one) that gave no sample
WORD_COUNTS_FILE = "word_counts.json"  # the words of the train captions, counted
WORD_COUNTS_SCHEMA = "vatt-word-counts/1"
SHARDS_DIR = "shards"

# The members of a sample: `{key}.{ext}` in the tar, next to each other.
MP4 = "mp4"  # absent in an audio-only sample
FLAC = "flac"  # absent when the source has no audio
TXT = "txt"
CLS = "cls"  # single-label datasets only
JSON = "json"
MEMBERS = (CLS, FLAC, JSON, MP4, TXT)


def shard_name(split: str, n: int) -> str:
    """The name of shard `n` of `split`, relative to the root: `shards/{split}-{n:06d}.tar`."""
    return f"{SHARDS_DIR}/{split}-{n:06d}.tar"


def shard_pattern(split: str) -> str:
    """A glob of the shards of `split`, relative to the root (a root without dataset.json)."""
    return f"{SHARDS_DIR}/{split}-*.tar"
