"""The VATT model: three tokenizers, Transformer backbone(s), common-space heads.

Modality-specific (VATT-BBS/MBS/LBS, tiny): one Transformer per modality (text in T5 style).
Modality-agnostic (VATT-MA): one shared Transformer; each modality keeps its own patch
projection, positions and [AGG] token.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init

from .config import VattConfig
from .embeddings import AudioEmbedding, PatchEmbedding, TextEmbedding, VideoEmbedding
from .heads import CommonSpaceHeads
from .positions import FactorizedPositions, LearnedPositions
from .transformer import Transformer

MODALITIES: tuple[str, ...] = ("video", "audio", "text")


class VattPreTrainedModel(PreTrainedModel):
    """Hugging Face glue: config class, weight init, safetensors save/load."""

    config_class = VattConfig
    config: VattConfig
    base_model_prefix = "vatt"
    main_input_name = "video"
    _supports_sdpa = True

    def _init_weights(self, module: nn.Module) -> None:
        # Linear, Embedding, LayerNorm, RMSNorm and BatchNorm are handled by the base class.
        super()._init_weights(module)
        std = self.config.initializer_range
        if isinstance(module, FactorizedPositions):
            for table in (module.temporal, module.vertical, module.horizontal):
                init.normal_(table, mean=0.0, std=std)
        elif isinstance(module, LearnedPositions):
            init.normal_(module.table, mean=0.0, std=std)
        elif isinstance(module, (PatchEmbedding, TextEmbedding)):
            init.normal_(module.agg, mean=0.0, std=std)


def _backbone(config: VattConfig, modality: str | None) -> Transformer:
    """The Transformer of `modality` (None = the shared one of VATT-MA)."""
    size = config.tower(modality or "video")
    return Transformer(
        size,
        dropout=config.dropout,
        attention_dropout=config.attention_dropout,
        eps=config.layer_norm_eps,
        t5_style=modality == "text",
        relative_buckets=config.relative_buckets,
        relative_max_distance=config.relative_max_distance,
    )


class VattModel(VattPreTrainedModel):
    """VATT. `forward(video=, audio=, text_ids=)` returns the common-space embeddings.

    DropToken applies in train() mode only, at `config.video_drop_rate` / `audio_drop_rate`.
    """

    def __init__(self, config: VattConfig) -> None:
        super().__init__(config)
        dims = {m: config.tower(m).hidden for m in MODALITIES}
        self.video_embed = VideoEmbedding(config, dims["video"])
        self.audio_embed = AudioEmbedding(config, dims["audio"])
        self.text_embed = TextEmbedding(
            config, dims["text"], learned_positions=config.modality_agnostic
        )
        if config.modality_agnostic:
            self.shared_transformer = _backbone(config, None)
        else:
            self.video_transformer = _backbone(config, "video")
            self.audio_transformer = _backbone(config, "audio")
            self.text_transformer = _backbone(config, "text")
        self.heads = CommonSpaceHeads(
            dims["video"],
            dims["audio"],
            dims["text"],
            config.va_dim,
            config.vt_dim,
            config.sync_batchnorm,
        )
        self.post_init()

    def transformer(self, modality: str) -> Transformer:
        """The backbone that encodes `modality` (the shared one for VATT-MA)."""
        if self.config.modality_agnostic:
            return self.shared_transformer
        return getattr(self, f"{modality}_transformer")

    def encode_video(self, video: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) in [-1, 1] -> pooled [AGG] features (B, Dv)."""
        return self.transformer("video")(self.video_embed(video))[:, 0]

    def encode_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, S) waveform -> pooled [AGG] features (B, Da)."""
        return self.transformer("audio")(self.audio_embed(audio))[:, 0]

    def encode_text(self, ids: torch.Tensor) -> torch.Tensor:
        """(N, L) int64 ids, 0 = padding -> pooled [AGG] features (N, Dt)."""
        tokens, valid = self.text_embed(ids)
        return self.transformer("text")(tokens, valid)[:, 0]

    def forward(
        self,
        video: torch.Tensor | None = None,
        audio: torch.Tensor | None = None,
        text_ids: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Common-space embeddings of the modalities given (any may be None).

        video (B, 3, T, H, W) -> "video_va" (B, va_dim), "video_vt" (B, vt_dim)
        audio (B, S)          -> "audio_va" (B, va_dim)
        text_ids (B, K, L)    -> "text_vt" (B, K, vt_dim); (N, L) -> (N, vt_dim)
        """
        out: dict[str, torch.Tensor] = {}
        if video is not None:
            out["video_va"], out["video_vt"] = self.heads.video(self.encode_video(video))
        if audio is not None:
            out["audio_va"] = self.heads.audio(self.encode_audio(audio))
        if text_ids is not None:
            if text_ids.dim() not in (2, 3):
                raise ValueError(
                    f"text_ids must be (B, K, L) or (N, L); got shape {tuple(text_ids.shape)}"
                )
            flat = text_ids.reshape(-1, text_ids.shape[-1])  # (B * K, L)
            text = self.heads.text(self.encode_text(flat))  # (B * K, vt_dim)
            out["text_vt"] = text.view(*text_ids.shape[:-1], -1)
        return out
