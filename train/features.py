"""Frozen features of a labelled split: one pass of the evaluation transform (centre crop, or
several crops averaged; no augmentation, no DropToken) through a VATT model.

Per clip: the video tower's [AGG] output (`video`), the audio tower's (`audio`), and the
common-space embeddings (`video_vt`, `video_va`, `audio_va`), with the clip's video id, class
indices and which modalities it has (an audio-only sample of vatt-clips/2 has no video).
`by_video` averages the clips of each video: the paper's several-clips-per-video test.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from model import VattModel
from train.augment import finalize_video
from train.data import ClipStream, LoaderConfig, make_loader
from train.sample import InputSpec
from vattclips.dataset import list_shards

logger = logging.getLogger(__name__)

PROGRESS_EVERY_S = 15.0
# model, video (B, 3, T, H, W) in [-1, 1], audio (B, S) -> named (B, D) outputs
Outputs = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], dict[str, torch.Tensor]]


def vatt_features(model: VattModel, video: torch.Tensor, audio: torch.Tensor) -> dict:
    """Both towers' [AGG] outputs and the common-space embeddings."""
    pooled_v = model.encode_video(video)  # (B, Dv)
    pooled_a = model.encode_audio(audio)  # (B, Da)
    va, vt = model.heads.video(pooled_v)
    return {
        "video": pooled_v,
        "audio": pooled_a,
        "video_vt": vt,
        "video_va": va,
        "audio_va": model.heads.audio(pooled_a),
    }


@dataclass
class ClipFeatures:
    """Arrays of one split's clips, in reading order (rows aligned)."""

    keys: list[str] = field(default_factory=list)
    video_ids: list[str] = field(default_factory=list)
    labels: list[list[int]] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    has_video: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    has_audio: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (N, D) float32
    skipped_samples: int = 0
    skipped_shards: int = 0

    def __len__(self) -> int:
        return len(self.keys)

    def select(self, mask: np.ndarray) -> ClipFeatures:
        """The rows where `mask` (N,) is True."""
        idx = np.flatnonzero(mask)
        return ClipFeatures(
            keys=[self.keys[i] for i in idx],
            video_ids=[self.video_ids[i] for i in idx],
            labels=[self.labels[i] for i in idx],
            captions=[self.captions[i] for i in idx],
            has_video=self.has_video[idx],
            has_audio=self.has_audio[idx],
            arrays={k: v[idx] for k, v in self.arrays.items()},
            skipped_samples=self.skipped_samples,
            skipped_shards=self.skipped_shards,
        )

    def by_video(self, normalize: bool = False) -> ClipFeatures:
        """One row per video id (first-seen order): its clips' arrays averaged (each clip
        L2-normalised first when `normalize`, for cosine scoring), its first clip's labels,
        its distinct captions joined in reading order."""
        order: dict[str, list[int]] = {}
        for i, vid in enumerate(self.video_ids):
            order.setdefault(vid, []).append(i)
        groups = list(order.values())
        arrays = {}
        for name, values in self.arrays.items():
            x = torch.from_numpy(values)
            if normalize:
                x = F.normalize(x, dim=-1)
            arrays[name] = np.stack([x[g].mean(dim=0).numpy() for g in groups])

        def joined(g: list[int]) -> str:
            return " ".join(dict.fromkeys(self.captions[i] for i in g if self.captions[i]))

        return ClipFeatures(
            keys=[self.keys[g[0]] for g in groups],
            video_ids=list(order),
            labels=[self.labels[g[0]] for g in groups],
            captions=[joined(g) for g in groups],
            has_video=np.array([self.has_video[g].any() for g in groups], bool),
            has_audio=np.array([self.has_audio[g].any() for g in groups], bool),
            arrays=arrays,
            skipped_samples=self.skipped_samples,
            skipped_shards=self.skipped_shards,
        )


class Progress:
    """A log line every PROGRESS_EVERY_S seconds: clips done, rate, ETA when the total is
    known; `done()` logs the summary."""

    def __init__(self, what: str, total: int | None) -> None:
        self.what, self.total, self.count = what, total, 0
        self.start = self.last = time.perf_counter()

    def add(self, n: int) -> None:
        self.count += n
        now = time.perf_counter()
        if now - self.last >= PROGRESS_EVERY_S:
            self.last = now
            logger.info("%s: %s", self.what, self._line(now))

    def _line(self, now: float) -> str:
        rate = self.count / max(now - self.start, 1e-9)
        line = f"{self.count} clips, {rate:.1f} clips/s"
        if self.total:
            left = max(0, self.total - self.count) / max(rate, 1e-9)
            line = f"{self.count}/{self.total} clips, {rate:.1f} clips/s, ETA {left:.0f} s"
        return line

    def done(self) -> None:
        now = time.perf_counter()
        rate = self.count / max(now - self.start, 1e-9)
        logger.info(
            "%s: %d clips in %.1f s (%.1f clips/s)", self.what, self.count, now - self.start, rate
        )


@torch.no_grad()
def _one_pass(
    model: VattModel,
    tokenizer: object,
    urls: tuple[str, ...],
    spec: InputSpec,
    batch_size: int,
    device: torch.device,
    progress: Progress,
    outputs: Outputs,
) -> ClipFeatures:
    stream = ClipStream(
        urls, spec, tokenizer, LoaderConfig(batch_size=batch_size, num_workers=0), train=False
    )
    out = ClipFeatures()
    chunks: dict[str, list[np.ndarray]] = {}
    has_video, has_audio = [], []
    for batch in make_loader(stream):
        video = finalize_video(batch["video"].to(device), batch["video_affine"].to(device))
        values = outputs(model, video, batch["audio"].to(device))
        for name, value in values.items():
            chunks.setdefault(name, []).append(value.float().cpu().numpy())
        out.keys.extend(batch["key"])
        out.video_ids.extend(batch["video_id"])
        out.labels.extend(batch["labels"])
        out.captions.extend(batch["caption"])
        has_video.append(batch["video_mask"].numpy())
        has_audio.append(batch["audio_mask"].numpy())
        out.skipped_samples += batch["corrupt_samples"]
        out.skipped_shards += batch["corrupt_shards"]
        progress.add(len(batch["key"]))
    if out.keys:
        out.arrays = {name: np.concatenate(c) for name, c in chunks.items()}
        out.has_video = np.concatenate(has_video)
        out.has_audio = np.concatenate(has_audio)
    return out


def extract(
    model: torch.nn.Module,
    tokenizer: object,
    data: str,
    split: str,
    crops: int = 1,
    batch_size: int = 32,
    device: torch.device | None = None,
    outputs: Outputs = vatt_features,
) -> ClipFeatures:
    """`outputs` (by default `vatt_features`) of every readable clip of `split` (unreadable
    ones counted, not fatal). With `crops` > 1 the video is read once per spatial crop and the
    outputs averaged per clip."""
    if crops < 1:
        raise ValueError(f"--crops must be at least 1, got {crops}")
    device = device or torch.device("cpu")
    model = model.to(device).eval()
    shards = list_shards(data, split)
    total = shards.total_samples * crops if shards.total_samples is not None else None
    progress = Progress(f"features of {data} [{split}]", total)
    passes = []
    for index in range(crops):
        spec = InputSpec.from_model_config(
            model.config, need_video=False, crops=crops, crop_index=index
        )
        passes.append(
            _one_pass(model, tokenizer, shards.urls, spec, batch_size, device, progress, outputs)
        )
    progress.done()
    first = passes[0]
    if not first.keys:
        raise ValueError(f"no readable clip in the {split!r} split of {data}")
    for other in passes[1:]:  # align by key: the same clips, read in the same order
        if other.keys != first.keys:
            raise ValueError(f"crops of {data} [{split}] read different clips")
        for name in first.arrays:
            first.arrays[name] = first.arrays[name] + other.arrays[name]
    for name in first.arrays:
        first.arrays[name] = first.arrays[name] / crops
    if first.skipped_samples or first.skipped_shards:
        logger.warning(
            "could not read %d clips and %d shards of %s [%s]",
            first.skipped_samples,
            first.skipped_shards,
            data,
            split,
        )
    return first
