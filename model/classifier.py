"""VATT with a classification head: the video (or audio) tower's [AGG] output -> dropout ->
Linear -> class logits, for fine-tuning (the paper's Kinetics / AudioSet protocol).

`VattForClassification` keeps the pretrained model under `.vatt` (Hugging Face's base-model
prefix), so `from_pretrained` of a pretraining checkpoint loads every tower and starts a fresh
head, and `VattModel.from_pretrained` of a fine-tuned checkpoint gives the towers back.
"""

from __future__ import annotations

import torch
from torch import nn

from model.config import VattConfig
from model.positions import resize_table
from model.vatt import VattModel, VattPreTrainedModel


class VattForClassification(VattPreTrainedModel):
    """`forward(video=)` or `forward(audio=)` (per `config.classifier_modality`) -> logits
    (B, config.num_labels)."""

    def __init__(self, config: VattConfig) -> None:
        super().__init__(config)
        self.vatt = VattModel(config)
        modality = config.classifier_modality
        width = config.tower(modality).hidden
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(width, config.num_labels)
        self.post_init()

    def features(
        self, video: torch.Tensor | None = None, audio: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The pooled [AGG] output of the classified tower: (B, D)."""
        if self.config.classifier_modality == "video":
            if video is None:
                raise ValueError("a video classifier needs video")
            return self.vatt.encode_video(video)
        if audio is None:
            raise ValueError("an audio classifier needs audio")
        return self.vatt.encode_audio(audio)

    def forward(
        self, video: torch.Tensor | None = None, audio: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.classifier(self.dropout(self.features(video, audio)))


def set_droptoken(model: VattModel, video_rate: float, audio_rate: float) -> None:
    """Change the DropToken rates of a built model (its config too, so a save keeps them)."""
    model.video_embed.drop_rate = video_rate
    model.audio_embed.drop_rate = audio_rate
    model.config.video_drop_rate = video_rate
    model.config.audio_drop_rate = audio_rate


@torch.no_grad()
def resize_positions(
    model: VattModel, video_frames: int, video_size: int, audio_samples: int
) -> None:
    """Interpolate the learned positional tables to a new input geometry, in place, and set the
    config to it (the paper fine-tunes 8+14+14 video positions to 8+20+20 for 320 crops).

    The forward pass interpolates on the fly anyway; resizing the tables once makes the saved
    weights match the saved config, so a fine-tuned checkpoint reloads at its own geometry.
    """
    cfg = model.config
    cfg.video_frames, cfg.video_size, cfg.audio_samples = video_frames, video_size, audio_samples
    cfg.validate_geometry()
    t, h, w = cfg.video_grid
    pos = model.video_embed.positions
    for name, length in (("temporal", t), ("vertical", h), ("horizontal", w)):
        table = getattr(pos, name)
        setattr(pos, name, nn.Parameter(resize_table(table.data, length).contiguous()))
    audio = model.audio_embed.positions
    audio.table = nn.Parameter(resize_table(audio.table.data, cfg.audio_tokens).contiguous())
    for sub in model.modules():
        if sub is not model and hasattr(sub, "config"):
            sub.config = cfg
