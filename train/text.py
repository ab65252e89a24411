"""Text of a clip: the K captions nearest in time (the MIL-NCE bag), tokenized, with a mask."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from transformers import PreTrainedTokenizerFast

from model import encode_texts
from train.stream import DataHealth, read_json_member, read_shard

logger = logging.getLogger(__name__)


def neighbor_texts(meta: dict[str, Any], txt: str, k: int) -> list[str]:
    """K caption strings: the json's `neighbors` (nearest first in time order), else the clip's
    own `txt`; padded with "" (masked out) to exactly K."""
    texts = [str(n.get("text", "")).strip() for n in meta.get("neighbors") or []]
    texts = [t for t in texts if t][:k]
    if not texts and txt.strip():
        texts = [txt.strip()]
    return texts + [""] * (k - len(texts))


def tokenize_bag(
    tokenizer: PreTrainedTokenizerFast, texts: Sequence[str], max_tokens: int
) -> tuple[np.ndarray, np.ndarray]:
    """(K, max_tokens) int64 ids (0 = padding) and (K,) bool mask (True = a real caption)."""
    ids = encode_texts(tokenizer, list(texts), max_tokens=max_tokens).numpy().astype(np.int64)
    mask = (ids != 0).any(axis=1)
    return ids, mask


def clip_caption(meta: dict[str, Any], txt: str) -> str:
    """One text per clip for retrieval: its own overlapping captions (`txt`), else the nearest
    neighbour caption, else ""."""
    if txt.strip():
        return txt.strip()
    neighbors = meta.get("neighbors") or []
    if not neighbors:
        return ""
    start, end = float(meta.get("start", 0.0)), float(meta.get("end", 0.0))
    centre = (start + end) / 2.0

    def gap(n: dict[str, Any]) -> tuple[float, float]:
        s, e = float(n.get("start", 0.0)), float(n.get("end", 0.0))
        return (max(0.0, s - end, start - e), abs((s + e) / 2.0 - centre))

    return str(min(neighbors, key=gap).get("text", "")).strip()


def caption_corpus(
    urls: Sequence[str], max_samples: int = 20000, max_shards: int = 32
) -> Iterable[str]:
    """Caption texts (segments, neighbours, txt) of up to `max_samples` samples from up to
    `max_shards` shards spread evenly over `urls`: the tokenizer's training corpus.

    Capped because the whole tar is read to reach the json members; a few thousand clips give
    a word vocabulary close to the full one.
    """
    step = max(1, len(urls) // max_shards)
    chosen = list(urls)[::step][:max_shards]
    health = DataHealth()
    seen = 0
    for url in chosen:
        for sample in read_shard(url, health):
            try:
                meta = read_json_member(sample)
            except ValueError as error:
                health.sample_failed(sample["__key__"], url, error)
                continue
            for item in (meta.get("segments") or []) + (meta.get("neighbors") or []):
                yield str(item.get("text", ""))
            yield sample.get("txt", b"").decode("utf-8", "replace")
            seen += 1
            if seen >= max_samples:
                return
    if health.corrupt_samples or health.corrupt_shards:
        logger.warning("tokenizer corpus skipped %s", health.take())
