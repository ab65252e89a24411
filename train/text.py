"""Text of a clip: the K captions nearest in time (the MIL-NCE bag), tokenized, with a mask."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from transformers import PreTrainedTokenizerFast

from model import encode_texts
from train.stream import DataHealth, read_json_member, read_shard
from vattclips.nearest import nearest_k

logger = logging.getLogger(__name__)


def _span(caption: dict[str, Any]) -> tuple[float, float]:
    return (float(caption.get("start", 0.0)), float(caption.get("end", 0.0)))


def nearest_captions(meta: dict[str, Any], k: int) -> list[dict[str, Any]]:
    """The k captions of the json's `neighbors` nearest in time to the clip, in time order.

    The builder stored the shard's K nearest (sorted by start, not by distance); a model with a
    smaller K takes the nearest of those by the builder's own rule (`vattclips.nearest`), which
    are the nearest of all the video's captions. Captions without text are not candidates.
    """
    captions = [n for n in meta.get("neighbors") or [] if str(n.get("text", "")).strip()]
    if "start" not in meta or "end" not in meta:  # no window to measure from: the stored order
        return captions[: max(0, k)]
    return nearest_k(captions, float(meta["start"]), float(meta["end"]), k, _span)


def neighbor_texts(meta: dict[str, Any], txt: str, k: int) -> list[str]:
    """K caption strings, the MIL-NCE bag: the K nearest of the json's `neighbors`, else the
    clip's own `txt`; padded with "" (masked out) to exactly K."""
    texts = [str(n["text"]).strip() for n in nearest_captions(meta, k)]
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
    nearest = nearest_captions(meta, 1)
    return str(nearest[0]["text"]).strip() if nearest else ""


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
