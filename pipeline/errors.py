"""Errors of the shard builder. A StageError becomes a row of failures.parquet, never a crash."""

from __future__ import annotations

from typing import Literal, get_args

# Where an input failed: the `stage` column of failures.parquet (docs/shard-format.md), in the
# order a video goes through them.
Stage = Literal["manifest", "fetch", "probe", "plan", "captions", "decode", "asr", "write"]
STAGES: tuple[Stage, ...] = get_args(Stage)

# HTTP statuses that say "try again later": timeout, too early, throttled, server-side trouble.
TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
# Error codes object stores use for the same (S3's SlowDown, GCS's rateLimitExceeded, ...).
_TRANSIENT_CODES = ("slowdown", "throttl", "ratelimit", "timeout", "unavailable", "internalerror")
# Exception type names of network trouble in the clients fsspec uses (aiohttp, botocore, ...).
_TRANSIENT_NAMES = ("timeout", "connection", "disconnect", "throttl", "brokenpipe", "reset")


class StageError(Exception):
    """One input (or part of one) failed at a named stage; the message names the input.

    `transient`: the cause may pass (a fetch error, a timeout, throttling, a 5xx), so that
    `--retry-failed` tries the video again; False for what a retry cannot change (not media).
    """

    def __init__(self, stage: Stage, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.stage = stage
        self.message = message
        self.transient = transient


class ConfigError(Exception):
    """A broken configuration (unreadable manifest, unwritable output, mismatched options).

    The CLI turns it into a one-line message and a non-zero exit, before heavy work starts.
    """


def _status(exc: BaseException) -> int | None:
    """The HTTP status an exception carries, in the spellings of aiohttp, gcsfs and botocore."""
    for attr in ("status", "code", "status_code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value <= 599:
            return value
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        value = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(value, int):
            return value
    return None


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", "")).lower()
    return ""


def is_transient(exc: BaseException, default: bool = False) -> bool:
    """Whether an error may pass on a retry (timeouts, throttling, 5xx, dropped connections).

    Walks the exception's causes: fsspec's HTTP filesystem, for one, turns a 503 into a
    FileNotFoundError raised from the aiohttp error that holds the status. What none of the
    causes decides (an unknown error type) is `default`.
    """
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, StageError):
            return e.transient
        status = _status(e)
        if status is not None:
            return status in TRANSIENT_STATUS
        code = _error_code(e)
        if code:
            return any(w in code for w in _TRANSIENT_CODES)
        if isinstance(e, TimeoutError | ConnectionError):
            return True
        name = type(e).__name__.lower()
        if any(w in name for w in _TRANSIENT_NAMES):
            return True
        e = e.__cause__ or e.__context__
    if isinstance(exc, PermissionError | FileNotFoundError | IsADirectoryError):
        return False
    return default
