"""Common-space projection heads (semantically hierarchical, as in the paper):

- video -> va (512): Linear(no bias) -> BN -> ReLU -> Linear(no bias) -> BN   = z_v,va
- va -> vt (256), video only: ReLU -> Linear(no bias) -> BN applied to z_v,va  = z_v,vt
- audio -> va: one Linear;  text -> vt: one Linear.

BatchNorm statistics are synchronized across data-parallel ranks, like the reference code's
cross-replica BN. torch's nn.SyncBatchNorm refuses CPU tensors, so the heads use their own
synchronized BN, which works with gloo and NCCL alike.
"""

from __future__ import annotations

import torch
from torch import nn

from .collectives import sum_with_grad, world_size


class SyncBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d over (B, C) whose training statistics cover the global batch of all ranks.

    Single-process (or `sync=False`, or eval mode): exactly nn.BatchNorm1d.
    """

    def __init__(self, num_features: int, sync: bool = True) -> None:
        super().__init__(num_features)
        self.sync = sync

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and self.sync and world_size() > 1):
            return super().forward(x)
        x32 = x.float()
        channels = self.num_features
        # One collective for sum, sum of squares and count: (2C + 1,).
        local = torch.cat([x32.sum(0), (x32 * x32).sum(0), x32.new_full((1,), float(x32.shape[0]))])
        stats = sum_with_grad(local)
        count = stats[-1]
        mean = stats[:channels] / count
        var = (stats[channels : 2 * channels] / count - mean * mean).clamp(min=0)  # biased
        with torch.no_grad():
            unbiased = var * count / (count - 1).clamp(min=1)
            self.running_mean.lerp_(mean.detach(), self.momentum)
            self.running_var.lerp_(unbiased.detach(), self.momentum)
            self.num_batches_tracked.add_(1)
        y = (x32 - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias
        return y.to(x.dtype)


class CommonSpaceHeads(nn.Module):
    """Projections of the pooled [AGG] features into the va and vt spaces."""

    def __init__(
        self, video_dim: int, audio_dim: int, text_dim: int, va_dim: int, vt_dim: int, sync: bool
    ) -> None:
        super().__init__()
        self.video_to_hidden = nn.Linear(video_dim, va_dim, bias=False)
        self.video_hidden_bn = SyncBatchNorm1d(va_dim, sync)
        self.video_to_va = nn.Linear(va_dim, va_dim, bias=False)
        self.video_va_bn = SyncBatchNorm1d(va_dim, sync)
        self.va_to_vt = nn.Linear(va_dim, vt_dim, bias=False)
        self.video_vt_bn = SyncBatchNorm1d(vt_dim, sync)
        self.audio_to_va = nn.Linear(audio_dim, va_dim)
        self.text_to_vt = nn.Linear(text_dim, vt_dim)

    def video(self, pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, Dv) -> z_v,va (B, va_dim) and z_v,vt (B, vt_dim)."""
        hidden = torch.relu(self.video_hidden_bn(self.video_to_hidden(pooled)))
        va = self.video_va_bn(self.video_to_va(hidden))
        vt = self.video_vt_bn(self.va_to_vt(torch.relu(va)))
        return va, vt

    def audio(self, pooled: torch.Tensor) -> torch.Tensor:
        """(B, Da) -> z_a,va (B, va_dim)."""
        return self.audio_to_va(pooled)

    def text(self, pooled: torch.Tensor) -> torch.Tensor:
        """(N, Dt) -> z_t,vt (N, vt_dim)."""
        return self.text_to_vt(pooled)
