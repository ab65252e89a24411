"""The pretraining run's settings (what `python -m train.pretrain` takes), as one dataclass."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: they load torch, and the CLIs parse arguments first
    from train.data import LoaderConfig
    from train.schedule import ScheduleConfig

# Gradient clipping (max global L2 norm) by model config when --grad-clip is not given. The
# paper and its reference code pretrain without clipping: 0 (off) for the paper configs. The
# demo's `tiny` keeps the 1.0 its settings were tuned with (lr 5e-4, 900 steps: it learns).
RECIPE_GRAD_CLIP = {"tiny": 1.0}


def recipe_grad_clip(config: str) -> float:
    return RECIPE_GRAD_CLIP.get(config, 0.0)


@dataclass
class TrainConfig:
    """One pretraining run. Defaults follow the paper where a laptop run can (Adam 1e-4 ->
    5e-5, 10k warmup capped at a tenth of the run, no gradient clipping for the paper
    configs); sizes are for this 2-core machine."""

    data: list[str]  # dataset root URIs (docs/shard-format.md); several = a mixture
    data_weights: list[float] | None = None  # share of samples per root; None = by clips
    output: str = "runs/vatt"  # run folder URI: checkpoints, tokenizer, tensorboard
    config: str = "tiny"  # model config name (model.CONFIG_NAMES)
    overrides: dict[str, Any] = field(default_factory=dict)  # VattConfig fields
    max_steps: int = 1000
    batch_size: int = 16  # per training worker; the global batch is x num_workers
    num_workers: int = 1  # Ray Train workers (DDP ranks)
    cpus_per_worker: int = 1
    loader_workers: int = 2  # DataLoader processes per training worker
    use_gpu: bool = False
    compile: bool = False  # torch.compile the model
    lr: float = 1e-4
    end_lr: float = 5e-5
    warmup_steps: int = 10_000
    grad_clip: float | None = None  # max global L2 norm; 0 = off; None = recipe_grad_clip
    log_every: int = 10
    checkpoint_every: int = 100
    keep_checkpoints: int = 3
    max_failures: int = 3  # worker-group restarts from the last checkpoint
    augment: str = "paper"  # train.augment.AUGMENT_PRESETS
    shuffle_buffer: int = 512
    interleave: int = 4
    seed: int = 0
    tokenizer_samples: int = 20_000  # clips read for the vocabulary without word_counts.json
    temporal_jitter: bool = True  # random sub-window of clips longer than the model's span

    def __post_init__(self) -> None:
        if isinstance(self.data, str):  # one root (and run configs saved before mixtures)
            self.data = [self.data]
        self.data = list(self.data)
        if not self.data:
            raise ValueError("data needs at least one dataset root")
        if self.data_weights is not None:
            self.data_weights = [float(w) for w in self.data_weights]
            if len(self.data_weights) != len(self.data):
                raise ValueError(
                    f"{len(self.data_weights)} data weights for {len(self.data)} dataset roots"
                )
            if any(w < 0 for w in self.data_weights) or sum(self.data_weights) <= 0:
                raise ValueError(
                    f"data weights must be >= 0 with a positive sum, got {self.data_weights}"
                )
        if self.grad_clip is None:
            self.grad_clip = recipe_grad_clip(self.config)
        if self.grad_clip < 0:
            raise ValueError(f"grad_clip must not be negative (0 = off), got {self.grad_clip}")
        positive = ("max_steps", "batch_size", "num_workers", "cpus_per_worker", "log_every")
        for name in (*positive, "checkpoint_every", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("loader_workers", "max_failures", "warmup_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")

    def loader(self) -> LoaderConfig:
        from train.data import LoaderConfig

        return LoaderConfig(
            batch_size=self.batch_size,
            num_workers=self.loader_workers,
            shuffle_buffer=self.shuffle_buffer,
            interleave=self.interleave,
            seed=self.seed,
        )

    def schedule(self) -> ScheduleConfig:
        from train.schedule import ScheduleConfig

        return ScheduleConfig(
            peak_lr=self.lr,
            end_lr=self.end_lr,
            warmup_steps=self.warmup_steps,
            total_steps=self.max_steps,
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s): {unknown}")
        return cls(**values)
