"""Beam's startup chatter, kept out of a build's output.

Beam's local SDK workers are separate processes writing to the driver's stderr before any
logging setup of ours can run in them, so their lines are filtered at the file descriptor:
for the time of a build, fd 2 is a pipe read by one thread that forwards every line except
those below (each meaningless for this pipeline, with the reason), in order.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

NOISE = (
    # apache_beam.io.gcp imports its BigQuery client, absent here; nothing uses BigQuery
    b"apitools not found, and bigquery client libraries are not available",
    # a Dataflow worker's cache of pickled registries; a local worker has none to restore
    b"No semi_persistent_directory found",
    # the DirectRunner's own flags, which the workers' option parser does not know
    b"Discarding unparseable args",
    # each worker announcing its log relay to the driver
    b"Logging handler created.",
)

_saved_fd: int | None = None


def stderr_fd() -> int:
    """The terminal's stderr, also while a build's is filtered (for a last message)."""
    return _saved_fd if _saved_fd is not None else 2


def _forward(read_fd: int, out_fd: int) -> None:
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        pending = b""
        while chunk := pipe.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if not any(n in line for n in NOISE):
                    os.write(out_fd, line + b"\n")
        if pending and not any(n in pending for n in NOISE):
            os.write(out_fd, pending)


@contextlib.contextmanager
def beam_noise_filtered() -> Iterator[None]:
    """Within the block, fd 2 (this process's and its children's) drops the NOISE lines."""
    global _saved_fd
    if os.name != "posix" or _saved_fd is not None:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    _saved_fd = saved
    reader = threading.Thread(target=_forward, args=(read_fd, saved), daemon=True)
    reader.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # our end of the pipe closes; workers still alive keep theirs
        _saved_fd = None
        reader.join(timeout=5)
        if not reader.is_alive():  # else a lingering worker still writes through it
            os.close(saved)
