"""Learning rate: linear warmup, then the paper's quarter-period cosine from the peak to the end.

VATT: Adam, lr 1e-4, 10k warmup steps, quarter-period cosine down to 5e-5 over 500k steps.
    lr(t) = peak * t / W                                   for t < W
    lr(t) = end + (peak - end) * cos(pi/2 * (t - W) / (T - W))   for W <= t <= T
A quarter period of cos goes from 1 to 0, so the rate ends exactly at `end`. `half_cosine`
is the usual cosine decay instead (end + (peak - end)(1 + cos(pi p))/2), which the reference
code's fine-tuning uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clifields import option

if TYPE_CHECKING:  # imported where used: TrainConfig declares its settings from these, and the
    import torch  # CLIs parse arguments before torch loads


@dataclass(frozen=True)
class ScheduleConfig:
    peak_lr: float = option(1e-4, help="peak learning rate, reached at the end of the warmup")
    end_lr: float = option(5e-5, help="learning rate at the end of the decay")
    warmup_steps: int = option(10_000, help="linear warmup steps (at most a tenth of the run)")
    total_steps: int = option(500_000, help="optimizer steps; the decay ends there")
    half_cosine: bool = option(
        False, help="the usual half-period cosine decay instead of the paper's quarter period"
    )

    def effective_warmup(self) -> int:
        """Warmup for this run: the configured steps, at most a tenth of a short run."""
        return max(1, min(self.warmup_steps, self.total_steps // 10))


def lr_at(step: int, cfg: ScheduleConfig) -> float:
    """The learning rate after `step` optimizer steps."""
    warmup = cfg.effective_warmup()
    if step < warmup:
        return cfg.peak_lr * (step + 1) / warmup
    span = max(1, cfg.total_steps - warmup)
    progress = min(1.0, (step - warmup) / span)
    if cfg.half_cosine:
        return cfg.end_lr + (cfg.peak_lr - cfg.end_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
    return cfg.end_lr + (cfg.peak_lr - cfg.end_lr) * math.cos(0.5 * math.pi * progress)


def make_scheduler(
    optimizer: torch.optim.Optimizer, cfg: ScheduleConfig
) -> torch.optim.lr_scheduler.LambdaLR:
    """A LambdaLR following `lr_at` (the optimizer's lr must be `cfg.peak_lr`)."""
    import torch

    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_at(step, cfg) / cfg.peak_lr)
