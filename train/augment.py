"""The paper's augmentation: random resized crop, horizontal flip, colour jitter, [-1, 1] scaling.

Colour jitter as one affine map. Brightness (add), saturation (blend with luma), hue (rotation
about the grey axis) and contrast (blend with the per-channel mean) are all affine in RGB, so
any sequence of them is x -> A x + b with a 3x3 A. The loader samples the ops and composes A, b
per clip (B, 3, 4); `finalize_video` applies them together with the uint8 -> [-1, 1] scaling in
one pass, on the training device. So the loader ships uint8 video (4x less memory through the
DataLoader's shared memory than float), and the float work runs on the GPU when there is one.
Values are clipped once, after the whole map (the reference clips after each op; the difference
only touches saturated pixels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from vattclips.crop import CropBox

# ITU-R BT.601 luma weights, as tf.image.rgb_to_grayscale.
_LUMA = np.array([0.299, 0.587, 0.114])


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the paper (VATT sec. 4.1, following the reference code)."""

    crop_area: tuple[float, float] = (0.08, 1.0)
    crop_aspect: tuple[float, float] = (0.5, 2.0)
    flip_prob: float = 0.5
    brightness: float = 32.0 / 255.0  # additive delta, [0, 1] pixel scale
    saturation: float = 0.4  # factor in [1 - s, 1 + s]
    contrast: float = 0.4  # factor in [1 - c, 1 + c]
    hue: float = 0.2  # rotation in [-h, h] of a full turn
    audio_noise: float = 0.01  # Gaussian noise std, as a fraction of max |x| (reference code)
    eval_crop_fraction: float = 0.875  # centre crop side / short side at evaluation (224/256)
    random_crop: bool = True  # False: training takes the evaluation centre crop


# `--augment`: "paper" is VATT's. "light" suits footage whose meaning lives in colour and
# direction (the synthetic demo corpus): a hue turn of up to 0.2 relabels a red shape as orange
# and a flip turns "moves left" into "moves right", so both would teach the model wrong pairs.
AUGMENT_PRESETS: dict[str, AugmentConfig] = {
    "paper": AugmentConfig(),
    "light": AugmentConfig(
        crop_area=(0.4, 1.0),
        crop_aspect=(0.75, 1.333),
        flip_prob=0.0,
        brightness=16.0 / 255.0,
        saturation=0.2,
        contrast=0.2,
        hue=0.0,
    ),
    "none": AugmentConfig(
        flip_prob=0.0,
        brightness=0.0,
        saturation=0.0,
        contrast=0.0,
        hue=0.0,
        audio_noise=0.0,
        random_crop=False,
    ),
}


def augment_preset(name: str) -> AugmentConfig:
    """The AugmentConfig called `name`; ValueError listing the presets otherwise."""
    try:
        return AUGMENT_PRESETS[name]
    except KeyError:
        raise ValueError(
            f"unknown augmentation {name!r}; presets: {', '.join(AUGMENT_PRESETS)}"
        ) from None


def random_resized_crop(
    width: int, height: int, rng: np.random.Generator, cfg: AugmentConfig
) -> CropBox:
    """torchvision's RandomResizedCrop sampling: area and log-uniform aspect, 10 tries, then
    the largest centred crop within the aspect range."""
    area = width * height
    log_lo, log_hi = math.log(cfg.crop_aspect[0]), math.log(cfg.crop_aspect[1])
    for _ in range(10):
        target = area * rng.uniform(*cfg.crop_area)
        aspect = math.exp(rng.uniform(log_lo, log_hi))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return CropBox(
                int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1)), w, h
            )
    ratio = width / height
    if ratio < cfg.crop_aspect[0]:
        w, h = width, int(round(width / cfg.crop_aspect[0]))
    elif ratio > cfg.crop_aspect[1]:
        w, h = int(round(height * cfg.crop_aspect[1])), height
    else:
        w, h = width, height
    return CropBox((width - w) // 2, (height - h) // 2, w, h)


def center_crop(width: int, height: int, fraction: float) -> CropBox:
    """A centred square of side `fraction` x the short side (evaluation)."""
    side = max(1, int(round(min(width, height) * fraction)))
    return CropBox((width - side) // 2, (height - side) // 2, side, side)


def spatial_crop(width: int, height: int, index: int, count: int) -> CropBox:
    """Crop `index` of `count` squares of the full short side spread evenly along the long side
    (left/top to right/bottom): the usual 3-crop test-time evaluation when count is 3."""
    if not 0 <= index < count:
        raise ValueError(f"crop index {index} out of range for {count} crops")
    side = min(width, height)
    spare = max(width, height) - side
    offset = spare // 2 if count == 1 else round(index * spare / (count - 1))
    if width >= height:
        return CropBox(offset, 0, side, side)
    return CropBox(0, offset, side, side)


def _hue_rotation(turns: float) -> np.ndarray:
    # Rotation by `turns` of a full turn about the grey axis (1, 1, 1)/sqrt(3) (Rodrigues).
    theta = 2.0 * math.pi * turns
    c, s = math.cos(theta), math.sin(theta)
    k = np.ones((3, 3)) / 3.0
    cross = np.array([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]]) / math.sqrt(3.0)
    return c * np.eye(3) + s * cross + (1.0 - c) * k


def color_jitter_affine(
    channel_mean: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig
) -> np.ndarray:
    """(3, 4) [A | b] for a random colour jitter of a clip whose mean RGB in [0, 1] is
    `channel_mean` (3,); the four ops are applied in a random order, as the reference code does."""
    a = np.eye(3)
    b = np.zeros(3)
    for op in rng.permutation(4):
        if op == 0:  # brightness: x + delta
            b = b + rng.uniform(-cfg.brightness, cfg.brightness)
        elif op == 1:  # saturation: grey + f (x - grey)
            f = rng.uniform(1.0 - cfg.saturation, 1.0 + cfg.saturation)
            m = f * np.eye(3) + (1.0 - f) * np.outer(np.ones(3), _LUMA)
            a, b = m @ a, m @ b
        elif op == 2:  # hue: rotate about the grey axis
            m = _hue_rotation(rng.uniform(-cfg.hue, cfg.hue))
            a, b = m @ a, m @ b
        else:  # contrast: mean + f (x - mean), per channel, mean of the current image
            f = rng.uniform(1.0 - cfg.contrast, 1.0 + cfg.contrast)
            mean = a @ channel_mean + b
            a, b = f * a, f * b + (1.0 - f) * mean
    return np.concatenate([a, b[:, None]], axis=1).astype(np.float32)


def identity_affine() -> np.ndarray:
    """(3, 4) [I | 0]: no colour change (evaluation)."""
    return np.concatenate([np.eye(3), np.zeros((3, 1))], axis=1).astype(np.float32)


def finalize_video(video: torch.Tensor, affine: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, T, H, W) + (B, 3, 4) colour maps -> float (B, 3, T, H, W) in [-1, 1]."""
    b, c, t, h, w = video.shape
    x = video.reshape(b, c, t * h * w).float().div_(255.0)  # (B, 3, N)
    a, bias = affine[:, :, :3].to(x), affine[:, :, 3:].to(x)  # (B, 3, 3), (B, 3, 1)
    y = torch.baddbmm(bias, a, x)  # (B, 3, N)
    return y.clamp_(0.0, 1.0).mul_(2.0).sub_(1.0).reshape(b, c, t, h, w)


def add_audio_noise(wave: np.ndarray, rng: np.random.Generator, scale: float) -> np.ndarray:
    """wave + N(0, (scale * max|wave|)^2), the reference code's audio augmentation."""
    peak = float(np.abs(wave).max()) if wave.size else 0.0
    if peak == 0.0 or scale <= 0.0:
        return wave
    return (wave + rng.normal(0.0, scale * peak, wave.shape)).astype(np.float32)
