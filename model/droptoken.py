"""DropToken: keep a random subset of the video or audio tokens at training time.

As in the reference code, one random permutation is shared by the whole batch: the kept tokens
are gathered with a single index_select along the token axis, which is cheap and keeps the batch
rectangular, so the Transformer really runs on the shorter sequence.
"""

from __future__ import annotations

import torch


def kept_count(num_tokens: int, drop_rate: float) -> int:
    """Tokens kept out of `num_tokens` at `drop_rate` (at least one): 1568 at 0.5 -> 784."""
    if not 0.0 <= drop_rate < 1.0:
        raise ValueError(f"drop_rate={drop_rate} must be in [0, 1)")
    return max(1, round(num_tokens * (1.0 - drop_rate)))


def kept_indices(num_tokens: int, drop_rate: float, device: torch.device) -> torch.Tensor:
    """Sorted indices of the tokens to keep: (kept_count,) int64.

    Sorting keeps the kept tokens in their original order; positions are already added, so the
    order does not change the result, but it makes the gather memory-friendly.
    """
    keep = kept_count(num_tokens, drop_rate)
    return torch.randperm(num_tokens, device=device)[:keep].sort().values
