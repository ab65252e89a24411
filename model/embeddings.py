"""Embedding layers: video / audio patches (`patches.py`) and words to Transformer input tokens.

Every layer returns (B, 1 + N, D) tokens: the learned [AGG] token first, then the N kept tokens
(positions added before DropToken, so [AGG] has no position).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import VattConfig
from .droptoken import kept_indices
from .patches import audio_patches, video_patches
from .positions import FactorizedPositions, LearnedPositions


class PatchEmbedding(nn.Module):
    """Linear patch projection + positions + DropToken + [AGG], shared by video and audio.

    DropToken runs on the raw patches before the projection: the projection is per token, so
    projecting only the kept tokens gives the same result for less compute.
    """

    def __init__(self, patch_dim: int, dim: int, drop_rate: float, dropout: float) -> None:
        super().__init__()
        self.proj = nn.Linear(patch_dim, dim)
        self.agg = nn.Parameter(torch.zeros(dim))
        self.dropout = nn.Dropout(dropout)
        # Drop rate applied in train() mode; a plain attribute so benchmarks can change it.
        self.drop_rate = drop_rate

    def embed(self, patches: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """(B, N, P) patches and their (N, D) positions -> (B, 1 + kept, D) tokens."""
        if self.training and self.drop_rate > 0:
            keep = kept_indices(patches.shape[1], self.drop_rate, patches.device)
            patches = patches.index_select(1, keep)  # (B, kept, P)
            positions = positions.index_select(0, keep)  # (kept, D)
        tokens = self.dropout(self.proj(patches) + positions)  # (B, kept, D)
        agg = self.agg.to(tokens.dtype).expand(tokens.shape[0], 1, -1)  # (B, 1, D)
        return torch.cat([agg, tokens], dim=1)


class VideoEmbedding(PatchEmbedding):
    """Video: 4x16x16x3 voxel patches, factorized (t, h, w) positions interpolated to the grid."""

    def __init__(self, config: VattConfig, dim: int) -> None:
        self.patch_frames = config.video_patch_frames
        self.patch_size = config.video_patch_size
        patch_dim = 3 * self.patch_frames * self.patch_size**2
        super().__init__(patch_dim, dim, config.video_drop_rate, config.dropout)
        self.positions = FactorizedPositions(config.video_grid, dim, config.layer_norm_eps)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) in [-1, 1] -> (B, 1 + kept, D)."""
        patches = video_patches(video, self.patch_frames, self.patch_size)
        grid = (
            video.shape[2] // self.patch_frames,
            video.shape[3] // self.patch_size,
            video.shape[4] // self.patch_size,
        )
        return self.embed(patches, self.positions(grid))


class AudioEmbedding(PatchEmbedding):
    """Audio: 128-sample waveform patches, 1-D learned positions interpolated to the length."""

    def __init__(self, config: VattConfig, dim: int) -> None:
        self.patch_samples = config.audio_patch_samples
        super().__init__(self.patch_samples, dim, config.audio_drop_rate, config.dropout)
        self.positions = LearnedPositions(
            config.audio_tokens, dim, config.layer_norm_eps, interpolate=True
        )

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, S) waveform -> (B, 1 + kept, D)."""
        patches = audio_patches(audio, self.patch_samples)
        return self.embed(patches, self.positions(patches.shape[1]))


class TextEmbedding(nn.Module):
    """Text: word embeddings (id 0 = padding), Dense(word_dim -> D, no bias) + GELU, [AGG].

    The modality-specific model gives text no absolute positions (its T5 Transformer adds a
    relative position bias); the modality-agnostic one adds learned 1-D positions, as the
    reference code does, because its shared Transformer has no relative bias.
    """

    def __init__(self, config: VattConfig, dim: int, learned_positions: bool) -> None:
        super().__init__()
        self.words = nn.Embedding(config.vocab_size, config.word_dim, padding_idx=0)
        self.proj = nn.Linear(config.word_dim, dim, bias=False)
        self.agg = nn.Parameter(torch.zeros(dim))
        self.dropout = nn.Dropout(config.dropout)
        self.positions = (
            LearnedPositions(config.text_max_tokens, dim, config.layer_norm_eps, interpolate=False)
            if learned_positions
            else None
        )

    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, L) int64 ids -> tokens (N, 1 + L, D) and valid mask (N, 1 + L), True = a word."""
        if ids.dim() != 2:
            raise ValueError(f"text ids must be (N, L); got shape {tuple(ids.shape)}")
        # The residual stream stays in the parameters' dtype under autocast, as for video/audio.
        tokens = F.gelu(self.proj(self.words(ids))).to(self.agg.dtype)  # (N, L, D)
        if self.positions is not None:
            tokens = tokens + self.positions(ids.shape[1])
        agg = self.agg.to(tokens.dtype).expand(ids.shape[0], 1, -1)  # (N, 1, D)
        tokens = self.dropout(torch.cat([agg, tokens], dim=1))
        # [AGG] is always valid, so no row is fully masked even for an empty caption.
        valid = torch.cat([torch.ones_like(ids[:, :1], dtype=torch.bool), ids != 0], dim=1)
        return tokens, valid
