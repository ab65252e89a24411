"""Test-time evaluation of a fine-tuned classifier: multi-clip x multi-crop.

Every clip of the split is read once per spatial crop (`crops` full-short-side squares along the
long side: 3 = left, centre, right), its class probabilities (softmax, or per-class sigmoid for
multi-label sets) averaged over the crops, then over the clips of its video: one prediction per
video from all the windows the data holds (the reference code tests 4 windows x 3 crops).
Top-1 / top-5 with ties at random (a collapsed model scores chance), or mAP for multi-label.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from model import VattForClassification, load_tokenizer
from train.checkpoint import find_checkpoint, local_copy, read_state
from train.features import extract
from train.scores import map_chance, mean_average_precision, multi_hot, topk_chance, topk_scores


def class_probabilities(
    model: VattForClassification, video: torch.Tensor, audio: torch.Tensor
) -> dict[str, torch.Tensor]:
    if model.config.classifier_modality == "video":
        logits = model(video=video)
    else:
        logits = model(audio=audio)
    probs = logits.sigmoid() if model.config.multi_label else logits.softmax(dim=-1)
    return {"probs": probs}


def load_classifier(uri: str) -> tuple[VattForClassification, object, int]:
    """(classifier in eval mode, tokenizer, step) of a fine-tuning checkpoint or run."""
    with local_copy(find_checkpoint(uri)) as folder:
        model = VattForClassification.from_pretrained(os.path.join(folder, "model"))
        tokenizer = load_tokenizer(os.path.join(folder, "tokenizer"))
        step = read_state(folder).step
    return model.eval(), tokenizer, step


def evaluate_classifier(
    model: VattForClassification,
    tokenizer: object,
    data: str,
    split: str = "val",
    crops: int = 3,
    batch_size: int = 32,
    device: torch.device | None = None,
) -> dict:
    """{"top1", "top5"} (or {"mAP"}), "chance", "classes", "n" (videos scored), "crops"."""
    clips = extract(model, tokenizer, data, split, crops, batch_size, device, class_probabilities)
    videos = clips.by_video()
    has = videos.has_video if model.config.classifier_modality == "video" else videos.has_audio
    rows = has & np.array([bool(lab) for lab in videos.labels], bool)
    if not rows.any():
        raise ValueError(f"no labelled {model.config.classifier_modality} in {data} [{split}]")
    scores = videos.arrays["probs"][rows]
    labels = [videos.labels[i] for i in np.flatnonzero(rows)]
    classes = model.config.num_labels
    if model.config.multi_label:
        targets = multi_hot(labels, classes)
        out: dict = {"mAP": mean_average_precision(scores, targets)["mAP"]}
        out["chance"] = {"mAP": map_chance(targets)}
    else:
        out = topk_scores(scores, np.array([r[0] for r in labels]))
        out["chance"] = topk_chance(classes)
    return {**out, "classes": classes, "n": int(rows.sum()), "crops": crops}
