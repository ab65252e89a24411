"""Logging of the training CLIs and Ray Train workers: the project's one setup
(`vattclips.logs`: INFO for ours, WARNING for the storage libraries), plus WARNING for the
libraries whose INFO lines repeat what ours say (Ray Train prints each report as
`TrainingReport(...)` and each checkpoint's path, which our checkpoint line names;
TensorBoard's reader logs "No path found after" each event file it has read)."""

from __future__ import annotations

import logging
import os
import sys

from vattclips import logs

QUIET = ("ray.train", "tensorboard")


def configure() -> None:
    logs.configure(quiet=QUIET)
    # Ray Train's per-report line comes from a logger named by its file's path, not "ray.train"
    context = sys.modules.get("ray.train.v2._internal.execution.context")
    if context is not None and getattr(context, "__file__", None):
        logging.getLogger(context.__file__).setLevel(logging.WARNING)
    if not sys.stdout.isatty():
        # Ray colours the "(RayTrainWorker pid=...)" prefix of relayed lines: raw escape
        # codes in a log file
        os.environ.setdefault("RAY_COLOR_PREFIX", "0")
