"""A clip's texts as its json holds them: the MIL-NCE bag (the k nearest stored neighbours,
by the builder's own rule), and one caption per clip for retrieval.

The builder stored the shard's K nearest (sorted by start, not by distance); a reader that
wants k < K takes the nearest of those by the same rule (`vattclips.nearest`), which are the
nearest of all the video's captions, not the first k.
"""

from __future__ import annotations

from typing import Any

from vattclips.nearest import nearest_k


def _span(caption: dict[str, Any]) -> tuple[float, float]:
    return (float(caption.get("start", 0.0)), float(caption.get("end", 0.0)))


def nearest_captions(meta: dict[str, Any], k: int) -> list[dict[str, Any]]:
    """The k captions of the json's `neighbors` nearest in time to the clip, in time order.
    Captions without text are not candidates."""
    captions = [n for n in meta.get("neighbors") or [] if str(n.get("text", "")).strip()]
    if "start" not in meta or "end" not in meta:  # no window to measure from: the stored order
        return captions[: max(0, k)]
    return nearest_k(captions, float(meta["start"]), float(meta["end"]), k, _span)


def bag_texts(meta: dict[str, Any], txt: str, k: int) -> list[str]:
    """Up to k caption strings, the MIL-NCE bag: the k nearest of the json's `neighbors`,
    else the clip's own `txt` (when it has text), else none."""
    texts = [str(n["text"]).strip() for n in nearest_captions(meta, k)]
    if not texts and txt.strip():
        texts = [txt.strip()]
    return texts


def clip_caption(meta: dict[str, Any], txt: str) -> str:
    """One text per clip for retrieval: its own overlapping captions (`txt`), else the nearest
    neighbour caption, else ""."""
    if txt.strip():
        return txt.strip()
    nearest = nearest_captions(meta, 1)
    return str(nearest[0]["text"]).strip() if nearest else ""
