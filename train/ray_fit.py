"""A run folder and the Ray Train job that fills it: shared by pretraining and fine-tuning.

`prepare_run_folder` applies --resume / --overwrite to the output URI; `fit` hands a worker
loop to a `TorchTrainer` whose run folder is exactly that URI (checkpoints, resume from the
latest registered one, restarts after a worker failure).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

# Ray, and the checkpoint module's torch, load only when a run starts: `train.pretrain --help`
# imports this module for RunExistsError and must answer at once.
if TYPE_CHECKING:
    import pyarrow.fs
    import ray.train

    from train.config import TrainConfig

logger = logging.getLogger(__name__)


class RunExistsError(Exception):
    """The output folder already holds a run and neither --resume nor --overwrite was given."""


def run_errors() -> tuple[type[Exception], ...]:
    """What a training command (train.pretrain, train.finetune) reports in one `error:` line,
    exit 2, rather than as a traceback: bad inputs, a run folder in use, an unreachable store."""
    from train.checkpoint import CheckpointNotFoundError
    from train.pretrain import StorageAccessError
    from vattclips.dataset import DatasetRootError

    return (
        RunExistsError,
        StorageAccessError,
        DatasetRootError,
        CheckpointNotFoundError,
        ValueError,
        FileNotFoundError,
    )


def existing_checkpoints(output: str) -> list[str]:
    from train.checkpoint import STATE_FILE
    from vattclips import storage

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
    from vattclips import storage

    check_run_folder(output, resume, overwrite)
    if overwrite:
        storage.remove_tree(output)


@dataclass(frozen=True)
class RayStorage:
    """RunConfig arguments that put the run's folder exactly at the output URI."""

    storage_path: str
    storage_filesystem: pyarrow.fs.FileSystem | None
    name: str


def ray_storage(output: str) -> RayStorage:
    """Split `output` into Ray's (storage_path, name): the run folder is storage_path/name.

    Ray Train persists checkpoints through pyarrow filesystems; wrapping the fsspec filesystem
    in pyarrow's FSSpecHandler lets one URI scheme (and one set of credentials) serve both.
    """
    import pyarrow.fs

    from vattclips import storage

    output = storage.normalize(output)
    fs, path = storage.fs_for(output)
    parent, name = path.rstrip("/").rsplit("/", 1)
    if storage.is_local(output):
        return RayStorage(storage_path=parent or "/", storage_filesystem=None, name=name)
    handler = pyarrow.fs.FSSpecHandler(fs)
    return RayStorage(parent, pyarrow.fs.PyFileSystem(handler), name)


def fit(
    loop: Callable[[dict[str, Any]], None], loop_config: dict[str, Any], tc: TrainConfig
) -> ray.train.Result:
    """Run `loop` on tc.num_workers Ray Train workers, storing the run at tc.output."""
    import ray.train
    from ray.train.torch import TorchTrainer

    where = ray_storage(tc.output)
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
    from vattclips import storage

    if not result.checkpoint:
        return None
    return storage.join(tc.output, result.checkpoint.path.rstrip("/").rsplit("/", 1)[-1])
