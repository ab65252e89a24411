"""Reading a dataset root (any fsspec URI): `dataset.json`, the shards of a split,
`index.parquet`, `failures.parquet`, `word_counts.json` (docs/shard-format.md).

The root's `dataset.json` lists every shard with its split and sample count, and for a labelled
dataset (`vatt-clips/2`) the class names (index -> name) and whether it is multi-label; a root
without one (e.g. a bucket being filled by hand) falls back to globbing
`shards/{split}-*.tar`, with sample counts and labels unknown.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vattclips import storage
from vattclips.schema import (
    DATASET_FILE,
    FAILURES_FILE,
    INDEX_FILE,
    SCHEMAS,
    SHARDS_DIR,
    SPLITS,
    WORD_COUNTS_FILE,
    shard_pattern,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from vattclips.words import WordCounts

logger = logging.getLogger(__name__)


class DatasetRootError(Exception):
    """A dataset root that cannot be read or holds no shards for the asked split."""


@dataclass(frozen=True)
class ShardList:
    """The shards of one split: full URLs (same scheme as the root) and their sample counts."""

    root: str
    split: str
    urls: tuple[str, ...]
    samples: tuple[int, ...] | None  # None when the root has no dataset.json
    labels: tuple[str, ...] | None = None  # class names, index -> name; None: unlabelled
    multi_label: bool = False  # clips carry a list of label indices (AudioSet-style)

    @property
    def total_samples(self) -> int | None:
        return None if self.samples is None else sum(self.samples)


def _join(root: str, relative: str) -> str:
    # Keeps the root's spelling (scheme, relative path): the URLs are the user's.
    return root.rstrip("/") + "/" + relative.lstrip("/")


def read_summary(root: str, required: bool = False) -> dict[str, Any] | None:
    """The root's dataset.json, its schema checked; None when there is none (DatasetRootError
    when `required`). DatasetRootError naming the file when it is not JSON or of another
    schema."""
    uri = _join(root, DATASET_FILE)
    if not storage.exists(uri):
        if required:
            raise DatasetRootError(f"{uri} is missing (not a finished vatt-clips build?)")
        return None
    try:
        summary = json.loads(storage.read_bytes(uri))
    except ValueError as error:
        raise DatasetRootError(f"{uri}: not JSON ({error})") from None
    schema = summary.get("schema") if isinstance(summary, dict) else None
    if schema not in SCHEMAS:
        expected = " or ".join(repr(s) for s in SCHEMAS)
        raise DatasetRootError(f"{uri}: schema {schema!r}, expected {expected}")
    return summary


def list_shards(root: str, split: str) -> ShardList:
    """The shards of `split` under the dataset `root`, in the order dataset.json lists them."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    summary = read_summary(root)
    if summary is not None:
        rows = [s for s in summary.get("shards", []) if s.get("split") == split]
        urls = tuple(_join(root, s["name"]) for s in rows)
        samples: tuple[int, ...] | None = tuple(int(s.get("samples", 0)) for s in rows)
        names = summary.get("labels")
        labels = tuple(str(n) for n in names) if names is not None else None
        multi_label = bool(summary.get("multi_label", False))
    else:
        logger.warning("%s has no %s; globbing %s", root, DATASET_FILE, shard_pattern(split))
        found = storage.glob(_join(root, shard_pattern(split)))
        urls = tuple(_join(root, f"{SHARDS_DIR}/" + p.rsplit("/", 1)[-1]) for p in found)
        samples = None
        labels, multi_label = None, False
    if not urls:
        raise DatasetRootError(f"no {split!r} shards under {root}")
    return ShardList(root, split, urls, samples, labels, multi_label)


def read_index(root: str, columns: list[str] | None = None) -> pa.Table:
    """Columns of the root's index.parquet (one row per sample) as a pyarrow Table;
    DatasetRootError when the root has none."""
    uri = _join(root, INDEX_FILE)
    if not storage.exists(uri):
        raise DatasetRootError(f"{root}: no {INDEX_FILE} (not a finished vatt-clips build?)")
    return storage.read_parquet(uri, columns)


def read_failures(root: str) -> list[dict[str, Any]]:
    """The rows of the root's failures.parquet ([] when it has none)."""
    uri = _join(root, FAILURES_FILE)
    return storage.read_parquet(uri).to_pylist() if storage.exists(uri) else []


def read_word_counts(root: str) -> WordCounts | None:
    """The root's word_counts.json, or None when it has none."""
    from vattclips.words import WordCounts  # Hugging Face tokenizers: only when asked

    uri = _join(root, WORD_COUNTS_FILE)
    if not storage.exists(uri):
        return None
    return WordCounts.from_json(storage.read_bytes(uri), name=_join(root, WORD_COUNTS_FILE))
