"""Checkpoint folders: everything needed to continue a run or evaluate it.

checkpoint_00000200/
  model/          save_pretrained (config.json + model.safetensors): VattModel.from_pretrained
  tokenizer/      the word-level tokenizer the run was trained with
  optimizer.pt    Adam state
  scheduler.pt    LambdaLR state
  state.json      step, data epoch, samples seen, the run's TrainConfig
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from transformers import PreTrainedTokenizerFast

from model import VattModel, load_tokenizer
from vattclips import storage

STATE_FILE = "state.json"


class CheckpointNotFoundError(Exception):
    """A URI that is neither a checkpoint folder nor a run folder holding one."""


@dataclass
class TrainState:
    """Where a run is: optimizer steps taken, data epochs completed, samples consumed, and the
    steps at which it was restarted from a checkpoint (--resume or after a worker failure)."""

    step: int = 0
    epoch: int = 0
    samples: int = 0
    resumed_at: list[int] = field(default_factory=list)


def checkpoint_name(step: int) -> str:
    return f"checkpoint_{step:08d}"


def save_checkpoint(
    directory: str,
    model: VattModel,
    tokenizer: PreTrainedTokenizerFast,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    state: TrainState,
    run_config: dict[str, Any],
) -> None:
    """Write a checkpoint folder (local) for `model` (unwrapped from DDP / compile)."""
    model.save_pretrained(os.path.join(directory, "model"))
    tokenizer.save_pretrained(os.path.join(directory, "tokenizer"))
    torch.save(optimizer.state_dict(), os.path.join(directory, "optimizer.pt"))
    torch.save(scheduler.state_dict(), os.path.join(directory, "scheduler.pt"))
    with open(os.path.join(directory, STATE_FILE), "w") as f:
        json.dump({"state": asdict(state), "config": run_config}, f, indent=1)


def read_state(directory: str) -> TrainState:
    with open(os.path.join(directory, STATE_FILE)) as f:
        return TrainState(**json.load(f)["state"])


def read_run_config(checkpoint_uri: str) -> dict[str, Any]:
    """The run settings (a TrainConfig dict) a checkpoint was written with; {} when none."""
    raw = json.loads(storage.read_bytes(storage.join(checkpoint_uri, STATE_FILE)))
    return dict(raw.get("config") or {})


def restore_training(
    directory: str,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
) -> TrainState:
    """Load optimizer and scheduler state (tensors go to the parameters' device)."""
    optimizer.load_state_dict(
        torch.load(os.path.join(directory, "optimizer.pt"), map_location="cpu", weights_only=True)
    )
    scheduler.load_state_dict(
        torch.load(os.path.join(directory, "scheduler.pt"), map_location="cpu", weights_only=True)
    )
    return read_state(directory)


# Ray Train's record of the checkpoints it registered (written by its controller after a
# checkpoint's upload completed), in the run folder.
RAY_SNAPSHOT = "checkpoint_manager_snapshot.json"
# What a complete checkpoint folder holds (see the module docstring).
REQUIRED_FILES = (
    STATE_FILE,
    "optimizer.pt",
    "scheduler.pt",
    "model/config.json",
    "model/model.safetensors",
    "tokenizer/tokenizer.json",
)


def registered_checkpoint(run_uri: str) -> str | None:
    """The latest checkpoint Ray Train registered for the run folder `run_uri`, or None when it
    registered none (or the run was not made by Ray Train)."""
    snapshot = storage.join(run_uri, RAY_SNAPSHOT)
    if not storage.exists(snapshot):
        return None
    latest = json.loads(storage.read_bytes(snapshot)).get("latest_checkpoint_result")
    return storage.join(run_uri, latest["checkpoint_dir_name"]) if latest else None


def is_complete(checkpoint_uri: str) -> bool:
    return all(storage.exists(storage.join(checkpoint_uri, f)) for f in REQUIRED_FILES)


def find_checkpoint(uri: str) -> str:
    """`uri` itself when it is a checkpoint folder, else the latest checkpoint of the run
    folder `uri`: the one Ray Train registered last (a folder a killed upload left half-written
    is never registered), or without Ray's record the complete folder of the highest step."""
    uri = storage.normalize(uri)
    if storage.exists(storage.join(uri, STATE_FILE)):
        return uri
    registered = registered_checkpoint(uri)
    if registered is not None:
        return registered
    found = storage.glob(storage.join(uri, "checkpoint_*", STATE_FILE))
    folders = sorted((p.rsplit("/", 1)[0] for p in found), reverse=True)  # latest first
    for folder in folders:
        if is_complete(folder):
            return folder
    raise CheckpointNotFoundError(f"no complete checkpoint (a folder with {STATE_FILE}) at {uri}")


@contextlib.contextmanager
def local_copy(uri: str) -> Iterator[str]:
    """A local folder with the contents of `uri` (the folder itself when already local)."""
    if storage.is_local(uri):
        yield storage.normalize(uri)
        return
    with tempfile.TemporaryDirectory(prefix="vatt-ckpt-") as tmp:
        storage.download_dir(uri, tmp)
        yield tmp


def load_for_inference(uri: str) -> tuple[VattModel, PreTrainedTokenizerFast, TrainState]:
    """(model in eval mode, tokenizer, state) of a checkpoint or of a run's latest checkpoint."""
    with local_copy(find_checkpoint(uri)) as directory:
        model = VattModel.from_pretrained(os.path.join(directory, "model"))
        tokenizer = load_tokenizer(os.path.join(directory, "tokenizer"))
        state = read_state(directory)
    return model.eval(), tokenizer, state
