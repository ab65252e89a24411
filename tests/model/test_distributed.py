"""Gathered negatives and synchronized BatchNorm with 2 real processes (gloo on CPU).

Each rank runs half of the global batch through a small DDP model (Linear + the heads'
synchronized BN) and the losses with gather=True. The loss value on every rank and the
parameter gradients after DDP's averaging must equal the single-process run on the full batch.
"""

from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from model.heads import SyncBatchNorm1d
from model.losses import vatt_loss

WORLD = 2
GLOBAL_BATCH, K, D_IN, D = 6, 3, 5, 4


class Toy(nn.Module):
    """video -> Linear -> synced BN (va); audio, text -> Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.video = nn.Linear(D_IN, D, bias=False)
        self.bn = SyncBatchNorm1d(D)
        self.audio = nn.Linear(D_IN, D)
        self.text = nn.Linear(D_IN, D)

    def forward(self, video: torch.Tensor, audio: torch.Tensor, text: torch.Tensor) -> dict:
        va = self.bn(self.video(video))
        return {
            "video_va": va,
            "video_vt": va,
            "audio_va": self.audio(audio),
            "text_vt": self.text(text),
        }


def batch() -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(7)
    video = torch.randn(GLOBAL_BATCH, D_IN, generator=gen)
    audio = torch.randn(GLOBAL_BATCH, D_IN, generator=gen)
    text = torch.randn(GLOBAL_BATCH, K, D_IN, generator=gen)
    text_mask = torch.rand(GLOBAL_BATCH, K, generator=gen) < 0.6
    text_mask[1] = False  # an empty bag on rank 0
    text_mask[4] = True
    audio_mask = torch.tensor([True, True, False, True, True, True])
    return video, audio, text, text_mask, audio_mask


def toy() -> Toy:
    torch.manual_seed(3)
    return Toy()


def run_step(model: nn.Module, rows: slice, gather: bool) -> dict[str, torch.Tensor]:
    video, audio, text, text_mask, audio_mask = batch()
    out = model(video[rows], audio[rows], text[rows])
    losses = vatt_loss(out, text_mask[rows], audio_mask[rows], temperature=0.1, gather=gather)
    losses["loss"].backward()
    return losses


def worker(rank: int, port: int, folder: str) -> None:
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=WORLD,
        timeout=timedelta(seconds=60),  # a stuck peer fails the test instead of hanging it
    )
    try:
        _compute(rank, folder)
        # Both ranks are done with DDP (its reducer freed inside _compute) before the group
        # goes: freeing a DDP model after its peer has torn the group down can block forever.
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _compute(rank: int, folder: str) -> None:
    model = nn.parallel.DistributedDataParallel(toy())
    per_rank = GLOBAL_BATCH // WORLD
    losses = run_step(model, slice(rank * per_rank, (rank + 1) * per_rank), gather=True)
    grads = {n: p.grad for n, p in model.module.named_parameters()}
    stats = {
        "running_mean": model.module.bn.running_mean,
        "running_var": model.module.bn.running_var,
    }
    torch.save(
        {"losses": {k: v.detach() for k, v in losses.items()}, "grads": grads, "stats": stats},
        Path(folder) / f"rank{rank}.pt",
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gathered_loss_and_gradients_equal_single_process_full_batch(tmp_path: Path) -> None:
    mp.spawn(worker, args=(free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    single = toy()
    expected = run_step(single, slice(None), gather=False)
    # The toy batch must exercise every masking path, or the comparison proves less.
    assert expected["nce_loss"].item() > 0 and expected["mil_nce_loss"].item() > 0
    for rank in range(WORLD):
        got = torch.load(tmp_path / f"rank{rank}.pt")
        for name, value in expected.items():
            torch.testing.assert_close(got["losses"][name], value.detach(), rtol=1e-5, atol=1e-6)
        for name, param in single.named_parameters():
            torch.testing.assert_close(got["grads"][name], param.grad, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(got["stats"]["running_mean"], single.bn.running_mean)
        torch.testing.assert_close(got["stats"]["running_var"], single.bn.running_var)
