"""Logging of the training CLIs and Ray Train workers: INFO for ours, WARNING for libraries
whose INFO lines repeat what ours say (fsspec announces every read-ahead cache; Ray Train
prints each report as `TrainingReport(...)` and each checkpoint's path, which our checkpoint
line names; TensorBoard's reader logs "No path found after" each event file it has read)."""

from __future__ import annotations

import logging
import os
import sys

QUIET = (
    "fsspec",
    "gcsfs",
    "s3fs",
    "botocore",
    "aiobotocore",
    "urllib3",
    "ray.train",
    "tensorboard",
)


def configure() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    # Ray Train's per-report line comes from a logger named by its file's path, not "ray.train"
    context = sys.modules.get("ray.train.v2._internal.execution.context")
    if context is not None and getattr(context, "__file__", None):
        logging.getLogger(context.__file__).setLevel(logging.WARNING)
    if not sys.stdout.isatty():
        # Ray colours the "(RayTrainWorker pid=...)" prefix of relayed lines: raw escape
        # codes in a log file
        os.environ.setdefault("RAY_COLOR_PREFIX", "0")
