"""Named runs: a run is a function of the changes to it, returning its TrainConfig.

`python -m train.pretrain --run NAME` starts from one of these; the options given on the
command line are the changes (`--data` and `--output` always among them: a run says how to
train, not on what or where). A run derived from another changes fields of it. The changes are
applied before TrainConfig resolves what depends on other fields (the gradient clipping of the
model config's recipe), so `--run demo --config bbs` clips as bbs does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from train.config import TrainConfig


def _changed(settings: dict[str, Any], changes: dict[str, Any]) -> TrainConfig:
    return TrainConfig(**{**settings, **changes})


def demo(**changes: Any) -> TrainConfig:
    """`make pretrain`: the tiny config on the demo shards through a local Ray (2 cores: 6-12
    min). The demo's meaning is colour, shape and direction: `light` augmentation drops the
    paper's hue jitter (red -> orange) and horizontal flip (left -> right), and no dropout on
    a corpus this small; lr 5e-4 over 900 steps is what it was tuned and measured with
    (docs/training.md)."""
    settings = {
        "config": "tiny",
        "max_steps": 900,
        "batch_size": 16,
        "num_workers": 1,
        "cpus_per_worker": 2,
        "loader_workers": 1,
        "log_every": 50,
        "checkpoint_every": 300,
        "lr": 5e-4,
        "augment": "light",
        "overrides": {"dropout": 0.0, "attention_dropout": 0.0},
    }
    return _changed(settings, changes)


def paper(**changes: Any) -> TrainConfig:
    """The paper's pretraining recipe (VATT, Akbari et al. 2021): Adam, lr 1e-4 with
    10k warmup steps and a quarter-period cosine to 5e-5 (TrainConfig's defaults), 500k steps,
    a global batch of 2048 (here 64 GPU workers x 32: --num-workers with --global-batch-size
    2048 for another split), the paper's augmentation, no gradient clipping. Checkpoints every
    1,000 steps (the default 100 would write 5,000 of them)."""
    settings = {
        "config": "bbs",
        "max_steps": 500_000,
        "num_workers": 64,
        "batch_size": 32,
        "use_gpu": True,
        "augment": "paper",
        "log_every": 100,
        "checkpoint_every": 1000,
    }
    return _changed(settings, changes)


def paper_bbs(**changes: Any) -> TrainConfig:
    """VATT-BBS (Base video, Base audio, Small text: 197M parameters), the paper's recipe."""
    return paper(**{"config": "bbs", **changes})


def paper_mbs(**changes: Any) -> TrainConfig:
    """VATT-MBS (Medium video: 264M), the paper's recipe."""
    return paper(**{"config": "mbs", **changes})


def paper_lbs(**changes: Any) -> TrainConfig:
    """VATT-LBS (Large video: 415M), the paper's recipe."""
    return paper(**{"config": "lbs", **changes})


def paper_ma_medium(**changes: Any) -> TrainConfig:
    """VATT-MA-Medium (one modality-agnostic Medium Transformer: 155M), the paper's recipe."""
    return paper(**{"config": "ma-medium", **changes})


RUNS: dict[str, Callable[..., TrainConfig]] = {
    run.__name__: run for run in (demo, paper_bbs, paper_mbs, paper_lbs, paper_ma_medium)
}
