"""The training and evaluation data path: shards -> decoded, augmented, tokenized batches.

Per training rank (a Ray Train worker) and DataLoader worker:

    shards of the split (of each dataset, for a mixture)
      -> this rank's share (rank::world), then this loader worker's share (worker::workers)
      -> endless resampled stream, `interleave` shards open at once         (stream.py)
      -> a mixture: each sample from dataset i with probability weight_i    (weighted_mix)
      -> shuffle buffer of raw samples (bytes, before the costly decode)
      -> decode + augment + tokenize, corrupt samples skipped and counted   (sample.py)
      -> batches of `batch_size` (never partial), each with the skip counts since the last one
      -> epochs of exactly `batches_per_worker` batches sliced from that endless stream

Every rank therefore yields workers x batches_per_worker batches per epoch, whatever its shards
hold, so DDP never waits on a rank that ran out. The epoch a stream starts at seeds it (shard
draws, shuffle, augmentation), so a resumed run does not replay the data of its first run;
samples are drawn with replacement.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import webdataset as wds
from torch.utils.data import DataLoader, IterableDataset
from transformers import PreTrainedTokenizerFast

from train.loader_config import LoaderConfig
from train.sample import InputSpec, decode_sample
from train.stream import (
    DataHealth,
    RawSample,
    guarded_map,
    resampled_samples,
    sequential_samples,
    shuffled,
    weighted_mix,
)
from vattclips.keys import video_id_of

logger = logging.getLogger(__name__)

TENSOR_FIELDS = (
    "video",
    "video_affine",
    "video_mask",
    "audio",
    "audio_mask",
    "text_ids",
    "text_mask",
)
DEFAULT_EPOCH_BATCHES = 1000  # per rank, when the dataset root does not say how many samples


@dataclass(frozen=True)
class Source:
    """One dataset of the training data: its shards, their sample counts, and its share of the
    samples drawn (None = in proportion to its clips)."""

    name: str
    urls: tuple[str, ...]
    samples: tuple[int, ...] | None = None  # per shard, from dataset.json; None = unknown
    weight: float | None = None

    def __post_init__(self) -> None:
        if not self.urls:
            raise ValueError(f"data source {self.name!r} has no shard URL")
        if self.samples is not None and len(self.samples) != len(self.urls):
            raise ValueError(f"{len(self.samples)} sample counts for {len(self.urls)} shard URLs")


def mixture_weights(sources: Sequence[Source]) -> list[float]:
    """Each source's share of the samples, summing to 1: as given, else in proportion to its
    clips (shards when a count is unknown), which is what one concatenated dataset gives."""
    if all(s.weight is not None for s in sources):
        raw = [float(s.weight) for s in sources]
    elif any(s.weight is not None for s in sources):
        raise ValueError("give a weight to every data source or to none")
    elif all(s.samples is not None for s in sources):
        raw = [float(sum(s.samples)) for s in sources]
    else:
        raw = [float(len(s.urls)) for s in sources]
    total = sum(raw)
    if total <= 0 or any(w < 0 for w in raw):
        raise ValueError(f"data weights must be >= 0 with a positive sum, got {raw}")
    return [w / total for w in raw]


def _share(items: Sequence[str], index: int, count: int, what: str) -> Sequence[str]:
    # Fewer shards than sharers: everyone samples all of them (the stream is resampled anyway).
    if count <= 1:
        return items
    if len(items) < count:
        logger.warning(
            "%d shards for %d %ss: each %s samples all of them; write more shards",
            len(items),
            count,
            what,
            what,
        )
        return items
    return items[index::count]


def _seed(*parts: int) -> int:
    # Stable across processes (unlike hash()), distinct per (seed, epoch, rank, worker, stage).
    value = 0
    for p in parts:
        value = (value * 1_000_003 + int(p)) % (2**63)
    return value


def collate(samples: list[dict[str, Any]], health: DataHealth) -> dict[str, Any]:
    """Stack decoded samples; keys and ids as lists; the skip counts since the last batch."""
    batch: dict[str, Any] = {
        name: torch.from_numpy(np.stack([s[name] for s in samples])) for name in TENSOR_FIELDS
    }
    batch["key"] = [s["key"] for s in samples]
    batch["video_id"] = [s["video_id"] for s in samples]
    batch["caption"] = [s["caption"] for s in samples]
    batch["labels"] = [s["labels"] for s in samples]  # class indices per clip ([] unlabelled)
    batch["source"] = [s["source"] for s in samples]  # index of the data source of each clip
    batch.update(health.take())
    return batch


def _batched(items: Iterator[dict[str, Any]], size: int, health: DataHealth, partial: bool):
    buf: list[dict[str, Any]] = []
    for item in items:
        buf.append(item)
        if len(buf) == size:
            yield collate(buf, health)
            buf = []
    if buf and partial:
        yield collate(buf, health)


class ClipStream:
    """Builds the per-worker pipeline; picklable, so DataLoader workers get their own copy
    (and their own DataHealth).

    `data`: the shard URLs of one dataset (with `shard_samples`), or the `Source`s of a
    mixture. Each decoded sample carries the index of its source.
    """

    def __init__(
        self,
        data: Sequence[str] | Sequence[Source],
        spec: InputSpec,
        tokenizer: PreTrainedTokenizerFast,
        cfg: LoaderConfig,
        train: bool = True,
        shard_samples: Sequence[int] | None = None,
    ) -> None:
        if not data:
            raise ValueError("ClipStream needs at least one shard URL")
        if all(isinstance(d, Source) for d in data):
            self.sources = tuple(data)
        else:
            samples = tuple(shard_samples) if shard_samples is not None else None
            self.sources = (Source("data", tuple(data), samples),)
        self.weights = mixture_weights(self.sources)
        known = all(s.samples is not None for s in self.sources)
        self.shard_samples = (
            {u: n for s in self.sources for u, n in zip(s.urls, s.samples)} if known else None
        )
        self.spec = spec
        self.tokenizer = tokenizer
        self.cfg = cfg
        self.train = train
        self.epoch = 0
        self.health = DataHealth()

    def _where(self) -> tuple[int, int, int, int]:
        # RANK / WORLD_SIZE come from Ray's torch backend (or torchrun); worker from DataLoader.
        return wds.utils.pytorch_worker_info()

    def _my_urls(self, urls: Sequence[str] | None = None) -> Sequence[str]:
        """This process's share of `urls` (default: every source's)."""
        if urls is None:
            return [u for s in self.sources for u in self._my_urls(s.urls)]
        rank, world, worker, workers = self._where()
        return _share(_share(urls, rank, world, "rank"), worker, workers, "loader worker")

    def _rng(self, stage: int) -> random.Random:
        rank, _, worker, _ = self._where()
        return random.Random(_seed(self.cfg.seed, self.epoch, rank, worker, stage))

    def _source(self) -> Iterator[RawSample]:
        if not self.train:
            return self._tagged(
                (i, sample)
                for i, s in enumerate(self.sources)
                for sample in sequential_samples(self._my_urls(s.urls), self.health)
            )
        rng = self._rng(1)
        streams = []
        for source in self.sources:
            urls = self._my_urls(source.urls)
            # Opening one shard twice would read the same clips in step: one reader each.
            interleave = min(self.cfg.interleave, len(urls))
            streams.append(resampled_samples(urls, rng, self.health, interleave))
        if len(streams) == 1:
            return self._tagged((0, sample) for sample in streams[0])
        return weighted_mix(streams, self.weights, self._rng(4))

    @staticmethod
    def _tagged(items: Iterator[tuple[int, RawSample]]) -> Iterator[RawSample]:
        for i, sample in items:
            sample["__source__"] = i
            yield sample

    def _shuffle(self, raw: Iterator[RawSample]) -> Iterator[RawSample]:
        if not self.train:
            return raw
        size = self.cfg.shuffle_buffer
        if self.shard_samples is not None:
            # A buffer larger than this worker's data holds copies of one clip, which then meet
            # in a batch (each the other's false negative).
            size = max(1, min(size, sum(self.shard_samples[u] for u in self._my_urls())))
        return shuffled(raw, size, self._rng(2))

    def _decode(self, raw: Iterator[RawSample]) -> Iterator[dict[str, Any]]:
        rng = np.random.default_rng(self._rng(3).getrandbits(64))

        def one(sample: RawSample) -> dict[str, Any]:
            return decode_sample(sample, self.spec, self.tokenizer, rng, self.train)

        return guarded_map(raw, one, self.health)

    def _batch(self, items: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        # Training batches are always full (equal shapes across ranks for all_gather).
        return _batched(items, self.cfg.batch_size, self.health, partial=not self.train)

    def video_id_batches(self, batches: int) -> list[list[str]]:
        """The video ids of the next `batches` batches of this process's stream, from the
        sampling stages alone (no decoding): measures how the shuffle spreads clips."""
        out: list[list[str]] = []
        current: list[str] = []
        for raw in self._shuffle(self._source()):
            current.append(video_id_of(raw["__key__"]))
            if len(current) == self.cfg.batch_size:
                out.append(current)
                current = []
                if len(out) == batches:
                    break
        return out

    def pipeline(self) -> wds.DataPipeline:
        """The stages: an endless resampled stream (training) or one pass (evaluation)."""
        return wds.DataPipeline(self._source, self._shuffle, self._decode, self._batch)


class EpochSlices(IterableDataset):
    """Each `iter()` continues one endless stream for exactly `batches` more batches.

    What `WebDataset(resampled=True).with_epoch(n)` does for equal batches per rank, minus the
    restart: with_epoch rebuilds the pipeline every epoch (re-opening shards, refilling the
    shuffle buffer); with persistent DataLoader workers this keeps each worker's stream live
    across epochs, which matters when an epoch is short (a small dataset).
    """

    def __init__(self, stream: ClipStream, batches: int) -> None:
        super().__init__()
        if batches < 1:
            raise ValueError(f"batches per epoch must be >= 1, got {batches}")
        self.stream = stream
        self.batches = batches
        self._live: Iterator[dict[str, Any]] | None = None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if self._live is None:  # first epoch in this process: seeds from stream.epoch
            self._live = iter(self.stream.pipeline())
        return itertools.islice(self._live, self.batches)


def batches_per_worker(
    total_samples: int | None, batch_size: int, world_size: int, num_workers: int
) -> int:
    """Batches each loader worker yields per epoch so that an epoch is about one pass over the
    split, summed over ranks (at least one batch)."""
    workers = max(1, num_workers)
    if total_samples is None:
        per_rank = DEFAULT_EPOCH_BATCHES
    else:
        per_rank = max(1, total_samples // (batch_size * world_size))
    return max(1, math.ceil(per_rank / workers))


def make_loader(
    stream: ClipStream, batches_per_worker: int | None = None, pin_memory: bool = False
) -> DataLoader:
    """Training: a DataLoader whose every `iter()` is one epoch of `batches_per_worker` batches
    per loader worker, from streams that persist across epochs (set `stream.epoch` before the
    first). Evaluation (`stream.train` False): one pass."""
    workers = stream.cfg.num_workers
    if stream.train:
        if not batches_per_worker:
            raise ValueError("a training loader needs batches_per_worker")
        dataset: IterableDataset = EpochSlices(stream, batches_per_worker)
    else:
        dataset = stream.pipeline()
    return DataLoader(
        dataset,
        batch_size=None,  # batching happens in the pipeline, per worker
        num_workers=workers,
        pin_memory=pin_memory,
        prefetch_factor=2 if workers > 0 else None,
        persistent_workers=workers > 0 and stream.train,
    )


def same_video_pairs(video_ids: Iterable[str]) -> int:
    """Pairs of clips of one video inside one batch (the MIL-NCE false negatives)."""
    return sum(n * (n - 1) // 2 for n in Counter(video_ids).values())


def expected_pairs_uniform(clips_per_video: Iterable[int], batch_size: int) -> float:
    """Expected `same_video_pairs` of a batch drawn uniformly without replacement from the
    whole split: the best any streaming shuffle can do."""
    counts = list(clips_per_video)
    n = sum(counts)
    if n < 2:
        return 0.0
    pairs = sum(c * (c - 1) / 2 for c in counts)
    return pairs * batch_size * (batch_size - 1) / (n * (n - 1))
