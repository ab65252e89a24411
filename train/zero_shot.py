"""`python -m train.zero_shot`: zero-shot classification through the text tower.

Each class name of dataset.json, made a phrase ("ApplyEyeMakeup" and "apply_eye_makeup" both
read "apply eye makeup") and put in `--template`, is embedded by the text tower into the
video-text space; each clip's video embedding (or each video's, its clips' embeddings averaged
with `--per video`) is assigned the classes in order of cosine similarity. No label is used for
training, so a random-init model scores chance; ties count at random (a collapsed model scores
exactly chance, never the class that happens to come first). Class words the run's vocabulary
does not know become [UNK] and are named in a warning.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys

import numpy as np
import torch
import torch.nn.functional as F

from model import VattModel, encode_texts
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

logger = logging.getLogger("train.zero_shot")

DEFAULT_TEMPLATE = "a video of {}"


def class_phrase(name: str) -> str:
    """A class name as words: underscores, dashes and camel case split, lower-cased."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|[_\-]+", " ", name)
    return " ".join(spaced.lower().split())


def unknown_words(tokenizer, texts: list[str]) -> list[str]:
    """The words of `texts` (whitespace-split) that the tokenizer maps to its unknown token."""
    unk = tokenizer.unk_token_id
    found: dict[str, None] = {}
    for text in texts:
        for word in text.split():
            ids = tokenizer(word, add_special_tokens=False)["input_ids"]
            if unk is not None and unk in ids:
                found[word] = None
    return list(found)


@torch.no_grad()
def class_embeddings(
    model: VattModel, tokenizer, names: tuple[str, ...], template: str
) -> torch.Tensor:
    """(C, vt) text embeddings of the class prompts."""
    prompts = [template.format(class_phrase(n)) for n in names]
    ids = encode_texts(tokenizer, prompts, max_tokens=model.config.text_max_tokens)
    device = next(model.parameters()).device
    return model(text_ids=ids.to(device))["text_vt"].float().cpu()


def classify(
    feats: ClipFeatures, classes: torch.Tensor, labels: LabelSet
) -> dict[str, float | int]:
    """Scores of the rows with video against the class embeddings: top-1/5 or mAP, n."""
    rows = feats.has_video & np.array([bool(lab) for lab in feats.labels], bool)
    if not rows.any():
        raise ValueError("no labelled clip with video to classify (zero-shot needs video)")
    video = torch.from_numpy(feats.arrays["video_vt"][rows])
    scores = (F.normalize(video, dim=-1) @ F.normalize(classes, dim=-1).T).numpy()  # (N, C)
    y = [feats.labels[i] for i in np.flatnonzero(rows)]
    if labels.multi_label:
        targets = multi_hot(y, len(labels))
        out: dict = {"mAP": mean_average_precision(scores, targets)["mAP"]}
        out["chance"] = {"mAP": map_chance(targets)}
    else:
        out = topk_scores(scores, np.array([r[0] for r in y]))
        out["chance"] = topk_chance(len(labels))
    out["n"] = int(rows.sum())
    return out


def run_zero_shot(
    model: VattModel,
    tokenizer,
    feats: ClipFeatures,
    labels: LabelSet,
    template: str = DEFAULT_TEMPLATE,
) -> dict:
    """The command's JSON object for features already extracted (per clip or per video)."""
    if "{}" not in template:
        raise ValueError(f"--template {template!r} has no {{}} for the class name")
    phrases = [class_phrase(n) for n in labels.names]
    unknown = unknown_words(tokenizer, [*phrases, template.replace("{}", " ")])
    if unknown:
        logger.warning(
            "the run's vocabulary does not know these words of the class prompts "
            "(they become [UNK]): %s",
            ", ".join(unknown),
        )
    result = classify(feats, class_embeddings(model, tokenizer, labels.names, template), labels)
    return {**result, "classes": len(labels), "unknown_words": unknown, "template": template}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m train.zero_shot",
        description="Zero-shot classification: class names through the text tower, nearest "
        "class per clip or video in the video-text space.",
    )
    add_model_args(p)
    p.add_argument(
        "--template", default=DEFAULT_TEMPLATE, help="prompt, {} = the class (%(default)r)"
    )
    p.add_argument(
        "--split", default="val", choices=("train", "val"), help="split classified (%(default)s)"
    )
    add_feature_args(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parse_cli(build_parser(), argv)
    try:
        labels = labelled_dataset(args.data, (args.split,))
        model, tokenizer, _ = load_model(args.checkpoint, args.random_init, args.seed)
        feats = extract(model, tokenizer, args.data, args.split, args.crops, args.batch_size)
        if args.per == "video":
            feats = feats.by_video(normalize=True)
        result = run_zero_shot(model, tokenizer, feats, labels, args.template)
    except (*INPUT_ERRORS, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    result.update({"per": args.per, "random_init": args.random_init})
    if args.json:
        print(json.dumps(result))
        return 0
    keys = ["mAP"] if labels.multi_label else ["top1", "top5"]
    print(
        f"zero-shot on {args.data} [{args.split}]: {result['classes']} classes, "
        f"{result['n']} {args.per}s, template {args.template!r}"
    )
    for k in keys:
        print(f"  {k:<5} {result[k]:6.1f} %   (chance {result['chance'][k]:.1f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
