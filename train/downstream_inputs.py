"""What every downstream command (linear probe, zero-shot, fine-tuning) takes and checks: a
labelled dataset root, and a model (a run's checkpoint, or the same config at random init).

Each check fails with one exception naming the input, which the CLIs print as one `error:` line.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass

import torch
import transformers

from model import VattModel
from train import logs
from train.checkpoint import CheckpointNotFoundError, load_for_inference
from train.stream import register_fsspec_schemes
from vattclips.dataset import DatasetRootError, list_shards

logger = logging.getLogger(__name__)

# What the CLIs turn into `error: ...` and exit 2.
INPUT_ERRORS = (CheckpointNotFoundError, DatasetRootError, FileNotFoundError)


class LabelError(DatasetRootError):
    """A dataset without labels, or with fewer than 2 classes."""


@dataclass(frozen=True)
class LabelSet:
    """dataset.json's class names (index -> name) and whether clips carry several."""

    names: tuple[str, ...]
    multi_label: bool

    def __len__(self) -> int:
        return len(self.names)


def labelled_dataset(data: str, splits: tuple[str, ...] = ("train", "val")) -> LabelSet:
    """The label set of the dataset root `data`, after checking it has shards for `splits`,
    labels, and at least 2 classes."""
    shards = [list_shards(data, split) for split in splits]
    labels = shards[0].labels
    if labels is None:
        raise LabelError(
            f"{data} has no labels (no 'labels' in its dataset.json): build it from a manifest "
            "with a 'label' column (docs/shard-format.md)"
        )
    if len(labels) < 2:
        raise LabelError(f"{data} has {len(labels)} class ({list(labels)}); need at least 2")
    return LabelSet(tuple(labels), shards[0].multi_label)


def load_model(
    checkpoint: str, random_init: bool = False, seed: int = 0
) -> tuple[VattModel, object, int]:
    """(model in eval mode, the run's tokenizer, its step). `random_init`: the checkpoint's
    config with fresh weights (the paper's from-scratch baseline), step 0. A fine-tuned
    checkpoint gives its towers (its classification head is not used)."""
    transformers.utils.logging.set_verbosity_error()  # load reports of heads not used here
    model, tokenizer, state = load_for_inference(checkpoint)
    if not random_init:
        return model, tokenizer, state.step
    torch.manual_seed(seed)
    return VattModel(model.config).eval(), tokenizer, 0


def add_model_args(p: argparse.ArgumentParser) -> None:
    """--checkpoint, --data, --random-init, --seed, --batch-size, --device, --json."""
    p.add_argument(
        "--checkpoint", required=True, help="checkpoint folder, or a run folder (its latest)"
    )
    p.add_argument("--data", required=True, help="labelled dataset root URI (folder, gs://, s3://)")
    p.add_argument(
        "--random-init",
        action="store_true",
        help="the checkpoint's config with random weights (the from-scratch baseline)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="random init and sampling seed (%(default)s)"
    )
    p.add_argument(
        "--batch-size", type=int, default=32, help="clips per forward pass (%(default)s)"
    )
    p.add_argument(
        "--device",
        default="cuda" if torch.cuda.is_available() else "cpu",
        help="torch device (default: cuda when available, else cpu)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object only")


def add_feature_args(p: argparse.ArgumentParser) -> None:
    """--per, --crops: how the frozen features are taken (train.linear_probe, train.zero_shot)."""
    p.add_argument(
        "--per",
        default="video",
        choices=("video", "clip"),
        help="one example per video (its clips' features averaged, default) or per clip",
    )
    p.add_argument(
        "--crops",
        type=int,
        default=1,
        help="spatial crops averaged per clip (3: left/centre/right); 1 = the centre crop "
        "(default)",
    )


def prepare() -> None:
    """Process setup of a downstream CLI: object-store schemes, quiet Hugging Face bars."""
    register_fsspec_schemes()
    transformers.utils.logging.disable_progress_bar()


def parse_cli(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """A downstream CLI's start: logging, its arguments, `prepare()`."""
    logs.configure()
    args = parser.parse_args(argv)
    prepare()
    return args
