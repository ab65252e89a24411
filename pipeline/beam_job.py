"""The Apache Beam graph of a shard build (one round).

    input chunks (URIs) -> rows -> Reshuffle -> ProcessVideo (decode once, per-video tar)
        -> video records -> AssignShards:
             count videos (combiner) -> buckets
             clips and bytes per (split, bucket) (combiner) -> side input: the shard plan
             records by bucket (GroupByKey, ~1000 each) -> part lists; clip refs -> by shard
        -> WriteShard (ranged reads of the clips from the per-video tars)

Only URIs and small records cross shuffles: clip bytes stay in per-video tars on OUTPUT, and a
shard writer fetches each of its clips by byte range, so elements stay small on any runner
(Dataflow, Flink, Spark, or the local DirectRunner). No step holds every video's record: global
numbers come from combiners, the largest group is one bucket's records or one shard's refs.

    video records -> CountWords (train captions' words, combiners) -> word_counts.json
                     (a retry round counts its own videos; the driver sums the rounds')

ProcessVideo gets the dataset's label list (names only, collected by the driver while it
staged the manifest) as a constructor argument. Elements are the dataclasses of
pipeline.records (and pipeline.manifest.ManifestRow): they pickle, so they cross as they are.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.labels import LabelSpace
from pipeline.manifest import ManifestRow
from pipeline.options import BuildOptions
from pipeline.records import ShardCommit, VideoRecord
from pipeline.shards import (
    VIDEOS_PER_BUCKET,
    ClipRef,
    ShardPlan,
    ShardSpec,
    bucket_count,
    bucket_of,
    place_videos,
    write_shard,
)
from pipeline.video import process_video
from pipeline.vocabulary import CorpusWordCounts, round_counts_uri
from pipeline.work import part_uri, record_uri
from vattclips import storage

log = logging.getLogger(__name__)

NAMESPACE = "vatt_pipeline"


def read_chunk(uri: str) -> Iterator[ManifestRow]:
    """Rows of one input chunk (JSONL written by the driver from the manifest)."""
    for line in storage.read_bytes(uri).decode("utf-8").splitlines():
        if line.strip():
            yield ManifestRow.from_json(line)


class ProcessVideoFn(beam.DoFn):
    """Manifest row -> video record; skips videos committed by an earlier run (resume)."""

    def __init__(
        self,
        output: str,
        opts: BuildOptions,
        labels: LabelSpace | None = None,
        round_: int = 0,
    ) -> None:
        self.output = output
        self.opts = opts
        self.labels = labels  # the names only, small
        self.round = round_
        self.ok = Metrics.counter(NAMESPACE, "videos_ok")
        self.failed = Metrics.counter(NAMESPACE, "videos_failed")
        self.resumed = Metrics.counter(NAMESPACE, "videos_resumed")
        self.clips = Metrics.counter(NAMESPACE, "clips")
        self.seconds = Metrics.distribution(NAMESPACE, "video_seconds_decoded")

    def process(self, row: ManifestRow) -> Iterator[VideoRecord]:
        uri = record_uri(self.output, row.video_id, self.round)
        if storage.exists(uri):
            rec = VideoRecord.from_json(storage.read_bytes(uri))
            self.resumed.inc()
        else:
            rec = process_video(row, self.output, self.opts, self.labels, self.round)
            storage.write_atomic(uri, rec.to_json())
            (self.ok if rec.clips else self.failed).inc()
            self.clips.inc(rec.clips)
            self.seconds.update(int(rec.duration))
            for f in rec.failures:
                Metrics.counter(NAMESPACE, f"failures_{f.stage}").inc()
        yield rec


class ClipTotals(beam.CombineFn):
    """(clips, bytes) summed: the global counts the shard plan is derived from."""

    def create_accumulator(self) -> tuple[int, int]:
        return 0, 0

    def add_input(self, acc: tuple[int, int], value: tuple[int, int]) -> tuple[int, int]:
        return acc[0] + value[0], acc[1] + value[1]

    def merge_accumulators(self, accs: Iterable[tuple[int, int]]) -> tuple[int, int]:
        clips = nbytes = 0
        for c, b in accs:
            clips, nbytes = clips + c, nbytes + b
        return clips, nbytes

    def extract_output(self, acc: tuple[int, int]) -> tuple[int, int]:
        return acc


def _key_by_bucket(rec: VideoRecord, buckets: int) -> tuple[int, VideoRecord]:
    return bucket_of(rec.video_id, buckets), rec


def _bucket_totals(item: tuple[int, VideoRecord]) -> tuple[tuple[str, int], tuple[int, int]]:
    bucket, rec = item
    return (rec.split, bucket), (rec.clips, rec.bytes)


def _write_part(item: tuple[int, Iterable[VideoRecord]], output: str, round_: int) -> int:
    bucket, records = item
    lines = [r.to_json() + b"\n" for r in sorted(records, key=lambda r: r.video_id)]
    storage.write_atomic(part_uri(output, round_, bucket), b"".join(lines))
    return len(lines)


class PlaceClipsFn(beam.DoFn):
    """One bucket's records -> (shard name, ClipRef) of each of their clips."""

    def __init__(self, opts: BuildOptions, first: dict[str, int], round_: int) -> None:
        self.shard_samples, self.shard_bytes = opts.shard_samples, opts.shard_bytes
        self.first, self.round = dict(first), round_
        self._plan: ShardPlan | None = None

    def process(self, item, counts: dict) -> Iterator[tuple[str, ClipRef]]:
        if self._plan is None:  # the side input is the same for the whole round: build it once
            self._plan = ShardPlan.from_counts(
                counts, self.shard_samples, self.shard_bytes, self.first, self.round
            )
        bucket, records = item
        yield from place_videos(records, bucket, self._plan)


class AssignShards(beam.PTransform):
    """Video records -> (shard name, its ClipRefs), from combiners and per-bucket groups."""

    def __init__(
        self,
        output: str,
        opts: BuildOptions,
        first: dict[str, int],
        round_: int,
        videos_per_bucket: int = VIDEOS_PER_BUCKET,
    ) -> None:
        super().__init__()
        self.output, self.opts, self.first, self.round = output, opts, first, round_
        self.videos_per_bucket = videos_per_bucket

    def expand(self, videos):
        buckets = (
            videos
            | "CountVideos" >> beam.combiners.Count.Globally()
            | "Buckets" >> beam.Map(bucket_count, self.videos_per_bucket)
        )
        keyed = videos | "KeyByBucket" >> beam.Map(
            _key_by_bucket, buckets=beam.pvalue.AsSingleton(buckets)
        )
        counts = (
            keyed
            | "BucketTotals" >> beam.Map(_bucket_totals)
            | "SumBucketTotals" >> beam.CombinePerKey(ClipTotals())
        )
        by_bucket = keyed | "GroupByBucket" >> beam.GroupByKey()
        _ = by_bucket | "WriteVideoParts" >> beam.Map(_write_part, self.output, self.round)
        return (
            by_bucket
            | "PlaceClips"
            >> beam.ParDo(
                PlaceClipsFn(self.opts, self.first, self.round),
                counts=beam.pvalue.AsDict(counts),
            )
            | "GroupByShard" >> beam.GroupByKey()
        )


class WriteShardFn(beam.DoFn):
    def __init__(self, output: str) -> None:
        self.output = output
        self.written = Metrics.counter(NAMESPACE, "shards_written")
        self.samples = Metrics.counter(NAMESPACE, "samples_written")
        self.lost = Metrics.counter(NAMESPACE, "failures_write")

    def process(self, item: tuple[str, Iterable[ClipRef]]) -> Iterator[ShardCommit]:
        name, clips = item
        commit = write_shard(self.output, ShardSpec.from_group(name, clips))
        self.written.inc()
        self.samples.inc(commit.samples)
        self.lost.inc(len(commit.lost))
        yield dataclasses.replace(commit, rows=[])  # the index rows stay in the commit record


def count_words(videos: beam.PCollection, output: str, round_: int = 0) -> None:
    """The branch that counts the train captions' words into OUTPUT/word_counts.json (a retry
    round: into its own folder, merged by the driver after the round)."""
    target = round_counts_uri(output, round_) if round_ else None
    _ = videos | "CountWords" >> CorpusWordCounts(output, target=target)


def build_graph(
    p: beam.Pipeline,
    chunk_uris: list[str],
    output: str,
    opts: BuildOptions,
    labels: LabelSpace | None = None,
    round_: int = 0,
    first: dict[str, int] | None = None,
) -> None:
    """The graph of one round: `first` numbers its first shard per split (after earlier rounds)."""
    videos = (
        p
        | "InputChunks" >> beam.Create(chunk_uris)
        | "ReadRows" >> beam.FlatMap(read_chunk)
        | "SpreadVideos" >> beam.Reshuffle()
        | "ProcessVideo" >> beam.ParDo(ProcessVideoFn(output, opts, labels, round_))
    )
    count_words(videos, output, round_)
    shards = videos | "AssignShards" >> AssignShards(output, opts, first or {}, round_)
    _ = shards | "WriteShard" >> beam.ParDo(WriteShardFn(output))
