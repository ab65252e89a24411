"""The Apache Beam graph of a shard build.

    input chunks (URIs) -> rows -> Reshuffle -> ProcessVideo (decode once, per-video tar)
        -> video summaries -> one list -> assign shards -> Reshuffle -> WriteShard
        -> shard summaries -> one list -> _work/shards.jsonl
    video summaries -> CountWords (train captions' words, combiners) -> word_counts.json

ProcessVideo gets the dataset's label list (names only, collected by the driver while it
staged the manifest) as a constructor argument. Only URIs and small records cross shuffles: clip bytes stay in per-video tars on OUTPUT, so
elements stay small on any runner (Dataflow, Flink, Spark, or the local DirectRunner).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline import storage
from pipeline.labels import LabelSpace
from pipeline.options import BuildOptions
from pipeline.shards import ShardSpec, assign_shards, write_shard
from pipeline.video import VideoRecord, process_video, record_uri
from pipeline.vocabulary import CorpusWordCounts

log = logging.getLogger(__name__)

NAMESPACE = "vatt_pipeline"


def read_chunk(uri: str) -> Iterator[dict]:
    """Rows of one input chunk (JSONL written by the driver from the manifest)."""
    for line in storage.read_bytes(uri).decode("utf-8").splitlines():
        if line.strip():
            yield json.loads(line)


class ProcessVideoFn(beam.DoFn):
    """Manifest row -> video summary; skips videos committed by an earlier run (resume)."""

    def __init__(self, output: str, opts: dict, labels: dict | None = None) -> None:
        self.output = output
        self.opts_dict = opts
        self.labels_dict = labels  # LabelSpace.to_dict(): the names only, small
        self.ok = Metrics.counter(NAMESPACE, "videos_ok")
        self.failed = Metrics.counter(NAMESPACE, "videos_failed")
        self.resumed = Metrics.counter(NAMESPACE, "videos_resumed")
        self.clips = Metrics.counter(NAMESPACE, "clips")
        self.seconds = Metrics.distribution(NAMESPACE, "video_seconds_decoded")

    def setup(self) -> None:
        self.opts = BuildOptions.from_dict(self.opts_dict)
        self.labels = LabelSpace.from_dict(self.labels_dict)

    def process(self, row: dict) -> Iterator[dict]:
        uri = record_uri(self.output, row["video_id"])
        if storage.exists(uri):
            rec = VideoRecord.from_json(storage.read_bytes(uri))
            self.resumed.inc()
        else:
            rec = process_video(row, self.output, self.opts, self.labels)
            storage.write_atomic(uri, rec.to_json())
            (self.ok if rec.clips else self.failed).inc()
            self.clips.inc(rec.clips)
            self.seconds.update(int(rec.duration))
            for f in rec.failures:
                Metrics.counter(NAMESPACE, f"failures_{f.stage}").inc()
        yield {
            "video_id": rec.video_id,
            "split": rec.split,
            "clips": rec.clips,
            "bytes": rec.bytes,
            "spill": rec.spill,
            "duration": rec.duration,
            "line": rec.line,
            "source": rec.source,
            "text_source": rec.text_source,
            "failures": [f.__dict__ for f in rec.failures],
        }


class WriteShardFn(beam.DoFn):
    def __init__(self, output: str) -> None:
        self.output = output
        self.written = Metrics.counter(NAMESPACE, "shards_written")
        self.samples = Metrics.counter(NAMESPACE, "samples_written")

    def process(self, spec: dict) -> Iterator[dict]:
        summary = write_shard(self.output, ShardSpec.from_dict(spec))
        self.written.inc()
        self.samples.inc(summary["samples"])
        yield {k: v for k, v in summary.items() if k != "rows"}


def _assign(records: list[dict], shard_samples: int, shard_bytes: int) -> list[dict]:
    return [s.to_dict() for s in assign_shards(records, shard_samples, shard_bytes)]


def _write_list(items: list[dict], uri: str, sort_key: str) -> None:
    items = sorted(items, key=lambda r: r[sort_key])
    storage.write_atomic(uri, "".join(json.dumps(r, sort_keys=True) + "\n" for r in items).encode())


def count_words(videos: beam.PCollection, output: str) -> None:
    """The branch that counts the train captions' words into OUTPUT/word_counts.json."""
    _ = videos | "CountWords" >> CorpusWordCounts(output)


def build_graph(
    p: beam.Pipeline,
    chunk_uris: list[str],
    output: str,
    opts: BuildOptions,
    labels: LabelSpace | None = None,
) -> None:
    opts_dict = opts.to_dict()
    labels_dict = labels.to_dict() if labels else None
    videos = (
        p
        | "InputChunks" >> beam.Create(chunk_uris)
        | "ReadRows" >> beam.FlatMap(read_chunk)
        | "SpreadVideos" >> beam.Reshuffle()
        | "ProcessVideo" >> beam.ParDo(ProcessVideoFn(output, opts_dict, labels_dict))
    )
    count_words(videos, output)
    all_videos = videos | "AllVideos" >> beam.combiners.ToList()
    _ = all_videos | "WriteVideoList" >> beam.Map(
        _write_list, storage.join(output, "_work", "videos.jsonl"), "video_id"
    )
    shards = (
        all_videos
        | "AssignShards" >> beam.FlatMap(_assign, opts.shard_samples, opts.shard_bytes)
        | "SpreadShards" >> beam.Reshuffle()
        | "WriteShard" >> beam.ParDo(WriteShardFn(output))
    )
    _ = (
        shards
        | "AllShards" >> beam.combiners.ToList()
        | "WriteShardList"
        >> beam.Map(_write_list, storage.join(output, "_work", "shards.jsonl"), "name")
    )
