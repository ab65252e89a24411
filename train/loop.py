"""The training loop each Ray Train worker runs (one DDP rank).

Reads top to bottom: restore or build the model, wrap it for DDP, then per step: take a batch,
finish the colour augmentation on the device, forward, NCE + MIL-NCE with negatives gathered
from all ranks, clip (when the recipe says so), step, log; checkpoint every N steps and at the end through
`ray.train.report` (a barrier: every rank calls it at the same steps).

The loop itself (`run_worker`) is shared with fine-tuning (train/finetune_loop.py): a `Task`
names what differs (config type, model, input spec, optimizer, the step's forward and loss).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ray.train
import ray.train.torch
import torch
import transformers

from model import VattModel, get_config
from train import logs
from train.augment import augment_preset
from train.checkpoint import TrainState, checkpoint_name, restore_training, save_checkpoint
from train.config import TrainConfig
from train.data import ClipStream, Source, batches_per_worker, make_loader
from train.metrics import FROM, MetricsWriter, StepMeter, plot_curves, progress_line
from train.sample import InputSpec
from train.schedule import make_scheduler
from train.step import make_optimizer, to_device, train_step
from train.stream import register_fsspec_schemes
from vattclips import storage
from vattclips.dataset import list_shards

logger = logging.getLogger(__name__)

CURVES_PNG = "loss_curves.png"


def _build_model(tc: TrainConfig, checkpoint_dir: str | None) -> VattModel:
    if checkpoint_dir is not None:
        return VattModel.from_pretrained(os.path.join(checkpoint_dir, "model"))
    torch.manual_seed(tc.seed)  # same init everywhere (DDP also broadcasts rank 0's weights)
    return VattModel(get_config(tc.config, **tc.overrides))


def training_sources(tc: TrainConfig) -> list[Source]:
    """The train split of each dataset root, named by its last path part (made unique)."""
    sources: list[Source] = []
    weights = tc.data_weights or [None] * len(tc.data)
    for root, weight in zip(tc.data, weights):
        shards = list_shards(root, "train")
        name = root.rstrip("/").rsplit("/", 1)[-1] or "data"
        if name in {s.name for s in sources}:
            name = f"{name}{len(sources)}"
        sources.append(Source(name, shards.urls, shards.samples, weight))
    return sources


def describe_mixture(sources: list[Source], weights: list[float]) -> str:
    return ", ".join(
        f"{s.name} {100 * w:.0f}% ({len(s.urls)} shards, "
        f"{sum(s.samples) if s.samples is not None else '?'} clips)"
        for s, w in zip(sources, weights)
    )


def _tensorboard_dir(tc: TrainConfig) -> str:
    # Event files go straight to a local run folder; for object storage they are written
    # locally and uploaded at each checkpoint.
    if storage.is_local(tc.output):
        return os.path.join(storage.normalize(tc.output), "tensorboard")
    return tempfile.mkdtemp(prefix="vatt-tb-")


def _publish_tensorboard(tc: TrainConfig, logdir: str, final: bool) -> None:
    remote = not storage.is_local(tc.output)
    target = storage.join(tc.output, "tensorboard")
    if remote:
        storage.upload_dir(logdir, target)
    if final:
        with tempfile.TemporaryDirectory() as tmp:
            # All attempts' event files (a restarted run logs into the same folder).
            source = logdir
            if remote:
                storage.download_dir(target, tmp)
                source = tmp
            png = plot_curves(source, os.path.join(source, CURVES_PNG))
            if remote:
                storage.upload_dir(os.path.dirname(png), target)
        logger.info("loss curves: %s", storage.join(target, CURVES_PNG))


def _step(
    forward: torch.nn.Module,
    batch: dict[str, Any],
    device: torch.device,
    cfg: Any,
    tc: TrainConfig,
    gather: bool,
) -> dict[str, torch.Tensor]:
    """`train.step.train_step` of one loader batch (bf16 autocast on GPU)."""
    return train_step(forward, to_device(batch, device), cfg, tc.use_gpu, gather)


def _adam(model: torch.nn.Module, tc: TrainConfig) -> torch.optim.Optimizer:
    return make_optimizer(model.parameters(), tc.lr, next(model.parameters()).device)


def _pretraining_spec(cfg: Any, tc: TrainConfig) -> InputSpec:
    return InputSpec.from_model_config(
        cfg, augment_preset(tc.augment), temporal_jitter=tc.temporal_jitter
    )


@dataclass(frozen=True)
class Task:
    """What a training run is, for `run_worker`: its config dataclass, how to build (or, with
    a checkpoint folder, restore) the model, the input spec, the optimizer, and one step
    (forward + backward of a batch from the loader, returning the loss terms)."""

    config_type: type[TrainConfig]
    build_model: Callable[[Any, str | None], torch.nn.Module]
    spec: Callable[[Any, Any], InputSpec]
    optimizer: Callable[[torch.nn.Module, Any], torch.optim.Optimizer]
    step: Callable[..., dict[str, torch.Tensor]]


PRETRAINING = Task(TrainConfig, _build_model, _pretraining_spec, _adam, _step)


def train_loop_per_worker(config: dict[str, Any]) -> None:
    """Ray Train entry point of pretraining (see `run_worker`)."""
    run_worker(config, PRETRAINING)


def run_worker(config: dict[str, Any], task: Task) -> None:
    """One rank of a run. `config`: {"train": the task's config dict, "tokenizer": tokenizer}."""
    logs.configure()
    transformers.utils.logging.disable_progress_bar()  # per-save bars would swamp the log
    register_fsspec_schemes()
    tc = task.config_type.from_dict(config["train"])
    tokenizer = config["tokenizer"]
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    device = ray.train.torch.get_device()
    torch.set_num_threads(max(1, tc.cpus_per_worker))

    # Model, optimizer, schedule: fresh, or from the last checkpoint (resume / after a failure).
    checkpoint = ray.train.get_checkpoint()
    with checkpoint.as_directory() if checkpoint else contextlib.nullcontext() as ckpt_dir:
        model = task.build_model(tc, ckpt_dir).to(device).train()  # from_pretrained: eval()
        optimizer = task.optimizer(model, tc)
        scheduler = make_scheduler(optimizer, tc.schedule())
        state = restore_training(ckpt_dir, optimizer, scheduler) if ckpt_dir else TrainState()
    if ckpt_dir:
        state.resumed_at.append(state.step)
        logger.info("rank %d resumed at step %d (data epoch %d)", rank, state.step, state.epoch)
    cfg = model.config
    ddp_model = ray.train.torch.prepare_model(model, move_to_device=False)
    forward = torch.compile(ddp_model) if tc.compile else ddp_model

    sources = training_sources(tc)
    stream = ClipStream(
        sources,
        task.spec(cfg, tc),
        tokenizer,
        tc.loader(),
    )
    known = all(s.samples is not None for s in sources)
    total = sum(sum(s.samples) for s in sources) if known else None
    per_worker = batches_per_worker(total, tc.batch_size, world, tc.loader_workers)
    if rank == 0:
        logger.info("training data: %s", describe_mixture(sources, stream.weights))
    writer = MetricsWriter(_tensorboard_dir(tc)) if rank == 0 else None
    meter = StepMeter()
    gather = world > 1  # negatives from every rank's batch

    stream.epoch = state.epoch  # seeds the streams: a resumed run draws new data
    loader = make_loader(stream, per_worker, pin_memory=device.type == "cuda")
    while state.step < tc.max_steps:
        finished_epoch = True
        mark = time.perf_counter()
        for batch in loader:  # one epoch: the same number of batches on every rank
            wait = time.perf_counter() - mark
            losses = task.step(forward, batch, device, cfg, tc, gather)
            # The global L2 norm, logged; clipped to it only with --grad-clip > 0 (without,
            # only measured: clip_grad_norm_ would still scale every gradient by 1.0).
            if tc.grad_clip:
                grad_norm = torch.nn.utils.clip_grad_norm_(ddp_model.parameters(), tc.grad_clip)
            else:
                grads = [p.grad for p in ddp_model.parameters() if p.grad is not None]
                grad_norm = torch.nn.utils.get_total_norm(grads)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
            state.step += 1
            state.samples += tc.batch_size * world
            skips = {k: batch[k] for k in ("corrupt_samples", "corrupt_shards")}
            if len(sources) > 1:  # per-source counts, summed over ranks in the logs
                drawn = Counter(batch["source"])
                skips.update({f"{FROM}{s.name}": drawn[i] for i, s in enumerate(sources)})
            terms = {k: v.detach() for k, v in losses.items()}
            meter.add({**terms, "grad_norm": grad_norm}, tc.batch_size, wait, skips)

            last = state.step >= tc.max_steps
            if state.step % tc.log_every == 0 or last:
                metrics = meter.flush(device)
                metrics["lr"] = scheduler.get_last_lr()[0]
                if writer is not None:
                    writer.write(state.step, metrics)
                    logger.info(progress_line(state.step, tc.max_steps, metrics))
            if state.step % tc.checkpoint_every == 0 or last:
                _report(tc, model, tokenizer, optimizer, scheduler, state, rank, writer)
            mark = time.perf_counter()
            if last:
                finished_epoch = False
                break
        if finished_epoch:
            state.epoch += 1

    if writer is not None:
        writer.close()
        try:
            _publish_tensorboard(tc, writer.logdir, final=True)
        except Exception:  # noqa: BLE001 - a plot must not fail (and so restart) a finished run
            logger.exception("could not draw the loss curves")


def _report(
    tc: TrainConfig,
    model: VattModel,
    tokenizer: Any,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    state: TrainState,
    rank: int,
    writer: MetricsWriter | None,
) -> None:
    """Checkpoint through ray.train.report: rank 0 writes it, every rank takes part."""
    metrics = {"step": state.step, "epoch": state.epoch, "samples": state.samples}
    name = checkpoint_name(state.step)
    if rank != 0:
        ray.train.report(metrics, checkpoint=None, checkpoint_dir_name=name)
        return
    with tempfile.TemporaryDirectory(prefix="vatt-ckpt-") as tmp:
        save_checkpoint(tmp, model, tokenizer, optimizer, scheduler, state, tc.to_dict())
        ray.train.report(
            metrics, checkpoint=ray.train.Checkpoint.from_directory(tmp), checkpoint_dir_name=name
        )
    if writer is not None:
        _publish_tensorboard(tc, writer.logdir, final=False)
    logger.info("checkpoint %s saved at step %d", name, state.step)
