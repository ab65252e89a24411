"""Shared fixtures of the train/ tests: a small real dataset, its tokenizer, a tiny geometry.

`VATT_TEST_SHARDS=/path/to/dataset/root` points the data-path tests that hold for any dataset
(shapes, ranges, masks, equal batches per rank) at real pipeline output instead of the
synthetic shards.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import PreTrainedTokenizerFast

from model import VattModel, get_config, train_word_tokenizer
from tests.train.shardgen import LABELLED, SMALL, write_dataset
from train import cluster
from train.checkpoint import TrainState, registered_checkpoint, save_checkpoint
from train.sample import InputSpec
from train.text import caption_corpus
from vattclips.dataset import list_shards

# Small enough that a training step of the tiny model takes a fraction of a second on 2 cores:
# 8 frames of 32x32 -> 2 x 2 x 2 = 8 video tokens; 0.8 s of 16 kHz audio -> 100 audio tokens.
TEST_MODEL = {"video_frames": 8, "video_size": 32, "audio_samples": 12_800, "dropout": 0.0}

SPEC = SMALL  # 36 train clips in 6 shards, 12 val clips in 2 (tests/conftest.py: synthetic_root)


def pretrain_command(
    root: Path, output: Path, max_steps: int, checkpoint_every: int, *extra: str
) -> list[str]:
    """`python -m train.pretrain` as a user runs it: one worker, the test geometry."""
    overrides = [f"--set={k}={v}" for k, v in TEST_MODEL.items()]
    return [
        *(sys.executable, "-m", "train.pretrain", "--data", str(root), "--output", str(output)),
        *("--max-steps", str(max_steps), "--checkpoint-every", str(checkpoint_every)),
        *("--batch-size", "4", "--num-workers", "1", "--loader-workers", "0"),
        *overrides,
        *extra,
    ]


def registered_step(run: Path) -> int | None:
    """The step of the checkpoint Ray Train registered last in `run`, None before any (or
    while its controller is rewriting the record)."""
    try:
        latest = registered_checkpoint(str(run))
    except (OSError, ValueError):
        return None  # caught mid-write
    return int(latest.rsplit("_", 1)[1]) if latest else None


@pytest.fixture(scope="session")
def multi_label_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """vatt-clips/2, multi-label: colour and motion (12 classes), no `cls` members."""
    spec = dataclasses.replace(LABELLED, labels="multi", audio_only_every=0)
    return write_dataset(tmp_path_factory.mktemp("multi"), spec)


def write_checkpoint(folder: Path, model: VattModel, tokenizer: PreTrainedTokenizerFast) -> Path:
    """A checkpoint folder as a run writes it (no Ray): what the downstream commands read."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    run = {"config": "tiny", "overrides": dict(TEST_MODEL), "augment": "light"}
    save_checkpoint(str(folder), model, tokenizer, optimizer, scheduler, TrainState(step=1), run)
    return folder


@pytest.fixture(scope="session")
def labelled_tokenizer(labelled_root: Path) -> PreTrainedTokenizerFast:
    urls = list_shards(str(labelled_root), "train").urls
    return train_word_tokenizer(list(caption_corpus(urls)), vocab_size=8192)


@pytest.fixture(scope="session")
def random_checkpoint(
    tmp_path_factory: pytest.TempPathFactory, labelled_tokenizer: PreTrainedTokenizerFast
) -> Path:
    """An untrained tiny model at the test geometry, saved as a run's checkpoint."""
    torch.manual_seed(0)
    model = VattModel(get_config("tiny", **TEST_MODEL)).eval()
    return write_checkpoint(
        tmp_path_factory.mktemp("ckpt") / "checkpoint_00000001", model, labelled_tokenizer
    )


@pytest.fixture(scope="session")
def any_root(synthetic_root: Path) -> str:
    """A dataset root for tests that hold for any conformant dataset."""
    return os.environ.get("VATT_TEST_SHARDS") or str(synthetic_root)


def word_tokenizer(root: Path) -> PreTrainedTokenizerFast:
    """The tokenizer of the tests: the words of the train split's captions."""
    urls = list_shards(str(root), "train").urls
    return train_word_tokenizer(list(caption_corpus(urls)), vocab_size=8192)


@pytest.fixture(scope="session")
def tokenizer(synthetic_root: Path) -> PreTrainedTokenizerFast:
    return word_tokenizer(synthetic_root)


@pytest.fixture(scope="session")
def test_model_overrides() -> dict[str, Any]:
    return dict(TEST_MODEL)


@pytest.fixture(scope="session")
def spec() -> InputSpec:
    return InputSpec.from_model_config(get_config("tiny", **TEST_MODEL))


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray of 2 CPUs for one test module (train.pretrain / train.finetune run on it)."""
    os.environ.pop("RAY_ADDRESS", None)
    assert cluster.connect(cpus=2)
    yield
    cluster.shutdown_local()
