"""What a fine-tuning rank does differently from pretraining (the loop is train.loop's).

The model is a `VattForClassification`: the pretrained run's towers (or random weights with
`--from-scratch`) and a fresh linear head on the video (or audio) tower's [AGG] output. Only
that tower and the head train; the others are frozen (DDP then needs no unused-parameter
search). A batch's clips without the modality (an audio-only sample for a video classifier) or
without a label sit out of the loss: cross-entropy with label smoothing, or per-class binary
cross-entropy for multi-label sets; with `mixup` (the reference's AudioSet recipe), the inputs
and targets of a batch's labelled rows are mixed in pairs first.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import torch
import torch.nn.functional as F
import transformers

from model import VattForClassification, get_config, resize_positions, set_droptoken
from train.augment import augment_preset
from train.checkpoint import find_checkpoint, local_copy
from train.finetune_config import FinetuneConfig
from train.loop import Task, run_worker
from train.sample import InputSpec
from train.scores import multi_hot
from train.step import to_device

logger = logging.getLogger(__name__)

GEOMETRY = ("video_frames", "video_size", "audio_samples")


def _head_fields(tc: FinetuneConfig) -> dict[str, Any]:
    return {
        "id2label": dict(enumerate(tc.labels)),
        "classifier_modality": tc.modality,
        "classifier_dropout": tc.classifier_dropout,
        "multi_label": tc.multi_label,
    }


def build_classifier(tc: FinetuneConfig, checkpoint_dir: str | None) -> VattForClassification:
    """Restored from this run's checkpoint, else the pretrained `init` with a new head (its
    positional tables interpolated to a new input geometry), else random weights."""
    if checkpoint_dir is not None:
        model = VattForClassification.from_pretrained(os.path.join(checkpoint_dir, "model"))
        return _train_only_the_tower(model, tc.modality)
    torch.manual_seed(tc.seed)  # the head's init (and everything from scratch): same on all ranks
    geometry = {k: v for k, v in tc.overrides.items() if k in GEOMETRY}
    others = {k: v for k, v in tc.overrides.items() if k not in GEOMETRY}
    if tc.init is None:
        model = VattForClassification(get_config(tc.config, **tc.overrides, **_head_fields(tc)))
    else:
        transformers.utils.logging.set_verbosity_error()  # its report: "the head is new"
        with local_copy(find_checkpoint(tc.init)) as folder:
            model = VattForClassification.from_pretrained(
                os.path.join(folder, "model"), **others, **_head_fields(tc)
            )
        logger.info("towers from %s, a new %d-class head", tc.init, len(tc.labels))
        if geometry:
            cfg = model.config
            sizes = {k: geometry.get(k, getattr(cfg, k)) for k in GEOMETRY}
            resize_positions(model.vatt, **sizes)
    set_droptoken(model.vatt, 0.0, 0.0)
    return _train_only_the_tower(model, tc.modality)


def _train_only_the_tower(model: VattForClassification, modality: str) -> VattForClassification:
    """Freeze everything but the classified tower and the head (the optimizer takes the
    parameters that train, in the same order on a fresh start and on a resume)."""
    trained = [model.vatt.transformer(modality), model.classifier]
    trained.append(model.vatt.video_embed if modality == "video" else model.vatt.audio_embed)
    for p in model.parameters():
        p.requires_grad_(False)
    for module in trained:
        for p in module.parameters():
            p.requires_grad_(True)
    return model


def _sgd(model: torch.nn.Module, tc: FinetuneConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.SGD(params, lr=tc.lr, momentum=tc.momentum, weight_decay=tc.weight_decay)


def _spec(cfg: Any, tc: FinetuneConfig) -> InputSpec:
    # Audio-only samples stay in the stream (an audio classifier uses them; a video one masks
    # them out of the loss) instead of counting as corrupt.
    return InputSpec.from_model_config(cfg, augment_preset(tc.augment), need_video=False)


def dense_targets(labels: list[list[int]], classes: int, device: torch.device) -> torch.Tensor:
    """(B, C) float targets: 1 at each of a clip's label indices (a row of zeros: no label),
    built on the host and moved in one copy."""
    return torch.from_numpy(multi_hot(labels, classes)).to(device, torch.float32)


def mixup_pairs(valid: torch.Tensor, alpha: float) -> tuple[float, torch.Tensor]:
    """Mixup's weight and partners for one batch: lam ~ Beta(alpha, alpha), one per batch, and
    for each row the row it is mixed with: a random permutation of the valid rows among
    themselves (an invalid row keeps itself)."""
    concentration = torch.tensor(float(alpha))
    lam = float(torch.distributions.Beta(concentration, concentration).sample())
    partner = torch.arange(valid.numel(), device=valid.device)
    rows = valid.nonzero().flatten()
    partner[rows] = rows[torch.randperm(rows.numel()).to(valid.device)]
    return lam, partner


def mix(x: torch.Tensor, lam: float, partner: torch.Tensor) -> torch.Tensor:
    """lam * x + (1 - lam) * x[partner], row by row (inputs or targets)."""
    return lam * x + (1.0 - lam) * x[partner]


def classification_loss(
    logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, tc: FinetuneConfig
) -> torch.Tensor:
    """Mean loss over the `valid` (B,) rows with a label; 0 (with a graph, for DDP) when there
    are none. `target` (B, C): `dense_targets`, mixed or not."""
    valid = valid & (target.sum(1) > 0)
    if tc.multi_label:
        per_row = F.binary_cross_entropy_with_logits(logits, target, reduction="none").mean(1)
    else:  # class probabilities: the same loss as class indices when the rows are one-hot
        per_row = F.cross_entropy(
            logits, target, label_smoothing=tc.label_smoothing, reduction="none"
        )
    weights = valid.to(per_row.dtype)
    return (per_row * weights).sum() / weights.sum().clamp(min=1.0)


def finetune_step(
    forward: torch.nn.Module,
    batch: dict[str, Any],
    device: torch.device,
    cfg: Any,
    tc: FinetuneConfig,
    gather: bool,  # noqa: ARG001 - no cross-rank negatives in classification
) -> dict[str, torch.Tensor]:
    inputs = to_device(batch, device)
    video = tc.modality == "video"
    x = inputs["video"] if video else inputs["audio"]
    valid = inputs["video_mask"] if video else inputs["audio_mask"]
    target = dense_targets(batch["labels"], len(tc.labels), device)
    valid = valid & (target.sum(1) > 0)  # rows with the modality and a label
    if tc.mixup_alpha > 0:
        lam, partner = mixup_pairs(valid, tc.mixup_alpha)
        x, target = mix(x, lam, partner), mix(target, lam, partner)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=tc.use_gpu):
        logits = forward(video=x) if video else forward(audio=x)
    loss = classification_loss(logits.float(), target, valid, tc)
    loss.backward()
    return {"loss": loss}


FINETUNING = Task(FinetuneConfig, build_classifier, _spec, _sgd, finetune_step)


def finetune_loop_per_worker(config: dict[str, Any]) -> None:
    """Ray Train entry point of fine-tuning."""
    run_worker(config, FINETUNING)
