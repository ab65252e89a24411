"""One clip -> the keyword arguments of `VattModel.forward`, prepared as in evaluation.

    from train.checkpoint import load_for_inference
    from train.inputs import model_inputs
    model, tokenizer, _ = load_for_inference("runs/demo")     # or VattModel.from_pretrained
    out = model(**model_inputs("talk.mp4", model.config, tokenizer, start=12.0))
    out = model(**model_inputs(sample, model.config, tokenizer))  # a shard sample (WebDataset
                                                                  # or `datasets` row)

What the model takes (shapes for the model's config; see docs/model.md):
- video (1, 3, T, H, W) float in [-1, 1]: T = `video_frames` taken evenly over the clip's
  3.2 s, a centred square crop (`AugmentConfig.eval_crop_fraction` of the short side) resized
  to `video_size`;
- audio (1, S) float mono: S = `audio_samples` at `audio_sample_rate` (zeros when silent);
- text_ids (1, K, L) int64, 0 = padding: the clip's K nearest captions by the run's tokenizer,
  or (N, L) for `texts` given (retrieval queries).

A video file is first cut exactly as the shard builder cuts it (pipeline.decode: one ffmpeg
pass, 10 fps, short side 256, 48 kHz mono), so inference sees what training saw.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from model import encode_texts
from train.augment import finalize_video
from train.sample import InputSpec, decode_sample


def _sample_bytes(sample: Mapping[str, Any]) -> dict[str, Any]:
    """A WebDataset sample (bytes members) or a `datasets` row (json as a dict, txt as str)
    as raw members."""
    raw = {k: v for k, v in sample.items() if v is not None}
    if isinstance(raw.get("json"), dict):
        raw["json"] = json.dumps(raw["json"]).encode()
    if isinstance(raw.get("txt"), str):
        raw["txt"] = raw["txt"].encode()
    raw.setdefault("__key__", "clip")
    return raw


def cut_sample(path: str, start: float = 0.0, clip_seconds: float = 3.2) -> dict[str, Any]:
    """The clip of the video file `path` starting at `start` s, as a shard sample's members."""
    from pipeline.clips import ClipSpec, Window
    from pipeline.decode import cut_clips
    from pipeline.probe import probe

    spec = ClipSpec(clip_seconds=clip_seconds)
    info = probe(path, path)
    first = int(round(start * spec.fps))
    window = Window(0, first, spec.frames, spec.fps, spec.sample_rate, spec.samples)
    if start < 0 or window.end > info.duration + 1e-3:
        raise ValueError(
            f"{path}: a {clip_seconds}s clip at {start}s does not fit in {info.duration:.2f}s"
        )
    clip = next(cut_clips(path, path, info, [window], spec))
    meta = {"key": "clip", "start": window.start, "end": window.end, "neighbors": []}
    raw = {"__key__": "clip", "mp4": clip.mp4, "json": json.dumps(meta).encode(), "txt": b""}
    if clip.flac is not None:
        raw["flac"] = clip.flac
    return raw


def model_inputs(
    source: str | Mapping[str, Any],
    config: Any,
    tokenizer: Any,
    start: float = 0.0,
    texts: Sequence[str] | None = None,
) -> dict[str, torch.Tensor]:
    """`video`, `audio`, `text_ids` for `model(**inputs)` from a video file (path, cut at
    `start`) or a shard sample; `texts` replaces the clip's own captions."""
    spec = InputSpec.from_model_config(config)
    if isinstance(source, Mapping):
        raw = _sample_bytes(source)
    else:
        raw = cut_sample(str(source), start, spec.audio_samples / spec.audio_sample_rate)
    s = decode_sample(raw, spec, tokenizer, np.random.default_rng(0), train=False)
    video = finalize_video(
        torch.from_numpy(s["video"])[None], torch.from_numpy(s["video_affine"])[None]
    )
    out = {"video": video, "audio": torch.from_numpy(s["audio"])[None]}
    if texts is not None:
        out["text_ids"] = encode_texts(tokenizer, list(texts), max_tokens=spec.text_max_tokens)
    elif bool(s["text_mask"].any()):
        out["text_ids"] = torch.from_numpy(s["text_ids"])[None]
    return out
