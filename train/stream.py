"""Endless streams of raw samples from WebDataset shards, tolerant of corrupt data.

Stages are generators (the WebDataset style): `read_shard` turns one tar into raw samples,
`resampled_samples` draws shards with replacement and interleaves several open shards (the
shard builder already spreads a video's clips over shards; this mixes shards before the
shuffle buffer), `weighted_mix` mixes the streams of several datasets in given proportions,
`guarded_map` applies a function and skips the samples it fails on. Every skip is counted in a
`DataHealth`, which the loader ships to the training loop with each batch.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from vattclips.tars import Sample, iter_samples

logger = logging.getLogger(__name__)

RawSample = Sample  # {"__key__", "__url__", "mp4": bytes, "flac": bytes, "json": bytes, ...}


class NoReadableDataError(Exception):
    """Shard after shard yielded no sample: the data is missing or corrupt throughout."""


@dataclass
class DataHealth:
    """Counts of data skipped in this process since the last `take()`."""

    corrupt_samples: int = 0
    corrupt_shards: int = 0
    _warned: int = 0

    def sample_failed(self, key: str, url: str, error: BaseException) -> None:
        self.corrupt_samples += 1
        self._warn(f"skipping sample {key!r} of {url}: {type(error).__name__}: {error}")

    def shard_failed(self, url: str, error: BaseException) -> None:
        self.corrupt_shards += 1
        self._warn(f"skipping the rest of shard {url}: {type(error).__name__}: {error}")

    def _warn(self, message: str) -> None:
        # A bad shard can fail thousands of samples; the counts are the metric, logs are a hint.
        self._warned += 1
        if self._warned <= 20 or self._warned % 1000 == 0:
            logger.warning("%s (%d warnings so far)", message, self._warned)

    def take(self) -> dict[str, int]:
        """The counts since the previous call, then reset."""
        counts = {"corrupt_samples": self.corrupt_samples, "corrupt_shards": self.corrupt_shards}
        self.corrupt_samples = 0
        self.corrupt_shards = 0
        return counts


def read_shard(url: str, health: DataHealth) -> Iterator[RawSample]:
    """The samples of one tar (`vattclips.tars`, members grouped by key). A read error ends the
    shard (counted); the sample being assembled when it happened is dropped, never yielded
    half-read."""
    try:
        yield from iter_samples(url)
    except Exception as error:  # noqa: BLE001 - any unreadable shard is skipped and counted
        health.shard_failed(url, error)


def resampled_samples(
    urls: Sequence[str],
    rng: random.Random,
    health: DataHealth,
    interleave: int = 4,
) -> Iterator[RawSample]:
    """An endless stream: shards drawn with replacement, `interleave` of them read at once.

    Raises NoReadableDataError when 2 x len(urls) + 8 shards in a row gave no sample.
    """
    if not urls:
        raise ValueError("resampled_samples needs at least one shard URL")
    barren_limit = 2 * len(urls) + 8
    barren = 0
    active: list[tuple[Iterator[RawSample], list[int]]] = []  # (samples, [count read])
    while True:
        while len(active) < interleave:
            active.append((read_shard(rng.choice(urls), health), [0]))
        i = rng.randrange(len(active))
        samples, count = active[i]
        sample = next(samples, None)
        if sample is None:
            barren = barren + 1 if count[0] == 0 else 0
            if barren >= barren_limit:
                raise NoReadableDataError(
                    f"{barren} shards in a row gave no readable sample (of {len(urls)} shards, "
                    f"e.g. {urls[0]})"
                )
            active.pop(i)
            continue
        count[0] += 1
        yield sample


def weighted_mix(
    streams: Sequence[Iterator[RawSample]], weights: Sequence[float], rng: random.Random
) -> Iterator[RawSample]:
    """An endless stream drawing each sample from stream i with probability weights[i]
    (weights need not sum to 1), tagging it with `__source__` = i. The streams are endless."""
    if len(streams) != len(weights) or not streams:
        raise ValueError(f"{len(weights)} weights for {len(streams)} streams")
    bounds = list(itertools.accumulate(weights))
    if bounds[-1] <= 0:
        raise ValueError(f"weights {list(weights)} have no positive sum")
    while True:
        i = min(bisect.bisect_right(bounds, rng.random() * bounds[-1]), len(streams) - 1)
        sample = next(streams[i])
        sample["__source__"] = i
        yield sample


def sequential_samples(urls: Sequence[str], health: DataHealth) -> Iterator[RawSample]:
    """Each shard once, in order (evaluation)."""
    for url in urls:
        yield from read_shard(url, health)


def guarded_map(
    samples: Iterator[RawSample],
    fn: Callable[[RawSample], Any],
    health: DataHealth,
) -> Iterator[Any]:
    """fn(sample) for each sample; a sample fn raises on is skipped and counted."""
    for sample in samples:
        try:
            result = fn(sample)
        except Exception as error:  # noqa: BLE001 - a corrupt sample must never stop training
            health.sample_failed(sample.get("__key__", "?"), sample.get("__url__", "?"), error)
            continue
        yield result


def shuffled(items: Iterator[Any], bufsize: int, rng: random.Random) -> Iterator[Any]:
    """A shuffle buffer: fill to `bufsize`, then emit a random element per element read."""
    buf: list[Any] = []
    for item in items:
        if len(buf) < bufsize:
            buf.append(item)
            continue
        i = rng.randrange(len(buf))
        buf[i], item = item, buf[i]
        yield item
    rng.shuffle(buf)
    yield from buf


def register_fsspec_schemes() -> None:
    """Open object-storage URLs in webdataset through fsspec (its default shells out to
    gsutil), with the storage module's options (the emulator's anonymous token)."""
    import webdataset as wds

    from vattclips import storage

    def _open(url: str, mode: str = "rb", bufsize: int = 8192, **_: object):  # noqa: ARG001
        return storage.open_file(url, mode).open()

    for scheme in ("gs", "gcs", "s3"):
        wds.gopen_schemes[scheme] = _open
