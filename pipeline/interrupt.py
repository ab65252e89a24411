"""Ctrl-C during a build: one message saying what is kept, instead of tracebacks from every
process, and nothing half-done committed.

A terminal sends SIGINT to its whole foreground process group: the driver, Beam's SDK worker
processes and their ffmpeg children. Unhandled, each Python worker prints a KeyboardInterrupt
traceback, and an ffmpeg that dies first makes its worker record a decode failure for a video
that was fine. So:
- ffmpeg runs in a session of its own (pipeline.decode): a terminal's signals never reach it;
- for the time of the build SIGINT is ignored (SIG_IGN), which Beam's workers inherit (they are
  started through /bin/sh, which keeps ignored signals but clears blocked masks);
- it is also blocked in every thread of the driver, from `python -m pipeline` on
  (`block_ctrl_c`, before any library starts a thread), so the kernel queues it instead of
  discarding it, and one watcher thread takes it with sigtimedwait. The watcher ends the
  workers (SIGKILL: a worker never commits anything after it; what is committed is whole,
  written atomically), prints the message and exits 130. The same command resumes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for a Ctrl-C
_POSIX = hasattr(signal, "pthread_sigmask") and hasattr(signal, "sigtimedwait")


def block_ctrl_c() -> None:
    """Block SIGINT in this thread and so in every thread started from now on."""
    if _POSIX:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


def allow_ctrl_c() -> None:
    """Ctrl-C as usual again (KeyboardInterrupt) in this thread."""
    if _POSIX:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def end_descendants() -> None:
    """SIGKILL every process this one started, parents (the Beam workers) before children."""
    import psutil

    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            proc.kill()


def _stop(message: Callable[[], str]) -> None:
    # Beam's threads see their workers die: nothing of theirs is news to the user now
    threading.excepthook = lambda args: None
    logging.disable(logging.CRITICAL)
    end_descendants()
    try:
        text = message()
    except Exception as exc:  # noqa: BLE001 - the exit must happen whatever
        text = f"interrupted ({type(exc).__name__} while counting what was kept)"
    from pipeline.quiet import stderr_fd

    sys.stdout.flush()
    os.write(stderr_fd(), (text + "\n").encode())
    os._exit(EXIT_INTERRUPTED)  # no interpreter teardown racing the dying workers


@contextlib.contextmanager
def on_ctrl_c(message: Callable[[], str]) -> Iterator[None]:
    """Within the block, Ctrl-C prints `message()` to stderr and exits 130 (see the module)."""
    if not _POSIX or threading.current_thread() is not threading.main_thread():
        yield
        return
    block_ctrl_c()
    old_handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if signal.sigtimedwait({signal.SIGINT}, 0.5) is not None:
                _stop(message)

    watcher = threading.Thread(target=watch, name="ctrl-c-watcher", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
        signal.signal(signal.SIGINT, old_handler)
        allow_ctrl_c()
