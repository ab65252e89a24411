"""Finalize a round: index.parquet, failures.parquet and dataset.json from the committed records.

Streamed: the index is written a row group at a time from the shard commit records (in shard
order, keys sorted in each), failures from the video records (the latest round's record of a
video wins) and the manifest's malformed rows; dataset.json is written last, so a reader that
goes by it sees the shards of the finished rounds only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import __version__
from pipeline.labels import LabelSpace
from pipeline.options import SCHEMA, BuildOptions
from pipeline.records import Failure, LostClips, ShardCommit, ShardEntry, VideoRecord
from pipeline.staging import manifest_failures
from pipeline.work import read_all, round_folder, work_uri
from vattclips import storage
from vattclips.schema import DATASET_FILE, FAILURES_FILE, INDEX_FILE
from vattclips.tables import FAILURES_SCHEMA, INDEX_SCHEMA

INDEX_ROW_GROUP = 100_000  # rows: the index is written as it is read, a group at a time


@dataclass
class BuildSummary:
    output: str
    videos_in: int = 0
    videos_ok: int = 0
    videos_failed: int = 0
    samples: int = 0
    samples_by_split: dict[str, int] = field(default_factory=dict)
    shards: int = 0
    bytes: int = 0
    hours: float = 0.0
    failures_by_stage: dict[str, int] = field(default_factory=dict)
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    counters: dict[str, int] = field(default_factory=dict)
    retryable: list[str] = field(default_factory=list)  # ids of failed videos a retry may save
    shard_list: list[ShardEntry] = field(default_factory=list)
    retried: int = 0  # videos tried again by this command (--retry-failed)

    def lines(self) -> list[str]:
        rate = self.hours * 3600 / self.wall_seconds if self.wall_seconds else 0.0
        fails = ", ".join(f"{k} {v}" for k, v in sorted(self.failures_by_stage.items())) or "none"
        splits = ", ".join(f"{k} {v}" for k, v in sorted(self.samples_by_split.items())) or "none"
        lines = [
            f"shards written to {self.output}",
            f"videos: {self.videos_in} in, {self.videos_ok} ok, {self.videos_failed} failed",
            f"failure rows by stage: {fails}",
            f"clips: {self.samples} ({splits}) in {self.shards} shards, {self.bytes / 1e6:.1f} MB",
            f"video: {self.hours:.3f} h cut into clips; {self.wall_seconds:.1f} s wall, "
            f"{rate:.1f} video-s/s, {self.samples / max(self.wall_seconds, 1e-9):.1f} clips/s",
        ]
        if self.retried:
            lines.append(f"retried: {self.retried} videos whose failure may have passed")
        if self.retryable:
            lines.append(
                f"{len(self.retryable)} videos failed for reasons that may pass (fetch errors, "
                "timeouts, 5xx): run the same command with --retry-failed to try them again"
            )
        return lines


def _shard_records(output: str) -> Iterator[ShardCommit]:
    names = storage.list_names(work_uri(output, "shards"), ".json")
    for data in read_all([work_uri(output, "shards", n) for n in names]):
        yield ShardCommit.from_json(data)


def _video_records(output: str, round_: int) -> Iterator[VideoRecord]:
    folder = storage.join(output, round_folder(round_), "parts")
    names = storage.list_names(folder, ".jsonl")
    for data in read_all([storage.join(folder, n) for n in names]):
        for line in data.decode("utf-8").splitlines():
            if line.strip():
                yield VideoRecord.from_json(line.encode("utf-8"))


def _write_index(
    output: str, records: Iterator[ShardCommit], s: BuildSummary
) -> dict[str, LostClips]:
    """index.parquet streamed from the shard commit records (in shard order, keys sorted in
    each), a row group at a time. Fills the shard counts of `s`; returns the clips lost."""
    lost: dict[str, LostClips] = {}
    shards: list[ShardEntry] = []
    rows: list[dict] = []
    with (
        storage.open_atomic(storage.join(output, INDEX_FILE)) as f,
        pq.ParquetWriter(f, INDEX_SCHEMA) as w,
    ):
        for rec in records:
            rows.extend(asdict(r) for r in sorted(rec.rows, key=lambda r: r.key))
            if len(rows) >= INDEX_ROW_GROUP:
                w.write_table(pa.Table.from_pylist(rows, schema=INDEX_SCHEMA))
                rows = []
            for r in rec.rows:
                s.samples_by_split[r.split] = s.samples_by_split.get(r.split, 0) + 1
            s.samples += len(rec.rows)
            shards.append(rec.entry())
            for vid, entry in rec.lost.items():
                clips, error = lost.get(vid, (0, entry.error))
                lost[vid] = LostClips(clips + entry.clips, error)
        if rows or not shards:
            w.write_table(pa.Table.from_pylist(rows, schema=INDEX_SCHEMA))
    s.shards = len(shards)
    s.bytes = sum(x.bytes for x in shards)
    s.shard_list = shards
    return lost


def finalize(
    output: str,
    opts: BuildOptions,
    input_uri: str,
    rows_in: int,
    rounds: int = 1,
    spills_of: int | None = 0,
    labels: LabelSpace | None = None,
) -> BuildSummary:
    """index.parquet, failures.parquet and dataset.json from the committed records, streamed.

    `rounds`: how many rounds the records span; a video retried in a later round counts as its
    latest record. `spills_of`: the round whose per-video tars to delete (None: none).
    """
    s = BuildSummary(output=output, videos_in=rows_in)
    lost = _write_index(output, _shard_records(output), s)
    failures = manifest_failures(output)
    text_sources: dict[str, int] = {}
    spills: list[str] = []
    seen: set[str] = set()  # ids of rounds after the one being read: the latest records win
    for r in reversed(range(rounds)):
        for v in _video_records(output, r):
            if v.video_id in seen:
                continue
            if r:
                seen.add(v.video_id)
            failures.extend(v.failures)
            if v.video_id in lost:
                n, why = lost[v.video_id]
                failures.append(Failure(v.source, v.line, v.video_id, "write", why, n, False))
            if v.clips > 0:
                s.videos_ok += 1
                text_sources[v.text_source] = text_sources.get(v.text_source, 0) + 1
            if v.retryable:
                s.retryable.append(v.video_id)
            s.hours += v.duration / 3600
            if r == spills_of and v.spill and not opts.keep_spill:
                spills.append(storage.join(output, v.spill))
    failures.sort(key=lambda r: (r.line, r.stage, r.error))
    table = pa.Table.from_pylist([asdict(r) for r in failures], schema=FAILURES_SCHEMA)
    with storage.open_atomic(storage.join(output, FAILURES_FILE)) as f:
        pq.write_table(table, f)
    s.videos_failed = rows_in - s.videos_ok
    for r in failures:
        s.failures_by_stage[r.stage] = s.failures_by_stage.get(r.stage, 0) + 1
    s.retryable.sort()
    dataset = {
        "schema": SCHEMA,
        "created_by": f"vatt-pipeline {__version__}",
        "input": input_uri,
        "options": opts.to_dict(),
        "fingerprint": opts.fingerprint(),
        "counts": {
            "videos_in": s.videos_in,
            "videos_ok": s.videos_ok,
            "videos_failed": s.videos_failed,
            "videos_retryable": len(s.retryable),
            "samples": s.samples,
            "samples_by_split": s.samples_by_split,
            "hours": round(s.hours, 4),
            "failures_by_stage": s.failures_by_stage,
            "text_sources": dict(sorted(text_sources.items())),
        },
        "shards": [asdict(e) for e in s.shard_list],
        **(labels.to_dict() if labels else {}),
    }
    # written last: a reader that goes by dataset.json sees the shards of the finished rounds
    storage.write_atomic(
        storage.join(output, DATASET_FILE), json.dumps(dataset, indent=1, sort_keys=True).encode()
    )
    storage.remove_many(spills)
    return s
