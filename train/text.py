"""Text of a clip: the K captions nearest in time (the MIL-NCE bag, `vattclips.captions`),
tokenized, with a mask; the captions of a sample of shards (the fallback vocabulary's corpus)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from transformers import PreTrainedTokenizerFast

from model import encode_texts
from train.stream import DataHealth, read_shard
from vattclips.captions import bag_texts
from vattclips.meta import read_meta

logger = logging.getLogger(__name__)


def neighbor_texts(meta: dict[str, Any], txt: str, k: int) -> list[str]:
    """K caption strings, the MIL-NCE bag (`vattclips.captions.bag_texts`), padded with ""
    (masked out) to exactly K."""
    texts = bag_texts(meta, txt, k)
    return texts + [""] * (k - len(texts))


def tokenize_bag(
    tokenizer: PreTrainedTokenizerFast, texts: Sequence[str], max_tokens: int
) -> tuple[np.ndarray, np.ndarray]:
    """(K, max_tokens) int64 ids (0 = padding) and (K,) bool mask (True = a real caption)."""
    ids = encode_texts(tokenizer, list(texts), max_tokens=max_tokens).numpy().astype(np.int64)
    mask = (ids != 0).any(axis=1)
    return ids, mask


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
                meta = read_meta(sample)
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
