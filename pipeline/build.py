"""The driver of a shard build: check the configuration, stage the inputs, run Beam, finalize.

Resume: everything the job writes is committed per unit (a video record, a shard and its
record), so re-running the same command on the same OUTPUT skips what is done and produces
what is missing; the final files are rebuilt from the records and equal an uninterrupted run.

Rounds: the first build is round 0. `--retry-failed` on a finished output runs one more round
over the videos whose failure may pass (fetch errors, timeouts, 5xx); its clips go to new
shards numbered after the committed ones, which are never rewritten. A round is done when
`{round folder}/done.json` exists (written after finalize); an unfinished round is resumed.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import __version__
from pipeline.asr import resolve_asr
from pipeline.beam_job import NAMESPACE, build_graph
from pipeline.errors import ConfigError
from pipeline.labels import LabelCollector, LabelSpace
from pipeline.manifest import ManifestError, ManifestProblem
from pipeline.options import BuildOptions
from pipeline.preflight import check_inputs
from pipeline.split_files import SplitFileOptions, read_input
from pipeline.video import Failure, VideoRecord, round_folder
from vattclips import storage
from vattclips.schema import SCHEMA
from vattclips.tables import FAILURES_SCHEMA, INDEX_SCHEMA

log = logging.getLogger(__name__)

CHUNK_ROWS = 200  # manifest rows per input chunk: the unit Beam reads

INDEX_ROW_GROUP = 100_000  # rows: the index is written as it is read, a group at a time
READ_DEPTH = 16  # commit records and part lists read at once by finalize (round trips)


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
    shard_list: list[dict] = field(default_factory=list)  # {name, split, samples, bytes}
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


def _work(output: str, *parts: str) -> str:
    return storage.join(output, "_work", *parts)


def check_output(output: str, opts: BuildOptions, input_uri: str) -> None:
    """Refuse an OUTPUT that holds another dataset or is not writable; record the options."""
    opts_uri = _work(output, "options.json")
    try:
        if storage.exists(opts_uri):
            prev = json.loads(storage.read_bytes(opts_uri))
            if prev.get("fingerprint") != opts.fingerprint():
                changed = sorted(
                    k for k, v in opts.content_dict().items() if prev.get("content", {}).get(k) != v
                )
                raise ConfigError(
                    f"{output} already holds a dataset built with other options "
                    f"({', '.join(changed) or 'schema'} differ); use another --output or the same options"
                )
            if prev.get("input") != input_uri:
                raise ConfigError(
                    f"{output} already holds a dataset built from {prev.get('input')}, not {input_uri}"
                )
            return
        if storage.exists(storage.join(output, "dataset.json")):
            raise ConfigError(f"{output} holds a dataset.json but no build record; refusing to mix")
        fs, path = storage.fs_for(output)
        if fs.exists(path) and fs.ls(path, detail=False):
            raise ConfigError(f"{output} is not empty and holds no dataset of this pipeline")
        record = {
            "schema": SCHEMA,
            "fingerprint": opts.fingerprint(),
            "content": opts.content_dict(),
            "options": opts.to_dict(),
            "input": input_uri,
        }
        storage.write_atomic(opts_uri, json.dumps(record, indent=1, sort_keys=True).encode())
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - storage errors here are configuration errors
        raise ConfigError(f"cannot write to {output}: {type(exc).__name__}: {exc}") from exc


def stage_inputs(
    input_uri: str,
    output: str,
    video_root: str | None,
    split_files: SplitFileOptions | None = None,
) -> tuple[list[str], int, int, LabelSpace | None]:
    """Manifest -> input chunks under _work/inputs/ (once).

    Returns the chunk URIs, the manifest rows, the rows that are videos to process, and the
    label space (None for an unlabelled manifest): collected here, over every row, because
    each clip's label index must be known before any clip is cut; kept in _DONE.json so that
    a resumed build uses the same list.
    """
    done_uri = _work(output, "inputs", "_DONE.json")
    if storage.exists(done_uri):
        done = json.loads(storage.read_bytes(done_uri))
        return done["chunks"], done["rows"], done["videos"], LabelSpace.from_dict(done)
    chunks: list[str] = []
    problems: list[dict] = []
    batch: list[str] = []
    rows = 0
    labels = LabelCollector()

    def flush() -> None:
        uri = _work(output, "inputs", f"{len(chunks):06d}.jsonl")
        storage.write_atomic(uri, "".join(batch).encode())
        chunks.append(uri)
        batch.clear()

    try:
        for item in read_input(input_uri, video_root, split_files):
            rows += 1
            if isinstance(item, ManifestProblem):
                problems.append(
                    {
                        "source": item.source,
                        "line": item.line,
                        "video_id": "",
                        "stage": "manifest",
                        "error": item.error,
                        "clips_lost": 0,
                    }
                )
                continue
            row = {
                "line": item.line,
                "video": item.video,
                "video_id": item.video_id,
                "captions": item.captions,
                "meta": item.meta,
                "label": item.label,
                "split": item.split,
                "start": item.start,
                "end": item.end,
            }
            labels.add(item.label)
            batch.append(json.dumps(row, sort_keys=True) + "\n")
            if len(batch) >= CHUNK_ROWS:
                flush()
    except ManifestError as exc:
        raise ConfigError(str(exc)) from exc
    if batch:
        flush()
    storage.write_atomic(
        _work(output, "manifest-failures.jsonl"),
        "".join(json.dumps(p, sort_keys=True) + "\n" for p in problems).encode(),
    )
    videos = rows - len(problems)
    space = labels.space()
    done = {"chunks": chunks, "rows": rows, "videos": videos, **(space.to_dict() if space else {})}
    storage.write_atomic(done_uri, json.dumps(done).encode())
    return chunks, rows, videos, space


def beam_options(beam_args: list[str]) -> PipelineOptions:
    """Beam options as given; locally the in-process DirectRunner on every core by default."""
    args = list(beam_args)
    if not any(a.startswith("--runner") for a in args):
        args.append("--runner=DirectRunner")
    runner = next(a for a in args if a.startswith("--runner")).split("=", 1)[-1]
    if runner in ("DirectRunner", "--runner") and not any(
        a.startswith("--direct_running_mode") for a in args
    ):
        args.append("--direct_running_mode=multi_processing")
    if not any(a.startswith("--direct_num_workers") for a in args):
        args.append(f"--direct_num_workers={os.cpu_count() or 1}")
    if not any(a.startswith("--default_sdk_harness_log_level") for a in args):
        args.append("--default_sdk_harness_log_level=WARNING")
    return PipelineOptions(args)


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
        shards = len(storage.list_names(_work(self.output, "shards"), ".json")) - self.shards_before
        dt = time.monotonic() - self.t0
        rate = done / dt if dt else 0.0
        eta = (self.total - done) / rate if rate > 0 else float("nan")
        log.info(
            "progress: videos %d/%d (%.0f%%), %.2f videos/s, ETA %s, shards written %d",
            done,
            self.total,
            100.0 * done / max(self.total, 1),
            rate,
            f"{eta:.0f}s" if eta == eta else "?",
            shards,
        )


def _read_jsonl(uri: str) -> list[dict]:
    if not storage.exists(uri):
        return []
    return [json.loads(x) for x in storage.read_bytes(uri).decode().splitlines() if x.strip()]


def _read_all(uris: list[str]) -> Iterator[bytes]:
    """The files' bytes in order, READ_DEPTH at a time (each read is a round trip on a bucket)."""
    for _, data in storage.prefetched(uris, storage.read_bytes, READ_DEPTH):
        yield data


def done_uri(output: str, round_: int) -> str:
    return storage.join(output, round_folder(round_), "done.json")


def completed_rounds(output: str) -> list[dict]:
    """The done records of rounds 0, 1, ... up to the first unfinished one."""
    rounds: list[dict] = []
    while storage.exists(done_uri(output, len(rounds))):
        rounds.append(json.loads(storage.read_bytes(done_uri(output, len(rounds)))))
    return rounds


def first_shards(rounds: list[dict]) -> dict[str, int]:
    """Per split, the number of the next round's first shard: after every committed one."""
    first: dict[str, int] = {}
    for r in rounds:
        for split, n in r["shards"].items():
            first[split] = first.get(split, 0) + n
    return first


def _retry_inputs_uri(output: str, round_: int) -> str:
    return storage.join(output, round_folder(round_), "inputs", "_DONE.json")


def stage_retry_inputs(
    output: str, round_: int, retry: set[str], chunks: list[str]
) -> tuple[list[str], int]:
    """The manifest rows of the videos to retry -> `{round folder}/inputs/` (once)."""
    done = _retry_inputs_uri(output, round_)
    if storage.exists(done):
        staged = json.loads(storage.read_bytes(done))
        return staged["chunks"], staged["videos"]
    out: list[str] = []
    batch: list[str] = []
    rows = 0

    def flush() -> None:
        uri = storage.join(output, round_folder(round_), "inputs", f"{len(out):06d}.jsonl")
        storage.write_atomic(uri, "".join(batch).encode())
        out.append(uri)
        batch.clear()

    for data in _read_all(chunks):
        for line in data.decode("utf-8").splitlines():
            if line.strip() and json.loads(line)["video_id"] in retry:
                batch.append(line + "\n")
                rows += 1
                if len(batch) >= CHUNK_ROWS:
                    flush()
    if batch:
        flush()
    storage.write_atomic(done, json.dumps({"chunks": out, "videos": rows}).encode())
    return out, rows


def _shard_records(output: str) -> Iterator[dict]:
    names = storage.list_names(_work(output, "shards"), ".json")
    for data in _read_all([_work(output, "shards", n) for n in names]):
        yield json.loads(data)


def _video_records(output: str, round_: int) -> Iterator[VideoRecord]:
    folder = storage.join(output, round_folder(round_), "parts")
    names = storage.list_names(folder, ".jsonl")
    for data in _read_all([storage.join(folder, n) for n in names]):
        for line in data.decode("utf-8").splitlines():
            if line.strip():
                yield VideoRecord.from_json(line.encode("utf-8"))


def _write_index(output: str, records: Iterator[dict], s: BuildSummary) -> dict[str, list]:
    """index.parquet streamed from the shard commit records (in shard order, keys sorted in
    each), a row group at a time. Fills the shard counts of `s`; returns the clips lost."""
    lost: dict[str, list] = {}
    shards: list[dict] = []
    rows: list[dict] = []
    with (
        storage.open_atomic(storage.join(output, "index.parquet")) as f,
        pq.ParquetWriter(f, INDEX_SCHEMA) as w,
    ):
        for rec in records:
            rows.extend(sorted(rec["rows"], key=lambda r: r["key"]))
            if len(rows) >= INDEX_ROW_GROUP:
                w.write_table(pa.Table.from_pylist(rows, schema=INDEX_SCHEMA))
                rows = []
            for r in rec["rows"]:
                s.samples_by_split[r["split"]] = s.samples_by_split.get(r["split"], 0) + 1
            s.samples += len(rec["rows"])
            shards.append({k: rec[k] for k in ("name", "split", "samples", "bytes")})
            for vid, entry in rec.get("lost", {}).items():
                lost.setdefault(vid, [0, entry[1]])[0] += entry[0]
        if rows or not shards:
            w.write_table(pa.Table.from_pylist(rows, schema=INDEX_SCHEMA))
    s.shards = len(shards)
    s.bytes = sum(x["bytes"] for x in shards)
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
    failures = _read_jsonl(_work(output, "manifest-failures.jsonl"))
    text_sources: dict[str, int] = {}
    spills: list[str] = []
    seen: set[str] = set()  # ids of rounds after the one being read: the latest records win
    for r in reversed(range(rounds)):
        for v in _video_records(output, r):
            if v.video_id in seen:
                continue
            if r:
                seen.add(v.video_id)
            failures.extend(asdict(f) for f in v.failures)
            if v.video_id in lost:
                n, why = lost[v.video_id]
                failures.append(
                    asdict(Failure(v.source, v.line, v.video_id, "write", why, n, False))
                )
            if v.clips > 0:
                s.videos_ok += 1
                text_sources[v.text_source] = text_sources.get(v.text_source, 0) + 1
            if v.retryable:
                s.retryable.append(v.video_id)
            s.hours += v.duration / 3600
            if r == spills_of and v.spill and not opts.keep_spill:
                spills.append(storage.join(output, v.spill))
    for f in failures:
        f.setdefault("transient", False)
    failures.sort(key=lambda r: (r["line"], r["stage"], r["error"]))
    with storage.open_atomic(storage.join(output, "failures.parquet")) as f:
        pq.write_table(pa.Table.from_pylist(failures, schema=FAILURES_SCHEMA), f)
    s.videos_failed = rows_in - s.videos_ok
    for f in failures:
        s.failures_by_stage[f["stage"]] = s.failures_by_stage.get(f["stage"], 0) + 1
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
        "shards": s.shard_list,
        **(labels.to_dict() if labels else {}),
    }
    # written last: a reader that goes by dataset.json sees the shards of the finished rounds
    storage.write_atomic(
        storage.join(output, "dataset.json"), json.dumps(dataset, indent=1, sort_keys=True).encode()
    )
    storage.remove_many(spills)
    return s


def _counter_value(c) -> int:
    # runners differ: the portable runner reports committed values only, others attempted too
    for value in (c.committed, c.attempted):
        if value is not None:
            return int(value)
    return 0


def run_round(
    output: str,
    opts: BuildOptions,
    input_uri: str,
    rows_in: int,
    round_: int,
    chunks: list[str],
    videos: int,
    beam_args: list[str],
    progress_every: float,
    labels: LabelSpace | None = None,
) -> BuildSummary:
    """One Beam job over `chunks`, its finalize, then the round's done record."""
    rounds = completed_rounds(output)[:round_]
    first = first_shards(rounds)
    log.info(
        "%s %d videos into %s",
        "building" if round_ == 0 else f"retry round {round_}: retrying",
        videos,
        output,
    )
    progress = Progress(output, videos, progress_every, round_, sum(first.values()))
    progress.start()
    try:
        p = beam.Pipeline(options=beam_options(beam_args))
        build_graph(p, chunks, output, opts, labels, round_, first)
        result = p.run()
        result.wait_until_finish()
    finally:
        progress.stop_event.set()
    progress.report()
    counters: dict[str, int] = {}
    for c in result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]:
        counters[c.key.metric.name] = counters.get(c.key.metric.name, 0) + _counter_value(c)
    log.info("beam counters: %s", ", ".join(f"{k}={v}" for k, v in sorted(counters.items())))
    summary = finalize(output, opts, input_uri, rows_in, round_ + 1, round_, labels)
    summary.counters = counters
    mine: dict[str, int] = {}
    for sh in summary.shard_list:
        mine[sh["split"]] = mine.get(sh["split"], 0) + 1
    record = {
        "round": round_,
        "videos": videos,
        "shards": {k: v - first.get(k, 0) for k, v in sorted(mine.items())},
    }
    storage.write_atomic(done_uri(output, round_), json.dumps(record, sort_keys=True).encode())
    return summary


def build(
    input_uri: str,
    output: str,
    opts: BuildOptions,
    beam_args: list[str] | None = None,
    video_root: str | None = None,
    progress_every: float = 10.0,
    split_files: SplitFileOptions | None = None,
    retry_failed: bool = False,
) -> BuildSummary:
    t0 = time.monotonic()
    cpu0 = _cpu_seconds()
    output = output.rstrip("/")
    # no usable manifest row, a file as output: one error before anything is written
    check_inputs(input_uri, output, video_root, split_files)
    opts = resolve_asr(opts)  # `auto` -> the engine it means here, checked to load
    check_output(output, opts, input_uri)
    stale = storage.remove_stale_temporaries(output)
    if stale:
        log.info("removed %d temporary files left by an interrupted run", stale)
    chunks, rows, videos, labels = stage_inputs(input_uri, output, video_root, split_files)
    log.info("%d videos (%d manifest rows) from %s", videos, rows, input_uri)
    if labels:
        kind = "multi-label" if labels.multi_label else "single-label"
        log.info("labels: %d classes (%s)", len(labels.names), kind)
    args = list(beam_args or [])

    def round_of(r: int, round_chunks: list[str], n: int) -> BuildSummary:
        return run_round(
            output, opts, input_uri, rows, r, round_chunks, n, args, progress_every, labels
        )

    r = len(completed_rounds(output))
    if r == 0:
        summary = round_of(0, chunks, videos)
    elif storage.exists(_retry_inputs_uri(output, r)):  # a retry round was interrupted
        retry_chunks, n = stage_retry_inputs(output, r, set(), chunks)
        summary = round_of(r, retry_chunks, n)
        summary.retried = n
    else:  # finished: nothing to decode; the final files again, from the records
        summary = finalize(output, opts, input_uri, rows, r, None, labels)
    if retry_failed:
        if not summary.retryable:
            log.info("--retry-failed: no failed video whose failure may pass")
        else:
            r = len(completed_rounds(output))
            retry_chunks, n = stage_retry_inputs(output, r, set(summary.retryable), chunks)
            summary = round_of(r, retry_chunks, n)
            summary.retried = n
    summary.wall_seconds = time.monotonic() - t0
    summary.cpu_seconds = _cpu_seconds() - cpu0
    return summary


def _cpu_seconds() -> float:
    import resource

    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
