"""`python -m train.linear_probe`: a linear classifier on frozen VATT features.

The video tower's [AGG] output (and the audio tower's, when the clips have audio) of every clip
of the `train` and `val` splits, under the evaluation transform (no augmentation, no DropToken);
the clips of a video averaged (`--per video`, the default; the reference code's linear
evaluation averages 4 windows per video), and `--crops 3` averages three spatial crops too.
Features are standardised, then an L2-regularised logistic regression (one-vs-rest for
multi-label sets) is trained on `train`, its inverse regularisation C chosen from a grid by
stratified k-fold cross-validation on `train` only, and scored on `val`: top-1 / top-5 (ties in
the scores count at random, so a collapsed model scores chance), or mAP for multi-label sets.

`--shots N` is the few-shot probe: N labelled train videos per class, averaged over `--draws`
seeded draws (mean and standard deviation).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from dataclasses import dataclass

import numpy as np

from train.downstream_inputs import (
    INPUT_ERRORS,
    LabelSet,
    add_feature_args,
    add_model_args,
    labelled_dataset,
    load_model,
    parse_cli,
)
from train.features import ClipFeatures, extract
from train.scores import map_chance, mean_average_precision, multi_hot, topk_chance, topk_scores

logger = logging.getLogger("train.linear_probe")

C_GRID = tuple(float(c) for c in np.logspace(-3, 3, 7))  # inverse L2 strengths tried by the CV
DEFAULT_C = 1.0  # when the train split is too small to cross-validate (a class with one example)
MAX_FOLDS = 5


@dataclass(frozen=True)
class ProbeData:
    """One modality's train and test rows: features (N, D), class indices per row."""

    x_train: np.ndarray
    y_train: list[list[int]]
    x_test: np.ndarray
    y_test: list[list[int]]


def _classifier(c: float, multi_label: bool, seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    linear = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    head = OneVsRestClassifier(linear) if multi_label else linear
    return make_pipeline(StandardScaler(), head)


def _fit(c: float, multi_label: bool, seed: int, x: np.ndarray, target: np.ndarray):
    with warnings.catch_warnings():
        # One-vs-rest on a class without positives in these rows is a constant: expected.
        warnings.simplefilter("ignore")
        return _classifier(c, multi_label, seed).fit(x, target)


def _scores(clf, x: np.ndarray, classes: int, multi_label: bool) -> np.ndarray:
    """(N, classes) class probabilities; a class absent from the fitted train rows scores 0."""
    proba = clf.predict_proba(x)
    if multi_label:
        return proba
    out = np.zeros((x.shape[0], classes))
    out[:, clf.classes_] = proba
    return out


def _score(scores: np.ndarray, y: list[list[int]], classes: int, multi_label: bool) -> dict:
    if multi_label:
        return {"mAP": mean_average_precision(scores, multi_hot(y, classes))["mAP"]}
    return topk_scores(scores, np.array([row[0] for row in y]))


def choose_c(data: ProbeData, classes: int, multi_label: bool, seed: int) -> float:
    """The C of C_GRID with the best mean held-out score over k folds of the train rows (k =
    the smallest class count, at most 5); DEFAULT_C when a class has a single train row."""
    from sklearn.model_selection import KFold, StratifiedKFold

    y = data.y_train
    if multi_label:
        folds = min(MAX_FOLDS, len(y))
        splitter = KFold(folds, shuffle=True, random_state=seed)
        target = multi_hot(y, classes)
    else:
        target = np.array([row[0] for row in y])
        folds = min(MAX_FOLDS, int(np.unique(target, return_counts=True)[1].min()))
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed) if folds >= 2 else None
    if folds < 2 or splitter is None:
        return DEFAULT_C
    best, best_score = DEFAULT_C, -1.0
    for c in C_GRID:
        results = []
        for fit_rows, held_rows in splitter.split(data.x_train, target):
            clf = _fit(c, multi_label, seed, data.x_train[fit_rows], target[fit_rows])
            held = _scores(clf, data.x_train[held_rows], classes, multi_label)
            held_y = [y[i] for i in held_rows]
            try:
                metric = _score(held, held_y, classes, multi_label)
            except ValueError:  # a fold without any positive (multi-label): not informative
                continue
            results.append(metric["mAP"] if multi_label else metric["top1"])
        if results and float(np.mean(results)) > best_score:
            best, best_score = c, float(np.mean(results))
    return best


def probe(data: ProbeData, classes: int, multi_label: bool, seed: int = 0) -> dict:
    """Fit on train (C by cross-validation), score on test: {"top1", "top5"} or {"mAP"},
    plus "C", "n_train", "n_test"."""
    c = choose_c(data, classes, multi_label, seed)
    target = (
        multi_hot(data.y_train, classes)
        if multi_label
        else np.array([row[0] for row in data.y_train])
    )
    clf = _fit(c, multi_label, seed, data.x_train, target)
    result = _score(
        _scores(clf, data.x_test, classes, multi_label), data.y_test, classes, multi_label
    )
    return {**result, "C": c, "n_train": len(data.y_train), "n_test": len(data.y_test)}


def few_shot_rows(
    y: list[list[int]], classes: int, shots: int, rng: np.random.Generator
) -> list[int]:
    """Row indices: `shots` rows drawn per class among the rows carrying it (all of them when
    fewer), without repeats."""
    chosen: set[int] = set()
    for c in range(classes):
        rows = [i for i, labels in enumerate(y) if c in labels and i not in chosen]
        if rows:
            take = rng.choice(len(rows), size=min(shots, len(rows)), replace=False)
            chosen.update(rows[int(i)] for i in take)
    return sorted(chosen)


def few_shot(
    data: ProbeData, classes: int, multi_label: bool, shots: int, draws: int, seed: int
) -> dict:
    """`probe` on `shots` train rows per class, for `draws` seeded draws: each score's mean and
    its standard deviation (`*_std`)."""
    runs = []
    for draw in range(draws):
        rows = few_shot_rows(data.y_train, classes, shots, np.random.default_rng(seed + draw))
        subset = ProbeData(
            data.x_train[rows], [data.y_train[i] for i in rows], data.x_test, data.y_test
        )
        if not multi_label and len({r[0] for r in subset.y_train}) < 2:
            raise ValueError("a few-shot draw holds fewer than 2 classes")
        runs.append(probe(subset, classes, multi_label, seed + draw))
    out: dict = {}
    for key in [k for k in runs[0] if k not in ("C", "n_train", "n_test")]:
        values = [r[key] for r in runs]
        out[key] = round(float(np.mean(values)), 2)
        out[f"{key}_std"] = round(float(np.std(values)), 2)
    out["n_train"] = round(float(np.mean([r["n_train"] for r in runs])), 1)
    out["n_test"] = runs[0]["n_test"]
    return out


def modality_data(train: ClipFeatures, test: ClipFeatures, modality: str) -> ProbeData | None:
    """The rows of `modality` ("video" / "audio") that have it and a label; None when a split
    has none."""

    def rows(f: ClipFeatures) -> np.ndarray:
        has = f.has_video if modality == "video" else f.has_audio
        return has & np.array([bool(lab) for lab in f.labels], bool)

    tr, te = rows(train), rows(test)
    if not tr.any() or not te.any():
        return None
    return ProbeData(
        train.arrays[modality][tr],
        [train.labels[i] for i in np.flatnonzero(tr)],
        test.arrays[modality][te],
        [test.labels[i] for i in np.flatnonzero(te)],
    )


def chance(data: ProbeData, labels: LabelSet) -> dict:
    if labels.multi_label:
        return {"mAP": map_chance(multi_hot(data.y_test, len(labels)))}
    return topk_chance(len(labels))


def run_probe(
    train: ClipFeatures,
    test: ClipFeatures,
    labels: LabelSet,
    shots: int | None = None,
    draws: int = 5,
    seed: int = 0,
) -> dict:
    """The probe's JSON object for features already extracted (per clip or per video)."""
    out: dict = {"classes": len(labels), "multi_label": labels.multi_label}
    for modality in ("video", "audio"):
        data = modality_data(train, test, modality)
        if data is None:
            continue
        if shots:
            result = few_shot(data, len(labels), labels.multi_label, shots, draws, seed)
        else:
            result = probe(data, len(labels), labels.multi_label, seed)
        out[modality] = result
        out.setdefault("n_train", result["n_train"])
        out.setdefault("n_test", result["n_test"])
        out.setdefault("chance", chance(data, labels))
    if "n_train" not in out:
        raise ValueError("no labelled clip with video or audio in both splits")
    if shots:
        out["shots"], out["draws"] = shots, draws
    return out


def format_table(result: dict, title: str) -> str:
    keys = ["mAP"] if result["multi_label"] else ["top1", "top5"]
    lines = [
        title,
        f"{'tower':<8}" + "".join(f"{k:>10}" for k in keys) + f"{'n_train':>9}{'n_test':>8}",
    ]
    for modality in ("video", "audio"):
        if modality in result:
            m = result[modality]
            cells = "".join(
                f"{m[k]:>10.1f}" if f"{k}_std" not in m else f"{m[k]:>6.1f}±{m[f'{k}_std']:<3.0f}"
                for k in keys
            )
            lines.append(f"{modality:<8}{cells}{m['n_train']:>9}{m['n_test']:>8}")
    lines.append(f"{'chance':<8}" + "".join(f"{result['chance'][k]:>10.1f}" for k in keys))
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m train.linear_probe",
        description="Linear probe on frozen VATT features: trained on the train split (C by "
        "cross-validation there), scored on val.",
    )
    add_model_args(p)
    add_feature_args(p)
    p.add_argument(
        "--shots",
        type=int,
        default=None,
        help="few-shot: N train videos per class (default: all, not few-shot)",
    )
    p.add_argument("--draws", type=int, default=5, help="few-shot draws averaged (%(default)s)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parse_cli(build_parser(), argv)
    try:
        if args.crops < 1 or (args.shots is not None and args.shots < 1) or args.draws < 1:
            raise ValueError("--crops, --shots and --draws must be at least 1")
        labels = labelled_dataset(args.data)
        model, tokenizer, step = load_model(args.checkpoint, args.random_init, args.seed)
        logger.info("model: %s", "random init" if args.random_init else f"step {step}")
        feats = [
            extract(model, tokenizer, args.data, split, args.crops, args.batch_size)
            for split in ("train", "val")
        ]
        if args.per == "video":
            feats = [f.by_video() for f in feats]
        result = run_probe(*feats, labels, args.shots, args.draws, args.seed)
    except (*INPUT_ERRORS, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    result.update({"per": args.per, "crops": args.crops, "random_init": args.random_init})
    if args.json:
        print(json.dumps(result))
    else:
        kind = f"{args.shots}-shot probe" if args.shots else "linear probe"
        print(
            format_table(
                result, f"{kind} on {args.data} ({result['classes']} classes, per {args.per})"
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
