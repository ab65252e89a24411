"""A fine-tuning run's settings: pretraining's TrainConfig (data, run folder, workers, schedule,
checkpoints, failures) plus what classification adds, with the fine-tuning recipe as defaults.

The recipe, from the reference code's fine-tuning experiment (vatt/configs/experiment.py
`Finetune`, vatt/configs/dataset.py `Finetune`): SGD with momentum 0.9, peak lr 0.005, 2,500
linear warmup steps, then cosine decay to 0 (over 100k steps there), gradient clipping at
global norm 0.75, label smoothing 0.1, colour augmentation and random crops (our `paper`
preset), 4 clips x 3 crops at test time. The steps default to 1,000 here (a laptop run), as
pretraining's do; DropToken is off (it is pretraining's speed-up; fine-tuning and testing see
every token).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from train.config import TrainConfig
from train.schedule import ScheduleConfig


@dataclass
class FinetuneConfig(TrainConfig):
    """One fine-tuning run: `init` is the pretrained run or checkpoint to start from (None:
    from scratch with `config`, the paper's baseline); `labels` come from the dataset."""

    init: str | None = None
    modality: str = "video"  # the tower fine-tuned: video, or audio (AudioSet / ESC-50)
    labels: list[str] = field(default_factory=list)  # dataset.json labels, index -> name
    multi_label: bool = False
    lr: float = 0.005
    end_lr: float = 0.0
    warmup_steps: int = 2500
    grad_clip: float = 0.75
    momentum: float = 0.9
    weight_decay: float = 0.0
    label_smoothing: float = 0.1
    classifier_dropout: float = 0.0
    test_crops: int = 3

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.data) != 1:
            raise ValueError(f"fine-tuning takes one labelled dataset, got {len(self.data)}")
        if self.modality not in ("video", "audio"):
            raise ValueError(f"modality must be video or audio, got {self.modality!r}")
        if self.test_crops < 1:
            raise ValueError(f"test_crops must be at least 1, got {self.test_crops}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")

    @property
    def root(self) -> str:
        """The labelled dataset's root (fine-tuning reads one; pretraining may mix several)."""
        return self.data[0]

    def schedule(self) -> ScheduleConfig:
        return dataclasses.replace(super().schedule(), half_cosine=True)  # the reference's decay
