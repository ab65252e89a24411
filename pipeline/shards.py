"""Shard assignment and writing: per-video clip tars -> `shards/{split}-{n:06d}.tar`.

Clips of one video are spread over the shards of its split at build time, so that a shard
mixes clips of many videos (near-duplicate clips of one video are each other's false negatives
in NCE / MIL-NCE when they meet in a batch). Assignment is a pure function of global counts
and of each video's record, the same on every worker and every run:

- videos fall in buckets by a stable hash of their id (`bucket_of`, ~`VIDEOS_PER_BUCKET` per
  bucket); a combiner sums clips and bytes per (split, bucket): a table of a few entries per
  thousand videos, which every worker gets as a side input (`ShardPlan.from_counts`);
- the clips of a split are numbered 0..N-1: buckets in order (a pseudo-random order of the
  videos, since buckets come from a hash), videos of a bucket in id order (one worker holds
  one bucket's records), clips of a video in order;
- clip g goes to shard g mod S, S = ceil(N / m) for m samples per shard: dealt round-robin, a
  video's clips fall in S different shards (at most ceil(clips / S) in one), every shard gets
  N // S clips or one more (never more than m: a loader that draws shards uniformly draws clips
  uniformly), and a keyed pseudo-random bijection (`permute`) orders the clips of each shard.

A retry round (`--retry-failed`) plans its clips the same way, in shards numbered after the
committed ones (`first`), so committed shards never change.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from pipeline.errors import StageError, is_transient
from pipeline.records import IndexRow, LostClips, ShardCommit, VideoRecord
from pipeline.work import work_uri
from vattclips import storage
from vattclips.keys import stable_fraction, video_id_of
from vattclips.meta import label_names, read_meta
from vattclips.schema import shard_name
from vattclips.tars import SampleTarWriter, read_sample_block

log = logging.getLogger(__name__)

VIDEOS_PER_BUCKET = 1000  # one bucket's records sit on one worker: ~1 MB
FETCH_DEPTH = 8  # clip reads in flight per shard writer (each a ranged GET on a bucket)
_MASK64 = (1 << 64) - 1


def bucket_count(videos: int, per_bucket: int = VIDEOS_PER_BUCKET) -> int:
    return max(1, math.ceil(videos / per_bucket))


def bucket_of(video_id: str, buckets: int) -> int:
    return min(buckets - 1, int(stable_fraction(video_id, "bucket") * buckets))


def _mix64(x: int) -> int:
    """splitmix64's finalizer: a bijection of 64-bit integers that mixes every bit."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def permute(x: int, n: int, key: int) -> int:
    """A pseudo-random bijection of [0, n), keyed: a 4-round Feistel network on the smallest
    even number of bits that holds n, walked until it lands inside [0, n) (under 4 steps on
    average). Integer arithmetic only: the same result on every machine and Python."""
    if not 0 <= x < n:
        raise ValueError(f"position {x} outside [0, {n})")
    if n <= 2:
        return x
    half = ((n - 1).bit_length() + 1) // 2
    mask = (1 << half) - 1
    round_keys = [_mix64(key + r) for r in range(4)]
    while True:
        left, right = x >> half, x & mask
        for k in round_keys:
            left, right = right, left ^ (_mix64(right ^ k) & mask)
        x = (left << half) | right
        if x < n:
            return x


def samples_per_shard(clips: int, nbytes: int, shard_samples: int, shard_bytes: int) -> int:
    """`shard_samples`, or fewer so that that many clips of the split's mean size fit in
    `shard_bytes` (at least one: a clip larger than the limit still gets a shard)."""
    if clips <= 0 or nbytes <= 0:
        return shard_samples
    return max(1, min(shard_samples, shard_bytes * clips // nbytes))


@dataclass(frozen=True)
class SplitPlan:
    split: str
    clips: int  # N: clips of this split in this round
    per_shard: int  # m
    first: int  # number of this round's first shard of the split
    key: int  # of the permutation

    @property
    def shards(self) -> int:
        return math.ceil(self.clips / self.per_shard)

    def place(self, position: int) -> tuple[str, int]:
        """(shard name, place in the shard) of the clip at `position` of the split.

        Clips are dealt round-robin: position g goes to shard g mod S, so a video's consecutive
        clips land in consecutive shards (at most ceil(clips / S) in one) and every shard gets
        N // S or one more clips. Inside a shard, a keyed permutation orders them."""
        shards = self.shards
        shard, row = position % shards, position // shards
        size = self.clips // shards + (shard < self.clips % shards)
        order = permute(row, size, (self.key + shard) & _MASK64)
        return shard_name(self.split, self.first + shard), order


@dataclass(frozen=True)
class ShardPlan:
    splits: dict[str, SplitPlan]
    starts: dict[tuple[str, int], int]  # first position of each (split, bucket)

    @classmethod
    def from_counts(
        cls,
        counts: Mapping[tuple[str, int], tuple[int, int]],
        shard_samples: int,
        shard_bytes: int,
        first: Mapping[str, int] | None = None,
        round_: int = 0,
    ) -> ShardPlan:
        """The plan of one round from {(split, bucket): (clips, bytes)} of its videos."""
        first = first or {}
        splits: dict[str, SplitPlan] = {}
        starts: dict[tuple[str, int], int] = {}
        for split in sorted({s for s, _ in counts}):
            clips = nbytes = 0
            for key in sorted(k for k in counts if k[0] == split):
                starts[key] = clips
                clips += counts[key][0]
                nbytes += counts[key][1]
            if clips == 0:
                continue
            seed = hashlib.sha1(f"shards\x00{split}\x00{round_}".encode()).digest()
            splits[split] = SplitPlan(
                split=split,
                clips=clips,
                per_shard=samples_per_shard(clips, nbytes, shard_samples, shard_bytes),
                first=int(first.get(split, 0)),
                key=int.from_bytes(seed[:8], "big"),
            )
        return cls(splits, starts)

    def shards_by_split(self) -> dict[str, int]:
        return {s: p.shards for s, p in self.splits.items()}


@dataclass(frozen=True)
class ClipRef:
    """One clip on its way to a shard: its place there and where its bytes are."""

    order: int  # place in the shard
    video_id: str
    spill: str  # the per-video tar, relative to OUTPUT
    start: int  # byte range of the sample in that tar
    end: int


def video_positions(
    records: Iterable[VideoRecord], bucket: int, plan: ShardPlan
) -> Iterator[tuple[VideoRecord, int]]:
    """(record, position of its first clip in its split) of the videos of one bucket that have
    clips: in id order, from the bucket's start."""
    position: dict[str, int] = {}
    for rec in sorted(records, key=lambda r: r.video_id):
        if rec.clips <= 0:
            continue
        g = position.get(rec.split, plan.starts[(rec.split, bucket)])
        position[rec.split] = g + rec.clips
        yield rec, g


def place_videos(
    records: Iterable[VideoRecord], bucket: int, plan: ShardPlan
) -> Iterator[tuple[str, ClipRef]]:
    """(shard name, ClipRef) of every clip of the videos of one bucket."""
    for rec, g in video_positions(records, bucket, plan):
        split = plan.splits[rec.split]
        for i in range(rec.clips):
            name, order = split.place(g + i)
            yield name, ClipRef(order, rec.video_id, rec.spill, rec.offsets[i], rec.offsets[i + 1])


def assign_in_memory(
    records: Iterable[VideoRecord],
    shard_samples: int,
    shard_bytes: int,
    first: Mapping[str, int] | None = None,
    round_: int = 0,
    per_bucket: int = VIDEOS_PER_BUCKET,
) -> dict[str, list[ClipRef]]:
    """What the Beam graph assigns, in one process with every record in memory (tests,
    benchmarks, tools on small sets): {shard name: its ClipRefs in shard order}."""
    records = list(records)
    buckets = bucket_count(len(records), per_bucket)
    totals: dict[tuple[str, int], tuple[int, int]] = {}
    by_bucket: dict[int, list[VideoRecord]] = {}
    for r in records:
        b = bucket_of(r.video_id, buckets)
        clips, nbytes = totals.get((r.split, b), (0, 0))
        totals[(r.split, b)] = (clips + r.clips, nbytes + r.bytes)
        by_bucket.setdefault(b, []).append(r)
    plan = ShardPlan.from_counts(totals, shard_samples, shard_bytes, first, round_)
    shards: dict[str, list[ClipRef]] = {}
    for b in sorted(by_bucket):
        for name, ref in place_videos(by_bucket[b], b, plan):
            shards.setdefault(name, []).append(ref)
    return {name: sorted(refs, key=lambda c: c.order) for name, refs in sorted(shards.items())}


@dataclass
class ShardSpec:
    name: str  # relative to OUTPUT: shards/{split}-{n:06d}.tar
    split: str
    clips: list[ClipRef] = field(default_factory=list)  # in shard order

    @property
    def stem(self) -> str:
        return self.name.rsplit("/", 1)[-1].removesuffix(".tar")

    @classmethod
    def from_group(cls, name: str, clips: Iterable[ClipRef]) -> ShardSpec:
        split = name.rsplit("/", 1)[-1].rsplit("-", 1)[0]
        return cls(name, split, sorted(clips, key=lambda c: c.order))


def commit_uri(output: str, spec: ShardSpec) -> str:
    return work_uri(output, "shards", f"{spec.stem}.json")


def index_row(sample: dict, shard: str, split: str) -> IndexRow:
    """The index row of a sample read back from its per-video tar. The shard writer has the
    sample's bytes only (a ClipRef is a byte range), so its fields come from the sample's json:
    the per-video records under _work/ carry no per-clip fields, and keep their bytes."""
    meta = read_meta(sample)
    return IndexRow(
        key=sample["__key__"],
        shard=shard,
        split=split,
        video_id=meta["video_id"],
        source=meta["source"],
        clip=int(meta["clip"]),
        start=float(meta["start"]),
        end=float(meta["end"]),
        has_audio=bool(meta["has_audio"]),
        has_video=bool(meta.get("has_video", True)),
        labels=label_names(meta.get("label")),
        text_chars=len(sample.get("txt", b"").decode("utf-8")),
        n_segments=len(meta["segments"]),
        n_neighbors=len(meta["neighbors"]),
    )


def _read_clip(output: str, ref: ClipRef) -> dict:
    """The sample `ref` points at. StageError("write"): transient when a retry may read it."""
    uri = storage.join(output, ref.spill)
    try:
        sample = read_sample_block(storage.read_range(uri, ref.start, ref.end))
    except Exception as exc:  # noqa: BLE001 - classified: the caller drops or retries
        raise StageError(
            "write",
            f"cannot read clip bytes {ref.start}-{ref.end} of {ref.spill} "
            f"({type(exc).__name__}: {exc})",
            is_transient(exc),
        ) from exc
    if video_id_of(sample["__key__"]) != ref.video_id:
        raise StageError("write", f"{ref.spill} at {ref.start} holds {sample['__key__']}")
    return sample


def write_shard(output: str, spec: ShardSpec) -> ShardCommit:
    """Write one shard (atomically) and its commit record; a committed shard is kept as is.

    A clip that cannot be read for good (its per-video tar gone or damaged) is left out and
    reported under `lost` (by video id: clips and error; failure rows of stage `write`); one
    that may read on a retry (a 5xx, a timeout) raises StageError("write", transient=True), so
    the runner retries the bundle, or a re-run resumes. Returns the shard's commit record (its
    index rows included).
    """
    commit = commit_uri(output, spec)
    if storage.exists(commit):
        return ShardCommit.from_json(storage.read_bytes(commit))
    rows: list[IndexRow] = []
    lost: dict[str, LostClips] = {}

    def fetch(ref: ClipRef) -> dict | StageError:
        try:
            return _read_clip(output, ref)
        except StageError as exc:
            if exc.transient:
                raise
            return exc

    try:
        with storage.open_atomic(storage.join(output, spec.name)) as f:
            counter = _CountingWriter(f)
            with SampleTarWriter(counter) as tw:
                for ref, sample in storage.prefetched(spec.clips, fetch, FETCH_DEPTH):
                    if isinstance(sample, StageError):
                        log.warning("%s: %s", spec.name, sample.message)
                        clips, error = lost.get(ref.video_id, (0, sample.message))
                        lost[ref.video_id] = LostClips(clips + 1, error)
                        continue
                    tw.write(sample)
                    rows.append(index_row(sample, spec.name, spec.split))
            size = counter.written
    except StageError:
        raise
    except Exception as exc:  # noqa: BLE001 - the shard upload itself failed
        raise StageError(
            "write",
            f"{spec.name}: cannot write the shard ({type(exc).__name__}: {exc})",
            is_transient(exc, default=isinstance(exc, OSError)),  # storage trouble, not a bug
        ) from exc
    record = ShardCommit(spec.name, spec.split, len(rows), size, lost, rows)
    # the record is the commit: written after the shard is complete under its final name
    storage.write_atomic(commit, record.to_json())
    log.info("wrote %s: %d samples, %.1f MB", spec.name, len(rows), size / 1e6)
    return record


class _CountingWriter:
    """A write-only file wrapper that counts bytes (object-store files cannot always tell())."""

    def __init__(self, f) -> None:
        self.f = f
        self.written = 0

    def write(self, data: bytes) -> int:
        self.written += len(data)
        return self.f.write(data)

    def flush(self) -> None:
        self.f.flush()

    def close(self) -> None:  # the tar writer closes its stream; the owner closes the real file
        pass
