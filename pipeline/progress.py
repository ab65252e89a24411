"""The progress line of a running build, from the records the workers commit."""

from __future__ import annotations

import logging
import threading
import time

from pipeline.work import round_folder, work_uri
from vattclips import storage

log = logging.getLogger(__name__)


class Progress(threading.Thread):
    """A periodic line while the job runs: videos done, clips, rate, ETA, shards written."""

    def __init__(
        self, output: str, total: int, every: float = 10.0, round_: int = 0, shards_before: int = 0
    ) -> None:
        super().__init__(daemon=True)
        self.output, self.total, self.every = output, total, every
        self.records = storage.join(output, round_folder(round_), "videos")
        self.shards_before = shards_before
        self.stop_event = threading.Event()
        self.t0 = time.monotonic()

    def run(self) -> None:
        while not self.stop_event.wait(self.every):
            try:
                self.report()
            except Exception:  # noqa: BLE001 - progress must never break the job
                log.debug("progress poll failed", exc_info=True)

    def report(self) -> None:
        done = len(storage.list_names(self.records, ".json"))
        shards = (
            len(storage.list_names(work_uri(self.output, "shards"), ".json")) - self.shards_before
        )
        dt = time.monotonic() - self.t0
        rate = done / dt if dt else 0.0
        eta = (self.total - done) / rate if rate > 0 else float("nan")
        # The shard plan needs every video's clip count, so no shard can be written before the
        # last video of the round has its record: say so rather than "shards written 0".
        written = f"shards written {shards}" if done >= self.total else "shards after all videos"
        log.info(
            "progress: videos %d/%d (%.0f%%), %.2f videos/s, ETA %s, %s",
            done,
            self.total,
            100.0 * done / max(self.total, 1),
            rate,
            f"{eta:.0f}s" if eta == eta else "?",
            written,
        )
