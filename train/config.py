"""The pretraining run's settings (what `python -m train.pretrain` takes), as one dataclass."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: they load torch, and the CLIs parse arguments first
    from train.data import LoaderConfig
    from train.schedule import ScheduleConfig


@dataclass
class TrainConfig:
    """One pretraining run. Defaults follow the paper where a laptop run can (Adam 1e-4 ->
    5e-5, 10k warmup capped at a tenth of the run); sizes are for this 2-core machine."""

    data: str  # dataset root URI (docs/shard-format.md)
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
    grad_clip: float = 1.0  # max global L2 norm of the gradients
    log_every: int = 10
    checkpoint_every: int = 100
    keep_checkpoints: int = 3
    max_failures: int = 3  # worker-group restarts from the last checkpoint
    augment: str = "paper"  # train.augment.AUGMENT_PRESETS
    shuffle_buffer: int = 512
    interleave: int = 4
    seed: int = 0
    tokenizer_samples: int = 20_000  # clips read to train the tokenizer

    def __post_init__(self) -> None:
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
