"""Collectives across data-parallel ranks that keep gradients (gloo on CPU, NCCL on GPU).

Used for the global negatives of the contrastive losses and the synchronized BatchNorm of the
common-space heads. Without an initialised process group (or with one rank) they are identities.

Gradient convention: the backward of a gather / sum sums the incoming gradients over ranks. With
DDP, which averages parameter gradients over ranks, the parameters then receive the gradient of
the mean over ranks of the per-rank losses.
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def world_size() -> int:
    """Ranks in the default process group; 1 when torch.distributed is not initialised."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.rank, ctx.world = dist.get_rank(), dist.get_world_size()
        parts = [torch.empty_like(x) for _ in range(ctx.world)]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        # Every rank's loss may depend on this rank's slice: sum their gradients, keep our slice.
        grad = grad.contiguous()
        dist.all_reduce(grad)
        return grad.chunk(ctx.world, dim=0)[ctx.rank]


class _SumWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        total = x.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate every rank's `x` along dim 0, rank order: (world * B, ...).

    All ranks must pass the same shape (DDP's equal batches). Gradients flow back to each rank's
    own slice.
    """
    if world_size() == 1:
        return x
    return _GatherWithGrad.apply(x)


def gather_no_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate every rank's `x` along dim 0 (masks, counts); bool is sent as uint8."""
    if world_size() == 1:
        return x
    sent = x.to(torch.uint8) if x.dtype == torch.bool else x.contiguous()
    parts = [torch.empty_like(sent) for _ in range(world_size())]
    dist.all_gather(parts, sent)
    return torch.cat(parts, dim=0).to(x.dtype)


def sum_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Elementwise sum of `x` over ranks, differentiable."""
    if world_size() == 1:
        return x
    return _SumWithGrad.apply(x)
