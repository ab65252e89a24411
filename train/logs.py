"""Logging of the training CLIs and Ray Train workers: INFO for ours, WARNING for the storage
libraries (fsspec announces every read-ahead cache it sets up)."""

from __future__ import annotations

import logging

QUIET = ("fsspec", "gcsfs", "s3fs", "botocore", "aiobotocore", "urllib3")


def configure() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
