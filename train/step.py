"""One training step of VATT, apart from Ray: device transfer, forward, losses, backward.

`train.loop` runs it under Ray Train; `bench/model_gpu.py` times exactly this code on a GPU
without Ray or the data path (so it imports only torch and `model`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from model import vatt_loss
from train.augment import finalize_video

INPUT_KEYS = ("video", "video_affine", "video_mask", "audio", "audio_mask", "text_ids", "text_mask")


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, torch.Tensor]:
    """A loader batch on `device`, its colour step finished there (cheaper than on the CPU)."""
    moved = {k: batch[k].to(device, non_blocking=True) for k in INPUT_KEYS}
    moved["video"] = finalize_video(moved.pop("video"), moved.pop("video_affine"))
    return moved  # video (B, 3, T, H, W) in [-1, 1], audio (B, S), text_ids (B, K, L), masks


def make_optimizer(
    params: Iterable[torch.nn.Parameter], lr: float, device: torch.device
) -> torch.optim.Adam:
    """The paper's Adam (b1 0.9, b2 0.999, no weight decay); the fused kernel on a GPU (one
    launch for all parameters instead of several per tensor)."""
    return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), fused=device.type == "cuda")


def train_step(
    forward: torch.nn.Module,
    inputs: dict[str, torch.Tensor],
    cfg: Any,
    autocast: bool,
    gather: bool,
) -> dict[str, torch.Tensor]:
    """Forward (bf16 autocast when asked: on GPU) and backward of one batch; returns the loss
    terms as tensors on the device (nothing here waits for the GPU)."""
    with torch.autocast(inputs["video"].device.type, dtype=torch.bfloat16, enabled=autocast):
        out = forward(video=inputs["video"], audio=inputs["audio"], text_ids=inputs["text_ids"])
        losses = vatt_loss(
            out,
            text_mask=inputs["text_mask"],  # (B, K) the MIL-NCE bags
            audio_mask=inputs["audio_mask"],  # (B,) clips without audio sit out of NCE
            temperature=cfg.temperature,
            mil_nce_weight=cfg.mil_nce_weight,
            reduction=cfg.loss_reduction,  # "sum" for configs saved before it (its default)
            gather=gather,
        )
    losses["loss"].backward()
    return losses
