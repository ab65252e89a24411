"""The K captions nearest in time to a clip window: the MIL-NCE bag of positives.

One rule for the builder (which writes the `neighbors` of each sample, pipeline/clips.py) and
the loader (which takes K of them for the model, train/text.py), so that a model with a K below
the shard's gets the K nearest of the stored captions, which are the K nearest of all.

Distance of a caption [s, e) to the window [start, end): the gap between them (0 when they
overlap); ties broken by the distance between their centres, then by the caption's start.
Times are compared at the microsecond, the precision of the shard's json (`start`/`end` are
written rounded to 6 decimals), so the loader ranks from the json exactly as the builder did.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")

DECIMALS = 6  # seconds are compared to the microsecond (float noise must not decide)


def caption_rank(
    start: float, end: float, cap_start: float, cap_end: float
) -> tuple[float, float, float]:
    """Sort key of caption [cap_start, cap_end) for the window [start, end): smaller is nearer."""
    start, end = round(start, DECIMALS), round(end, DECIMALS)
    gap = round(max(0.0, cap_start - end, start - cap_end), DECIMALS)
    centre = round(abs((cap_start + cap_end) / 2 - (start + end) / 2), DECIMALS)
    return (gap, centre, cap_start)


def nearest_k(
    items: Iterable[T],
    start: float,
    end: float,
    k: int,
    span: Callable[[T], tuple[float, float]],
) -> list[T]:
    """The `k` items nearest to the window by `caption_rank`, returned in time order.

    `span(item)` gives an item's (start, end) in seconds. Equal ranks keep the input order.
    """
    if k <= 0:
        return []
    chosen = heapq.nsmallest(k, items, key=lambda item: caption_rank(start, end, *span(item)))
    return sorted(chosen, key=span)
