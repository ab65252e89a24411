"""Errors of the shard builder. A StageError becomes a row of failures.parquet, never a crash."""

from __future__ import annotations


class StageError(Exception):
    """One input (or part of one) failed at a named stage; the message names the input."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(message)
        self.stage = stage
        self.message = message


class ConfigError(Exception):
    """A broken configuration (unreadable manifest, unwritable output, mismatched options).

    The CLI turns it into a one-line message and a non-zero exit, before heavy work starts.
    """
