"""A fine-tuning run's settings: pretraining's TrainConfig (data, run folder, workers, schedule,
checkpoints, failures) plus what classification adds, with the fine-tuning recipe as defaults.

The recipe, from the reference code's fine-tuning experiment (vatt/configs/experiment.py
`Finetune`, vatt/configs/dataset.py `Finetune`): SGD with momentum 0.9, peak lr 0.005, 2,500
linear warmup steps, then cosine decay to 0 (over 100k steps there), gradient clipping at
global norm 0.75, label smoothing 0.1, colour augmentation and random crops (our `paper`
preset), mixup with alpha 5 for AudioSet, 4 clips x 3 crops at test time. The steps default to 1,000 here (a laptop run), as
pretraining's do; DropToken is off (it is pretraining's speed-up; fine-tuning and testing see
every token).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from clifields import option, same_as
from train.config import TrainConfig
from train.schedule import ScheduleConfig


@dataclass
class FinetuneConfig(TrainConfig):
    """One fine-tuning run: `init` is the pretrained run or checkpoint to start from (None:
    from scratch with `config`, the paper's baseline); `labels` come from the dataset. The
    options of `python -m train.finetune` are these fields (and TrainConfig's it offers)."""

    init: str | None = option(
        None,
        flag=None,  # --checkpoint RUN, or --from-scratch CONFIG (None): train/finetune.py
        help="the pretrained run or checkpoint to start from; none: from scratch with config",
    )
    modality: str = option(
        "video",
        choices=("video", "audio"),
        help="the tower fine-tuned (video; audio for sound classes: AudioSet, ESC-50)",
    )
    labels: list[str] = option(
        default_factory=list, flag=None, help="the dataset's class names (index -> name)"
    )
    multi_label: bool = option(False, flag=None, help="clips may carry several labels")
    lr: float = same_as(ScheduleConfig, "peak_lr", default=0.005, help="peak learning rate (SGD)")
    end_lr: float = same_as(ScheduleConfig, "end_lr", default=0.0)
    warmup_steps: int = same_as(ScheduleConfig, "warmup_steps", default=2500)
    grad_clip: float = option(0.75, help="max global L2 norm of the gradients, 0 = off")
    momentum: float = option(0.9, help="SGD momentum")
    weight_decay: float = option(0.0, help="SGD weight decay")
    label_smoothing: float = option(
        0.1, help="cross-entropy label smoothing (single-label datasets)"
    )
    classifier_dropout: float = option(0.0, help="dropout before the linear head")
    mixup: float | None = option(
        None,
        help="mixup of a batch's inputs and labels in pairs, weight ~ Beta(alpha, alpha); 0 = off; "
        "default: 5 for multi-label audio sets (the reference's AudioSet recipe), else off",
    )
    test_crops: int = option(3, help="spatial crops per clip at test time")

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.data) != 1:
            raise ValueError(f"fine-tuning takes one labelled dataset, got {len(self.data)}")
        if self.modality not in ("video", "audio"):
            raise ValueError(f"modality must be video or audio, got {self.modality!r}")
        if self.test_crops < 1:
            raise ValueError(f"test_crops must be at least 1, got {self.test_crops}")
        if self.mixup is not None and self.mixup < 0:
            raise ValueError(f"mixup must be >= 0 (0 = off), got {self.mixup}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")

    @property
    def root(self) -> str:
        """The labelled dataset's root (fine-tuning reads one; pretraining may mix several)."""
        return self.data[0]

    @property
    def mixup_alpha(self) -> float:
        """The mixup actually used: --mixup, else 5 for a multi-label audio set, else 0."""
        if self.mixup is not None:
            return self.mixup
        return 5.0 if self.multi_label and self.modality == "audio" else 0.0

    def schedule(self) -> ScheduleConfig:
        return dataclasses.replace(super().schedule(), half_cosine=True)  # the reference's decay
