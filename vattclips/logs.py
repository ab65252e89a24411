"""The logging setup of both jobs' command lines (and of the trainer's Ray workers).

One format, INFO for this project's loggers, WARNING for the storage libraries every reader
of a dataset root goes through (fsspec announces every read-ahead cache, botocore every
credential lookup); each job names its framework's chatty loggers too (Beam, Ray Train).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%H:%M:%S"
STORAGE_LOGGERS = ("fsspec", "gcsfs", "s3fs", "botocore", "aiobotocore", "urllib3")


def configure(verbose: bool = False, quiet: Iterable[str] = ()) -> None:
    """INFO (DEBUG when `verbose`) on stderr; the storage libraries and `quiet` at WARNING."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format=FORMAT, datefmt=DATE_FORMAT
    )
    for name in (*STORAGE_LOGGERS, *quiet):
        logging.getLogger(name).setLevel(logging.WARNING)
