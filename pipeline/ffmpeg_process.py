"""One ffmpeg child process: started from an argument list (never a shell), stdin closed, its
stdout a pipe, extra pipe ends passed by descriptor, stderr drained into a short tail, killed
after a timeout, and never left running.

The decode pass (pipeline/decode.py) reads the child's stdout and the pipes it passed while
the child runs; this unit owns only the process: start, timeout, finish, kill, and what it
says when it fails.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence

# Signals a child dies of when the build is stopped from outside (Ctrl-C, a shutdown).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_DRAIN_BYTES = 1 << 16


class StderrTail(threading.Thread):
    """Drains ffmpeg's stderr (so it never blocks on a full pipe) and keeps its last lines."""

    def __init__(self, stream: io.BufferedReader) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.tail = b""

    def run(self) -> None:
        for chunk in iter(lambda: self.stream.read(4096), b""):
            self.tail = (self.tail + chunk)[-2000:]

    def text(self) -> str:
        lines = self.tail.decode("utf-8", "replace").strip().splitlines()
        return " | ".join(lines[-3:])


class FfmpegProcess:
    """`cmd` running with a deadline of `timeout` seconds from its start.

    `pass_fds`: write ends of pipes the child writes to (`pipe:N` outputs); they are closed
    here once the child holds them, so that the reader sees the end of the stream when the
    child exits. Use as a context manager: leaving it kills a child that still runs.
    """

    def __init__(self, cmd: Sequence[str], timeout: float, pass_fds: Sequence[int] = ()) -> None:
        self.timeout = timeout
        try:
            self.proc = subprocess.Popen(
                list(cmd),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=tuple(pass_fds),
                bufsize=1 << 20,
                start_new_session=True,  # a terminal's Ctrl-C is the driver's (interrupt.py)
            )
        finally:
            for fd in pass_fds:
                os.close(fd)
        self.started = time.monotonic()
        self._killed = threading.Event()
        self._timer = threading.Timer(timeout, self._on_timeout)
        self._timer.daemon = True
        self._timer.start()
        self._stderr = StderrTail(self.proc.stderr)
        self._stderr.start()

    def _on_timeout(self) -> None:
        self._killed.set()
        self.proc.kill()

    @property
    def stdout(self) -> io.BufferedReader:
        return self.proc.stdout

    def finish(self) -> None:
        """Read what is left on stdout and wait for the child, within the deadline."""
        drain = bytearray(_DRAIN_BYTES)
        while self.proc.stdout.readinto(drain):
            pass
        try:
            self.proc.wait(timeout=max(1.0, self.timeout - (time.monotonic() - self.started)))
        except subprocess.TimeoutExpired:
            self._on_timeout()

    def close(self) -> None:
        """Stop the timer; kill and reap the child if it still runs; collect its stderr."""
        self._timer.cancel()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._stderr.join(timeout=5)

    def __enter__(self) -> FfmpegProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def timed_out(self) -> bool:
        return self._killed.is_set()

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    @property
    def stopped_from_outside(self) -> bool:
        """Killed by a stop signal that this unit did not send (Ctrl-C, a shutdown)."""
        rc = self.proc.returncode
        return rc is not None and -rc in STOP_SIGNALS

    def failure(self) -> str | None:
        """`ffmpeg timed out after Ns`, or `ffmpeg failed (its stderr's last lines)` when it
        exited non-zero and said why; None otherwise."""
        if self.timed_out:
            return f"ffmpeg timed out after {self.timeout:.0f}s"
        if self.proc.returncode not in (0, None) and self._stderr.text():
            return f"ffmpeg failed ({self._stderr.text()})"
        return None
