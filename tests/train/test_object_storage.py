"""Shards and checkpoints on object storage: gs:// (GCS emulator) and s3:// (moto), through
the same fsspec code paths as a bucket in the cloud."""

from __future__ import annotations

import uuid
from pathlib import Path

import pyarrow.fs
import torch

from model import VattModel, get_config
from tests.train.conftest import TEST_MODEL
from train.checkpoint import TrainState, load_for_inference, save_checkpoint
from train.data import ClipStream, LoaderConfig, make_loader
from train.ray_fit import ray_storage
from train.schedule import ScheduleConfig, make_scheduler
from train.stream import register_fsspec_schemes
from vattclips import storage
from vattclips.dataset import list_shards


def test_stream_shards_and_load_checkpoints_from_a_bucket(
    bucket, synthetic_root: Path, spec, tokenizer, tmp_path: Path
) -> None:
    prefix, _ = bucket
    register_fsspec_schemes()
    root = f"{prefix}/ds-{uuid.uuid4().hex[:8]}"
    storage.upload_dir(str(synthetic_root), root)

    shards = list_shards(root, "val")
    assert all(u.startswith(f"{root}/shards/val-") for u in shards.urls)
    stream = ClipStream(shards.urls, spec, tokenizer, LoaderConfig(5, 0), train=False)
    batches = list(make_loader(stream))
    assert sum(len(b["key"]) for b in batches) == shards.total_samples
    assert sum(b["corrupt_samples"] + b["corrupt_shards"] for b in batches) == 0

    # A checkpoint folder uploaded under a run folder; evaluation finds and loads the latest.
    model = VattModel(get_config("tiny", **TEST_MODEL))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    scheduler = make_scheduler(optimizer, ScheduleConfig(peak_lr=1e-4, total_steps=10))
    run = f"{root}/run"
    for step in (3, 12):
        local = tmp_path / f"ckpt{step}"
        save_checkpoint(str(local), model, tokenizer, optimizer, scheduler, TrainState(step), {})
        storage.upload_dir(str(local), f"{run}/checkpoint_{step:08d}")
    loaded, loaded_tokenizer, state = load_for_inference(run)
    assert state.step == 12
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    assert loaded_tokenizer.get_vocab() == tokenizer.get_vocab()

    # Ray Train gets the bucket as a pyarrow filesystem rooted at the run's parent.
    where = ray_storage(f"{root}/ray-run")
    assert where.name == "ray-run" and isinstance(where.storage_filesystem, pyarrow.fs.FileSystem)
    with where.storage_filesystem.open_output_stream(f"{where.storage_path}/probe.txt") as f:
        f.write(b"ok")
    assert storage.exists(f"{root}/probe.txt")
