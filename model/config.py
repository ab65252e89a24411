"""VATT configuration: Transformer sizes (paper Table 7), `VattConfig` and the named configs.

`VattConfig` is a Hugging Face `PreTrainedConfig` (a dataclass in transformers 5), so it is saved
next to the weights by `save_pretrained`. Data loaders read its input-geometry fields
(`video_frames`, `video_size`, `audio_samples`, `audio_sample_rate`, `text_max_tokens`,
`num_neighbors`, `vocab_size`) and the trainer its loss fields (`temperature`, `mil_nce_weight`).

The `tiny` config is built to train in minutes on 2 CPU cores:
- video 16 frames x 112 x 112 (the clip's whole 3.2 s at 5 fps: every second frame of the
  shard's 10 fps): (16/4) x (112/16)^2 = 4 x 7 x 7 = 196 tokens
- audio 16 kHz x 3.2 s = 51,200 samples: 51,200 / 128 = 400 tokens
- text up to 16 word tokens, vocabulary 8,192, 128-d word embeddings
- every Transformer 2 layers, width 128, MLP 512, 4 heads; common spaces va 128 / vt 64
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from transformers import PreTrainedConfig


@dataclass(frozen=True)
class TowerSize:
    """One Transformer size: depth, width, MLP width and heads (paper Table 7)."""

    layers: int
    hidden: int
    mlp: int
    heads: int

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


# Paper Table 7 (params: Small 20.9M, Base 87.9M, Medium 155.0M, Large 306.1M) plus `tiny`.
TOWER_SIZES: dict[str, TowerSize] = {
    "tiny": TowerSize(layers=2, hidden=128, mlp=512, heads=4),
    "small": TowerSize(layers=6, hidden=512, mlp=2048, heads=8),
    "base": TowerSize(layers=12, hidden=768, mlp=3072, heads=12),
    "medium": TowerSize(layers=12, hidden=1024, mlp=4096, heads=16),
    "large": TowerSize(layers=24, hidden=1024, mlp=4096, heads=16),
}

LOSS_REDUCTIONS = ("sum", "mean")
CONFIG_NAMES: tuple[str, ...] = ("tiny", "bbs", "mbs", "lbs", "ma-medium")


def tower_size(name: str) -> TowerSize:
    """The `TowerSize` called `name`; ValueError listing the known sizes otherwise."""
    try:
        return TOWER_SIZES[name]
    except KeyError:
        raise ValueError(
            f"unknown Transformer size {name!r}; known sizes: {', '.join(TOWER_SIZES)}"
        ) from None


class VattConfig(PreTrainedConfig):
    """Every size of a VATT model. Defaults are VATT-BBS at the paper's input geometry."""

    model_type = "vatt"

    # Inputs. Video (B, 3, T, H, W) in [-1, 1]; audio (B, S) mono waveform; text (B, K, L) ids.
    video_frames: int = 32
    video_size: int = 224
    video_patch_frames: int = 4
    video_patch_size: int = 16
    audio_samples: int = 153_600
    audio_sample_rate: int = 48_000
    audio_patch_samples: int = 128
    text_max_tokens: int = 16
    num_neighbors: int = 5
    vocab_size: int = 2**16
    word_dim: int = 300

    # Backbones: names of TOWER_SIZES. `shared_backbone` set = modality-agnostic (VATT-MA):
    # one Transformer of that size for all modalities, the per-modality sizes are then unused.
    video_backbone: str = "base"
    audio_backbone: str = "base"
    text_backbone: str = "small"
    shared_backbone: str | None = None

    # DropToken rates (training only) and regularisation.
    video_drop_rate: float = 0.5
    audio_drop_rate: float = 0.5
    dropout: float = 0.1
    attention_dropout: float = 0.1
    layer_norm_eps: float = 1e-6
    initializer_range: float = 0.02

    # T5-style relative position bias of the text Transformer.
    relative_buckets: int = 32
    relative_max_distance: int = 64

    # Common space: video-audio (va) and video-text (vt) dimensions; BN synced across ranks.
    va_dim: int = 512
    vt_dim: int = 256
    sync_batchnorm: bool = True

    # Losses: L = NCE(va) + mil_nce_weight * MIL-NCE(vt), similarities / temperature.
    # loss_reduction "sum" is the paper's L; "mean" divides it by (1 + mil_nce_weight): the
    # reference code's average of the two terms (with Adam and no clipping the two differ only
    # by a factor 2 of the gradient, which Adam's normalisation cancels up to its epsilon).
    temperature: float = 0.07
    mil_nce_weight: float = 1.0
    loss_reduction: str = "sum"

    # Classification (VattForClassification, fine-tuning): the tower whose [AGG] output the
    # linear head reads, dropout before it, multi-label (sigmoid) or not (softmax). The class
    # count and names are Hugging Face's own `num_labels` / `id2label`.
    classifier_modality: str = "video"
    classifier_dropout: float = 0.0
    multi_label: bool = False

    def __post_init__(self, **kwargs: Any) -> None:
        super().__post_init__(**kwargs)
        self.validate_geometry()

    @property
    def modality_agnostic(self) -> bool:
        return self.shared_backbone is not None

    def tower(self, modality: str) -> TowerSize:
        """The Transformer size that encodes `modality` (video, audio or text)."""
        if modality not in ("video", "audio", "text"):
            raise ValueError(f"unknown modality {modality!r}; expected video, audio or text")
        if self.shared_backbone is not None:
            return tower_size(self.shared_backbone)
        return tower_size(getattr(self, f"{modality}_backbone"))

    @property
    def video_grid(self) -> tuple[int, int, int]:
        """Tokens along (time, height, width) for the configured video size: (8, 14, 14)."""
        return (
            self.video_frames // self.video_patch_frames,
            self.video_size // self.video_patch_size,
            self.video_size // self.video_patch_size,
        )

    @property
    def video_tokens(self) -> int:
        t, h, w = self.video_grid
        return t * h * w

    @property
    def audio_tokens(self) -> int:
        return self.audio_samples // self.audio_patch_samples

    def validate_geometry(self) -> None:
        """Raise ValueError naming the field when sizes do not tile or names are unknown."""
        if self.video_frames % self.video_patch_frames:
            raise ValueError(
                f"video_frames={self.video_frames} is not a multiple of "
                f"video_patch_frames={self.video_patch_frames}"
            )
        if self.video_size % self.video_patch_size:
            raise ValueError(
                f"video_size={self.video_size} is not a multiple of "
                f"video_patch_size={self.video_patch_size}"
            )
        if self.audio_samples % self.audio_patch_samples:
            raise ValueError(
                f"audio_samples={self.audio_samples} is not a multiple of "
                f"audio_patch_samples={self.audio_patch_samples}"
            )
        for field in ("video_backbone", "audio_backbone", "text_backbone"):
            tower_size(getattr(self, field))
        if self.shared_backbone is not None:
            tower_size(self.shared_backbone)
        rates = ("video_drop_rate", "audio_drop_rate", "dropout", "attention_dropout")
        for field in (*rates, "classifier_dropout"):
            rate = getattr(self, field)
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"{field}={rate} must be in [0, 1)")
        if self.classifier_modality not in ("video", "audio"):
            raise ValueError(
                f"classifier_modality={self.classifier_modality!r} must be video or audio"
            )
        if self.loss_reduction not in LOSS_REDUCTIONS:
            raise ValueError(
                f"loss_reduction={self.loss_reduction!r} must be one of {LOSS_REDUCTIONS}"
            )
        if not 2 < self.vocab_size <= 2**16:
            raise ValueError(f"vocab_size={self.vocab_size} must be in (2, 65536]")


_TINY: dict[str, Any] = {
    "video_frames": 16,
    "video_size": 112,
    "audio_samples": 51_200,
    "audio_sample_rate": 16_000,
    "vocab_size": 8192,
    "word_dim": 128,
    "video_backbone": "tiny",
    "audio_backbone": "tiny",
    "text_backbone": "tiny",
    "va_dim": 128,
    "vt_dim": 64,
}

_NAMED: dict[str, dict[str, Any]] = {
    "tiny": _TINY,
    "bbs": {"video_backbone": "base"},
    "mbs": {"video_backbone": "medium"},
    "lbs": {"video_backbone": "large"},
    "ma-medium": {"shared_backbone": "medium"},
}


def config_fields() -> set[str]:
    """Names of the fields a VattConfig takes (its own and Hugging Face's)."""
    return {f.name for f in dataclasses.fields(VattConfig)}


def get_config(name: str, **overrides: Any) -> VattConfig:
    """The named config (`tiny`, `bbs`, `mbs`, `lbs`, `ma-medium`) with fields overridden.

    Raises ValueError for an unknown name (listing the valid ones) or an unknown field.
    """
    if name not in _NAMED:
        raise ValueError(f"unknown VATT config {name!r}; valid names: {', '.join(CONFIG_NAMES)}")
    unknown = sorted(set(overrides) - config_fields())
    if unknown:
        raise ValueError(f"unknown VattConfig field(s) {unknown} in overrides of {name!r}")
    return VattConfig(**{**_NAMED[name], **overrides})
