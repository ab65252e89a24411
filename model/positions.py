"""Positional information: learned tables (interpolated for other input sizes) and T5's
relative position bias."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def resize_table(table: torch.Tensor, length: int) -> torch.Tensor:
    """Linearly interpolate a learned (N, D) table to (length, D); the table itself if N == length.

    This is how the paper fine-tunes 8+14+14 video positions to 8+20+20 for larger crops.
    """
    if table.shape[0] == length:
        return table
    # F.interpolate wants (batch, channels, length): one batch, D channels.
    resized = F.interpolate(table.T.unsqueeze(0), size=length, mode="linear", align_corners=False)
    return resized.squeeze(0).T  # (length, D)


class FactorizedPositions(nn.Module):
    """Video positions: learned temporal (t), vertical (h) and horizontal (w) tables, summed over
    the grid, then LayerNorm'd (as the reference code does) before being added to the tokens."""

    def __init__(self, grid: tuple[int, int, int], dim: int, eps: float) -> None:
        super().__init__()
        t, h, w = grid
        self.temporal = nn.Parameter(torch.zeros(t, dim))
        self.vertical = nn.Parameter(torch.zeros(h, dim))
        self.horizontal = nn.Parameter(torch.zeros(w, dim))
        self.norm = nn.LayerNorm(dim, eps=eps)

    def forward(self, grid: tuple[int, int, int]) -> torch.Tensor:
        """Positions of a (t, h, w) token grid, flattened time-major: (t * h * w, D)."""
        t, h, w = grid
        pos = (
            resize_table(self.temporal, t)[:, None, None, :]
            + resize_table(self.vertical, h)[None, :, None, :]
            + resize_table(self.horizontal, w)[None, None, :, :]
        )  # (t, h, w, D)
        return self.norm(pos.reshape(t * h * w, -1))


class LearnedPositions(nn.Module):
    """1-D learned positions (audio; text in the modality-agnostic model), LayerNorm'd.

    `interpolate=True` (audio) stretches the table over a clip of another length, as for video;
    `interpolate=False` (text) gives word i position i, so padding never moves the others.
    """

    def __init__(self, length: int, dim: int, eps: float, interpolate: bool) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.zeros(length, dim))
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.interpolate = interpolate

    def forward(self, length: int) -> torch.Tensor:
        """Positions of a sequence of `length` tokens: (length, D)."""
        if self.interpolate:
            return self.norm(resize_table(self.table, length))
        if length > self.table.shape[0]:
            raise ValueError(
                f"sequence of {length} tokens is longer than the {self.table.shape[0]} positions"
            )
        return self.norm(self.table[:length])


def relative_position_bucket(
    relative_position: torch.Tensor, num_buckets: int, max_distance: int
) -> torch.Tensor:
    """T5's bidirectional bucketing: half the buckets per direction, exact for small distances,
    logarithmic up to `max_distance`, the last bucket beyond it."""
    num_buckets //= 2
    buckets = (relative_position > 0).long() * num_buckets
    distance = relative_position.abs()
    max_exact = num_buckets // 2
    is_small = distance < max_exact
    # Clamp to 1 before the log so that distance 0 (taken from the exact branch) is not -inf.
    log_ratio = torch.log(distance.float().clamp(min=1) / max_exact) / math.log(
        max_distance / max_exact
    )
    large = max_exact + (log_ratio * (num_buckets - max_exact)).long()
    large = large.clamp(max=num_buckets - 1)
    return buckets + torch.where(is_small, distance, large)


class RelativePositionBias(nn.Module):
    """Learned per-head bias of the attention scores from bucketed key-query distances (T5).

    Computed once per forward and shared by every layer, as in T5 and the reference code.
    """

    def __init__(self, num_buckets: int, max_distance: int, heads: int) -> None:
        super().__init__()
        self.num_buckets = num_buckets
        self.max_distance = max_distance
        self.bias = nn.Embedding(num_buckets, heads)

    def forward(self, length: int) -> torch.Tensor:
        """Bias of a `length`-token sequence: (1, heads, length, length)."""
        position = torch.arange(length, device=self.bias.weight.device)
        relative = position[None, :] - position[:, None]  # (q, k): key minus query
        buckets = relative_position_bucket(relative, self.num_buckets, self.max_distance)
        return self.bias(buckets).permute(2, 0, 1).unsqueeze(0)
