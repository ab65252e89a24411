"""Find the shards of one split of a `vatt-clips` dataset root (any fsspec URI).

The root's `dataset.json` lists every shard with its split and sample count, and for a labelled
dataset (`vatt-clips/2`) the class names (index -> name) and whether it is multi-label; a root
without one (e.g. a bucket being filled by hand) falls back to globbing
`shards/{split}-*.tar`, with sample counts and labels unknown.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import fsspec
import webdataset as wds

from vattclips.schema import SCHEMAS, SPLITS

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
    return root.rstrip("/") + "/" + relative.lstrip("/")


def register_fsspec_schemes() -> None:
    """Open object-storage URLs in webdataset through fsspec (its default shells out to gsutil)."""

    def _open(url: str, mode: str = "rb", bufsize: int = 8192, **_: object):  # noqa: ARG001
        return fsspec.open(url, mode).open()

    for scheme in ("gs", "gcs", "s3"):
        wds.gopen_schemes[scheme] = _open


def list_shards(root: str, split: str) -> ShardList:
    """The shards of `split` under the dataset `root`, in the order dataset.json lists them."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    fs, path = fsspec.core.url_to_fs(root)
    summary_path = _join(path, "dataset.json")
    if fs.exists(summary_path):
        with fs.open(summary_path, "rb") as f:
            try:
                summary = json.load(f)
            except ValueError as error:
                raise DatasetRootError(
                    f"{_join(root, 'dataset.json')}: not JSON ({error})"
                ) from None
        if summary.get("schema") not in SCHEMAS:
            expected = " or ".join(repr(s) for s in SCHEMAS)
            raise DatasetRootError(
                f"{_join(root, 'dataset.json')}: schema {summary.get('schema')!r}, "
                f"expected {expected}"
            )
        rows = [s for s in summary.get("shards", []) if s.get("split") == split]
        urls = tuple(_join(root, s["name"]) for s in rows)
        samples: tuple[int, ...] | None = tuple(int(s.get("samples", 0)) for s in rows)
        names = summary.get("labels")
        labels = tuple(str(n) for n in names) if names is not None else None
        multi_label = bool(summary.get("multi_label", False))
    else:
        logger.warning("%s has no dataset.json; globbing shards/%s-*.tar", root, split)
        found = sorted(fs.glob(_join(path, f"shards/{split}-*.tar")))
        # Keep the root's spelling (scheme, relative path) and only append the shard names.
        urls = tuple(_join(root, "shards/" + p.rsplit("/", 1)[-1]) for p in found)
        samples = None
        labels, multi_label = None, False
    if not urls:
        raise DatasetRootError(f"no {split!r} shards under {root}")
    return ShardList(root, split, urls, samples, labels, multi_label)
