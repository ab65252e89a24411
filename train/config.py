"""The pretraining run's settings (what `python -m train.pretrain` takes), as one dataclass."""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from clifields import gather, option, same_as
from train.loader_config import LoaderConfig
from train.names import AUGMENT_NAMES, CONFIG_NAMES
from train.schedule import ScheduleConfig

# Gradient clipping (max global L2 norm) by model config when --grad-clip is not given. The
# paper and its reference code pretrain without clipping: 0 (off) for the paper configs. The
# demo's `tiny` keeps the 1.0 its settings were tuned with (lr 5e-4, 900 steps: it learns).
RECIPE_GRAD_CLIP = {"tiny": 1.0}


def recipe_grad_clip(config: str) -> float:
    return RECIPE_GRAD_CLIP.get(config, 0.0)


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """["video_frames=8", "dropout=0.0"] -> {"video_frames": 8, "dropout": 0.0}."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = _value(value.strip())
    return out


def parse_weights(text: str) -> list[float]:
    """--data-weights "0.8,0.2" -> [0.8, 0.2]."""
    try:
        return [float(w) for w in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers separated by commas, got {text!r}"
        ) from None


@dataclass
class TrainConfig:
    """One pretraining run. Defaults follow the paper where a laptop run can (Adam 1e-4 ->
    5e-5, 10k warmup capped at a tenth of the run, no gradient clipping for the paper
    configs); sizes are for this 2-core machine. Each field is an option of
    `python -m train.pretrain` (clifields builds the parser from them); the loader's and the
    schedule's settings are theirs (`same_as`), under the names the command line gives them."""

    data: list[str] = option(
        many=True, help="dataset root URI (folder, gs://, s3://); repeat it to mix datasets"
    )
    data_weights: list[float] | None = option(
        None,
        parse=parse_weights,
        metavar="W1,W2,...",
        help="share of the samples drawn from each --data, e.g. 0.8,0.2",
        default_text="in proportion to their train clips",
    )
    output: str = option("runs/vatt", help="run folder URI: checkpoints, tokenizer, tensorboard")
    config: str = option("tiny", choices=CONFIG_NAMES, help="model config")
    overrides: dict[str, Any] = option(
        default_factory=dict,
        flag="--set",
        many=True,
        convert=parse_overrides,
        metavar="KEY=VALUE",
        help="override a model config (VattConfig) field, e.g. --set video_frames=8 (repeatable)",
    )
    max_steps: int = same_as(ScheduleConfig, "total_steps", default=1000)
    batch_size: int = same_as(
        LoaderConfig,
        "batch_size",
        help="clips per training worker; the global batch is x --num-workers",
    )
    num_workers: int = option(1, help="Ray Train workers (DDP ranks)")
    cpus_per_worker: int = option(1, help="CPUs (torch threads) per training worker")
    loader_workers: int = same_as(
        LoaderConfig, "num_workers", help="DataLoader processes per training worker"
    )
    use_gpu: bool = option(False, help="one GPU per worker, bf16 autocast")
    compile: bool = option(False, help="torch.compile the model")
    lr: float = same_as(ScheduleConfig, "peak_lr")
    end_lr: float = same_as(ScheduleConfig, "end_lr")
    warmup_steps: int = same_as(ScheduleConfig, "warmup_steps")
    grad_clip: float | None = option(
        None,
        help="max global L2 norm of the gradients, 0 = off",
        default_text="the config's recipe: off for the paper configs, as the paper; 1.0 for tiny",
    )
    log_every: int = option(10, help="steps between metrics lines (and TensorBoard points)")
    checkpoint_every: int = option(100, help="steps between checkpoints")
    keep_checkpoints: int = option(3, help="checkpoints kept (the latest ones)")
    max_failures: int = option(
        3, help="worker-group restarts from the last checkpoint after a worker dies"
    )
    augment: str = option(
        "paper",
        choices=AUGMENT_NAMES,
        help="training augmentation: paper (the paper's), light (no hue turn, no flip, crops "
        ">= 40%: for content whose meaning is colour and direction), or none",
    )
    shuffle_buffer: int = same_as(LoaderConfig, "shuffle_buffer")
    interleave: int = same_as(LoaderConfig, "interleave", flag=None)
    seed: int = same_as(
        LoaderConfig, "seed", help="seed of the model init, the data order and the augmentation"
    )
    tokenizer_samples: int = option(
        20_000,
        flag=None,
        help="clips read for the vocabulary of a dataset without word_counts.json",
    )
    temporal_jitter: bool = option(
        True,
        help="a random sub-window of clips longer than the model's span (built with a longer "
        "--clip-seconds); the centre one at evaluation",
    )

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
        return gather(self, LoaderConfig)

    def schedule(self) -> ScheduleConfig:
        return gather(self, ScheduleConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s): {unknown}")
        return cls(**values)
