"""A run folder and the Ray Train job that fills it: shared by pretraining and fine-tuning.

`prepare_run_folder` applies --resume / --overwrite to the output URI; `fit` hands a worker
loop to a `TorchTrainer` whose run folder is exactly that URI (checkpoints, resume from the
latest registered one, restarts after a worker failure).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

# Ray, and the checkpoint module's torch, load only when a run starts: `train.pretrain --help`
# imports this module for RunExistsError and must answer at once.
if TYPE_CHECKING:
    import ray.train

    from train.config import TrainConfig

logger = logging.getLogger(__name__)


class RunExistsError(Exception):
    """The output folder already holds a run and neither --resume nor --overwrite was given."""


def existing_checkpoints(output: str) -> list[str]:
    from train import storage
    from train.checkpoint import STATE_FILE

    return storage.glob(storage.join(output, "checkpoint_*", STATE_FILE))


def check_run_folder(output: str, resume: bool, overwrite: bool) -> bool:
    """Refuse a run folder in use without --resume or --overwrite (RunExistsError); True when
    --resume finds a run to continue."""
    if overwrite:
        return False
    found = bool(existing_checkpoints(output))
    if found and not resume:
        raise RunExistsError(
            f"{output} already holds a run; pass --resume to continue it, --overwrite to "
            "start over, or another --output"
        )
    if resume and not found:
        logger.warning("--resume: no checkpoint in %s yet, starting from scratch", output)
    return resume and found


def prepare_run_folder(output: str, resume: bool, overwrite: bool) -> None:
    """Empty the folder (--overwrite), or refuse to start over a run without --resume."""
    from train import storage

    check_run_folder(output, resume, overwrite)
    if overwrite:
        storage.remove(output)


def fit(
    loop: Callable[[dict[str, Any]], None], loop_config: dict[str, Any], tc: TrainConfig
) -> ray.train.Result:
    """Run `loop` on tc.num_workers Ray Train workers, storing the run at tc.output."""
    import ray.train
    from ray.train.torch import TorchTrainer

    from train import storage

    where = storage.ray_storage(tc.output)
    trainer = TorchTrainer(
        loop,
        train_loop_config=loop_config,
        scaling_config=ray.train.ScalingConfig(
            num_workers=tc.num_workers,
            use_gpu=tc.use_gpu,
            resources_per_worker={"CPU": tc.cpus_per_worker},
        ),
        run_config=ray.train.RunConfig(
            name=where.name,
            storage_path=where.storage_path,
            storage_filesystem=where.storage_filesystem,
            failure_config=ray.train.FailureConfig(max_failures=tc.max_failures),
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=tc.keep_checkpoints),
        ),
    )
    return trainer.fit()


def last_checkpoint(tc: TrainConfig, result: ray.train.Result) -> str | None:
    """The URI of the run's last checkpoint (Ray's path has no scheme: named by the run's)."""
    from train import storage

    if not result.checkpoint:
        return None
    return storage.join(tc.output, result.checkpoint.path.rstrip("/").rsplit("/", 1)[-1])
