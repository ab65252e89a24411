"""Patching: raw video and audio cut into the flat patch vectors the embeddings project.

Pure reshapes (no parameters); `embeddings.py` projects the patches to tokens.
"""

from __future__ import annotations

import torch


def video_patches(video: torch.Tensor, patch_frames: int, patch_size: int) -> torch.Tensor:
    """Cut (B, 3, T, H, W) video into flattened (B, t*h*w, 3*pt*ps*ps) patches, time-major.

    The patch vector is ordered (channel, frame, row, column), the layout of a Conv3d weight, so
    the projection is exactly a Conv3d with kernel = stride, run as one matmul.
    """
    if video.dim() != 5 or video.shape[1] != 3:
        raise ValueError(f"video must be (B, 3, T, H, W); got shape {tuple(video.shape)}")
    b, c, frames, height, width = video.shape
    if frames % patch_frames or height % patch_size or width % patch_size:
        raise ValueError(
            f"video shape {tuple(video.shape)} does not tile into "
            f"{patch_frames}x{patch_size}x{patch_size} patches"
        )
    t, h, w = frames // patch_frames, height // patch_size, width // patch_size
    x = video.view(b, c, t, patch_frames, h, patch_size, w, patch_size)
    x = x.permute(0, 2, 4, 6, 1, 3, 5, 7)  # (B, t, h, w, C, pt, ps, ps)
    return x.reshape(b, t * h * w, c * patch_frames * patch_size * patch_size)


def audio_patches(audio: torch.Tensor, patch_samples: int) -> torch.Tensor:
    """Cut a (B, S) waveform into (B, S / patch_samples, patch_samples) patches."""
    if audio.dim() != 2:
        raise ValueError(f"audio must be (B, S); got shape {tuple(audio.shape)}")
    if audio.shape[1] % patch_samples:
        raise ValueError(
            f"audio length {audio.shape[1]} is not a multiple of the {patch_samples}-sample patch"
        )
    return audio.view(audio.shape[0], -1, patch_samples)
