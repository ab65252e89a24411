"""One raw WebDataset sample -> the model's inputs (video still uint8, see augment.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from transformers import PreTrainedTokenizerFast

from train.augment import (
    AugmentConfig,
    add_audio_noise,
    center_crop,
    color_jitter_affine,
    identity_affine,
    random_resized_crop,
    spatial_crop,
)
from train.stream import RawSample
from train.text import neighbor_texts, tokenize_bag
from vattclips.audio import decode_waveform, fit_length
from vattclips.captions import clip_caption
from vattclips.keys import video_id_of
from vattclips.meta import label_indices, read_meta
from vattclips.video import CropBox, decode_clip


class SampleError(Exception):
    """A sample that lacks a required member."""


@dataclass(frozen=True)
class InputSpec:
    """The input geometry the model expects (read from its config) and how a stored clip is
    fitted to it. Not the clips' geometry in the shards: that is the build's
    `pipeline.clips.ClipSpec` (and each sample's json)."""

    video_frames: int
    video_size: int
    audio_samples: int
    audio_sample_rate: int
    text_max_tokens: int
    num_neighbors: int
    augment: AugmentConfig = AugmentConfig()
    # False: a sample without an mp4 (an audio-only sample of vatt-clips/2) gets black video and
    # video_mask False instead of being skipped as incomplete (pretraining needs the video).
    need_video: bool = True
    # Evaluation crop: `crops` == 1 is the centre crop; else crop `crop_index` of `crops`
    # full-short-side squares along the long side (multi-crop test-time evaluation).
    crops: int = 1
    crop_index: int = 0
    temporal_jitter: bool = True  # training: a random sub-window of a longer stored clip

    @property
    def seconds(self) -> float:
        """The time the model sees (its audio span; its frames spread over the same)."""
        return self.audio_samples / self.audio_sample_rate

    @classmethod
    def from_model_config(
        cls, cfg: Any, augment: AugmentConfig | None = None, **changes: Any
    ) -> InputSpec:
        return cls(
            video_frames=int(cfg.video_frames),
            video_size=int(cfg.video_size),
            audio_samples=int(cfg.audio_samples),
            audio_sample_rate=int(cfg.audio_sample_rate),
            text_max_tokens=int(cfg.text_max_tokens),
            num_neighbors=int(cfg.num_neighbors),
            augment=augment or AugmentConfig(),
            **changes,
        )


@dataclass(frozen=True)
class SubWindow:
    """The part of a stored clip the model sees: `frames` of its frames from `first_frame`."""

    first_frame: int
    frames: int
    fps: float

    @property
    def offset(self) -> float:
        """Start of the sub-window in the clip, seconds (where its audio starts too)."""
        return self.first_frame / self.fps


def sub_window(
    meta: dict[str, Any], spec: InputSpec, rng: np.random.Generator | None
) -> SubWindow | None:
    """A model-span-long window of a stored clip that is longer (built with a --clip-seconds
    above the model's): at a random frame offset with `rng` (temporal jitter), else the
    centre one. None when the clip is no longer than the span (the model sees all of it)."""
    fps, stored = float(meta.get("fps") or 0), int(meta.get("frames") or 0)
    span = int(round(spec.seconds * fps))
    if fps <= 0 or span < 1 or stored <= span:
        return None
    extra = stored - span
    first = int(rng.integers(0, extra + 1)) if rng is not None else extra // 2
    return SubWindow(first, span, fps)


def _clip_mean(video: np.ndarray) -> np.ndarray:
    # (3, T, H, W) -> mean RGB in [0, 1], from 1/64 of the pixels: plenty for a mean.
    return video[:, :, ::8, ::8].reshape(3, -1).mean(axis=1) / 255.0


def _decode_video(
    raw: RawSample,
    spec: InputSpec,
    rng: np.random.Generator,
    train: bool,
    span: tuple[int, int] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """(3, T, H, W) uint8 video and its (3, 4) colour map; `span` (first frame, frames) of a
    longer stored clip, None for all of it."""
    aug = spec.augment
    if train and aug.random_crop:

        def crop_for(w: int, h: int) -> CropBox:
            return random_resized_crop(w, h, rng, aug)

    elif spec.crops > 1:

        def crop_for(w: int, h: int) -> CropBox:
            return spatial_crop(w, h, spec.crop_index, spec.crops)

    else:

        def crop_for(w: int, h: int) -> CropBox:
            return center_crop(w, h, aug.eval_crop_fraction)

    flip = train and bool(rng.random() < aug.flip_prob)
    video = decode_clip(raw["mp4"], spec.video_frames, spec.video_size, crop_for, flip, span)
    affine = color_jitter_affine(_clip_mean(video), rng, aug) if train else identity_affine()
    return video, affine


def decode_sample(
    raw: RawSample,
    spec: InputSpec,
    tokenizer: PreTrainedTokenizerFast,
    rng: np.random.Generator,
    train: bool,
) -> dict[str, Any]:
    """Decode, augment (train) or centre-crop (eval), and tokenize one sample.

    Returns numpy arrays: video (3, T, H, W) uint8, video_affine (3, 4) float32, video_mask ()
    bool, audio (S,) float32, audio_mask () bool, text_ids (K, L) int64, text_mask (K,) bool;
    and key, video_id, caption (the clip's own text, for retrieval), labels (class indices),
    source (index of its dataset in a mixture).
    """
    key = raw["__key__"]
    has_video = "mp4" in raw
    if not has_video and spec.need_video:
        raise SampleError(f"sample {key!r} has no mp4 member")
    meta = read_meta(raw)
    aug = spec.augment
    # Video and audio of one sub-window (aligned) when the stored clip is longer than the span.
    window = sub_window(meta, spec, rng if train and spec.temporal_jitter else None)
    if has_video:
        span = (window.first_frame, window.frames) if window else None
        video, affine = _decode_video(raw, spec, rng, train, span)
    else:  # an audio-only sample: black frames the video tower never scores (video_mask)
        size = spec.video_size
        video = np.zeros((3, spec.video_frames, size, size), np.uint8)
        affine = identity_affine()

    if "flac" in raw:
        wave = decode_waveform(raw["flac"], spec.audio_sample_rate)
        extra = len(wave) - spec.audio_samples
        if window is not None:
            offset: int | None = int(round(window.offset * spec.audio_sample_rate))
        else:  # a few samples of resampling rounding at most
            offset = int(rng.integers(0, extra + 1)) if train and extra > 0 else None
        audio = fit_length(wave, spec.audio_samples, offset)
        if train:
            audio = add_audio_noise(audio, rng, aug.audio_noise)
        has_audio = True
    else:
        audio = np.zeros(spec.audio_samples, np.float32)
        has_audio = False

    txt = raw.get("txt", b"").decode("utf-8")
    ids, mask = tokenize_bag(
        tokenizer, neighbor_texts(meta, txt, spec.num_neighbors), spec.text_max_tokens
    )
    return {
        "video": video,
        "video_affine": affine,
        "video_mask": np.bool_(has_video),
        "audio": audio.astype(np.float32, copy=False),
        "audio_mask": np.bool_(has_audio),
        "text_ids": ids,
        "text_mask": mask,
        "key": key,
        "video_id": str(meta.get("video_id") or video_id_of(key)),
        "caption": clip_caption(meta, txt),
        "labels": label_indices(raw, meta),
        "source": int(raw.get("__source__", 0)),  # which dataset of a mixture
    }
