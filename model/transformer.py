"""Pre-LN Transformer encoder: GELU MLP, dropout, final norm; attention through
`F.scaled_dot_product_attention` (flash / memory-efficient kernels where the backend has them).

One class serves both styles of the paper: ViT style (LayerNorm, biases) for video, audio and the
modality-agnostic backbone, and T5 style (RMS norms, no biases, a relative position bias computed
once and shared by every layer) for text.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import TowerSize
from .positions import RelativePositionBias


class Attention(nn.Module):
    """Multi-head self-attention with one fused QKV projection."""

    def __init__(self, dim: int, heads: int, bias: bool, dropout: float) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.dropout = dropout
        self.qkv = nn.Linear(dim, 3 * dim, bias=bias)
        self.out = nn.Linear(dim, dim, bias=bias)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        """x (B, L, D); attn_mask bool (B, 1, 1, L) True = attend, or additive float
        broadcastable to (B, H, L, L)."""
        b, length, dim = x.shape
        qkv = self.qkv(x).view(b, length, 3, self.heads, dim // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, H, L, Dh)
        if attn_mask is not None and attn_mask.is_floating_point():
            # SDPA wants an additive mask in the query's dtype (bf16 under autocast).
            attn_mask = attn_mask.to(q.dtype)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.dropout if self.training else 0.0
        )  # (B, H, L, Dh)
        return self.out(y.transpose(1, 2).reshape(b, length, dim))


class MLP(nn.Module):
    """Dense -> GELU -> dropout -> Dense."""

    def __init__(self, dim: int, hidden: int, bias: bool, dropout: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden, bias=bias)
        self.fc2 = nn.Linear(hidden, dim, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.dropout(F.gelu(self.fc1(x))))


def make_norm(dim: int, eps: float, rms: bool) -> nn.Module:
    """LayerNorm (ViT style) or RMSNorm without bias (T5 style)."""
    return nn.RMSNorm(dim, eps=eps) if rms else nn.LayerNorm(dim, eps=eps)


class Block(nn.Module):
    """x + drop(attn(norm(x))), then x + drop(mlp(norm(x)))."""

    def __init__(
        self,
        size: TowerSize,
        *,
        rms: bool,
        bias: bool,
        dropout: float,
        attention_dropout: float,
        eps: float,
    ) -> None:
        super().__init__()
        self.norm1 = make_norm(size.hidden, eps, rms)
        self.attn = Attention(size.hidden, size.heads, bias, attention_dropout)
        self.norm2 = make_norm(size.hidden, eps, rms)
        self.mlp = MLP(size.hidden, size.mlp, bias, dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        x = x + self.dropout(self.attn(self.norm1(x), attn_mask))
        return x + self.dropout(self.mlp(self.norm2(x)))


class Transformer(nn.Module):
    """A stack of pre-LN blocks and a final norm: (B, L, D) -> (B, L, D)."""

    def __init__(
        self,
        size: TowerSize,
        *,
        dropout: float,
        attention_dropout: float,
        eps: float,
        t5_style: bool = False,
        relative_buckets: int = 32,
        relative_max_distance: int = 64,
    ) -> None:
        super().__init__()
        self.size = size
        self.blocks = nn.ModuleList(
            Block(
                size,
                rms=t5_style,
                bias=not t5_style,
                dropout=dropout,
                attention_dropout=attention_dropout,
                eps=eps,
            )
            for _ in range(size.layers)
        )
        self.norm = make_norm(size.hidden, eps, t5_style)
        self.dropout = nn.Dropout(dropout)
        self.relative_bias = (
            RelativePositionBias(relative_buckets, relative_max_distance, size.heads)
            if t5_style
            else None
        )

    def attention_mask(self, x: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor | None:
        """The mask all layers share: None (video/audio in training, the fastest kernels), a
        bool padding mask, or the relative position bias plus -inf on padded keys."""
        if self.relative_bias is None:
            return None if valid is None else valid[:, None, None, :]  # (B, 1, 1, L)
        bias = self.relative_bias(x.shape[1])  # (1, H, L, L)
        if valid is None:
            return bias
        padding = torch.zeros(valid.shape, dtype=bias.dtype, device=bias.device)
        padding = padding.masked_fill(~valid, float("-inf"))[:, None, None, :]  # (B, 1, 1, L)
        return bias + padding  # (B, H, L, L)

    def forward(self, x: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, L, D); valid (B, L) bool, True = a real token (None = all real)."""
        mask = self.attention_mask(x, valid)
        for block in self.blocks:
            x = block(x, mask)
        return self.dropout(self.norm(x))
