"""Classification scores that a degenerate model cannot game: top-k accuracy with ties broken at
random in expectation, mean average precision, and what chance gives for each.

A collapsed model scores every class the same for every clip. Counting the true class as found
when it is merely tied with the best (or letting argmax pick the lowest index, which may be the
true one) would hand it accuracy it did not earn; here it gets exactly the chance k / C.
"""

from __future__ import annotations

import numpy as np
import torch

from train.evaluate import TIE_TOLERANCE, recall_at

KS = (1, 5)


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """% of rows whose true class is within the top k of `scores` (N, C); labels (N,) ints.
    Classes tied with the true one (within TIE_TOLERANCE) are ordered at random in
    expectation: P(hit) = (k - above) / (tied + 1), clamped to [0, 1]."""
    if len(labels) == 0:
        raise ValueError("no rows to score")
    s = torch.as_tensor(np.asarray(scores, dtype=np.float64))
    y = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    own = s.gather(1, y[:, None])  # (N, 1)
    others = torch.ones_like(s, dtype=torch.bool).scatter_(1, y[:, None], False)
    gap = s - own
    above = (others & (gap > TIE_TOLERANCE)).sum(dim=1).double()
    tied = (others & (gap.abs() <= TIE_TOLERANCE)).sum(dim=1).double()
    return round(100.0 * recall_at(above, tied, k).mean().item(), 2)


def topk_scores(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """{"top1", "top5"} in % (top-5 is 100 when there are at most 5 classes)."""
    return {f"top{k}": topk_accuracy(scores, labels, k) for k in KS}


def topk_chance(classes: int) -> dict[str, float]:
    """What a model that ties every class scores: k / C."""
    return {f"top{k}": round(100.0 * min(k, classes) / classes, 2) for k in KS}


def average_precision(scores: np.ndarray, positive: np.ndarray) -> float:
    """AP of one class, tie-aware: items tied at a score enter the precision-recall curve
    together (as one threshold, as sklearn's average_precision_score does), so all-equal
    scores give the positive rate: below the chance of a random ranking, never above."""
    order = np.argsort(-scores, kind="stable")
    s, p = scores[order], positive[order].astype(np.float64)
    # The last index of each group of equal scores: thresholds between distinct scores only.
    ends = np.r_[np.nonzero(np.abs(np.diff(s)) > TIE_TOLERANCE)[0], len(s) - 1]
    hits = np.cumsum(p)[ends]
    seen = ends + 1.0
    recall_gain = np.diff(np.r_[0.0, hits]) / max(p.sum(), 1.0)
    return float(np.sum(recall_gain * hits / seen))


def mean_average_precision(scores: np.ndarray, targets: np.ndarray) -> dict[str, float | int]:
    """{"mAP": %, "classes_scored": n}: mean AP over the classes with at least one positive in
    `targets` (N, C) 0/1 (a class with none has no defined AP, as in AudioSet's protocol)."""
    scored = [c for c in range(targets.shape[1]) if targets[:, c].any()]
    if not scored:
        raise ValueError("no class has a positive example to score")
    aps = [average_precision(scores[:, c], targets[:, c]) for c in scored]
    return {"mAP": round(100.0 * float(np.mean(aps)), 2), "classes_scored": len(scored)}


def random_ap(positives: int, n: int) -> float:
    """Expected AP of a random ranking of n items with `positives` positives: a positive at
    rank r (uniform on 1..n) has on average (r - 1)(P - 1)/(n - 1) positives above it, so
    E[AP] = (1/n) sum_r (1 + (r - 1)(P - 1)/(n - 1)) / r."""
    if n <= 1:
        return 1.0
    r = np.arange(1, n + 1, dtype=np.float64)
    return float(np.mean((1.0 + (r - 1.0) * (positives - 1) / (n - 1)) / r))


def map_chance(targets: np.ndarray) -> float:
    """Chance mAP in %: the mean over the scored classes of a random ranking's expected AP."""
    n = targets.shape[0]
    counts = [int(c) for c in targets.sum(axis=0) if c > 0]
    return round(100.0 * float(np.mean([random_ap(c, n) for c in counts])), 2)


def multi_hot(labels: list[list[int]], classes: int) -> np.ndarray:
    """(N, C) 0/1 targets from per-row index lists."""
    out = np.zeros((len(labels), classes), np.int64)
    for row, indices in enumerate(labels):
        out[row, indices] = 1
    return out
