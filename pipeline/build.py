"""The driver of a shard build: check the configuration, stage the inputs, run Beam, finalize.

Resume: everything the job writes is committed per unit (a video record, a shard and its
record), so re-running the same command on the same OUTPUT skips what is done and produces
what is missing; the final files are rebuilt from the records and equal an uninterrupted run.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import __version__, storage
from pipeline.asr import resolve_asr
from pipeline.beam_job import NAMESPACE, build_graph
from pipeline.errors import ConfigError
from pipeline.manifest import ManifestError, ManifestProblem, read_manifest
from pipeline.options import SCHEMA, BuildOptions
from pipeline.preflight import check_inputs

log = logging.getLogger(__name__)

CHUNK_ROWS = 200  # manifest rows per input chunk: the unit Beam reads

INDEX_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("shard", pa.string()),
        ("split", pa.string()),
        ("video_id", pa.string()),
        ("source", pa.string()),
        ("clip", pa.int32()),
        ("start", pa.float64()),
        ("end", pa.float64()),
        ("has_audio", pa.bool_()),
        ("text_chars", pa.int32()),
        ("n_segments", pa.int32()),
        ("n_neighbors", pa.int32()),
    ]
)
FAILURES_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("line", pa.int64()),
        ("video_id", pa.string()),
        ("stage", pa.string()),
        ("error", pa.string()),
        ("clips_lost", pa.int64()),
    ]
)


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

    def lines(self) -> list[str]:
        rate = self.hours * 3600 / self.wall_seconds if self.wall_seconds else 0.0
        fails = ", ".join(f"{k} {v}" for k, v in sorted(self.failures_by_stage.items())) or "none"
        splits = ", ".join(f"{k} {v}" for k, v in sorted(self.samples_by_split.items())) or "none"
        return [
            f"shards written to {self.output}",
            f"videos: {self.videos_in} in, {self.videos_ok} ok, {self.videos_failed} failed",
            f"failure rows by stage: {fails}",
            f"clips: {self.samples} ({splits}) in {self.shards} shards, {self.bytes / 1e6:.1f} MB",
            f"video: {self.hours:.3f} h cut into clips; {self.wall_seconds:.1f} s wall, "
            f"{rate:.1f} video-s/s, {self.samples / max(self.wall_seconds, 1e-9):.1f} clips/s",
        ]


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


def stage_inputs(input_uri: str, output: str, video_root: str | None) -> tuple[list[str], int, int]:
    """Manifest -> input chunks under _work/inputs/ (once).

    Returns the chunk URIs, the manifest rows and the rows that are videos to process.
    """
    done_uri = _work(output, "inputs", "_DONE.json")
    if storage.exists(done_uri):
        done = json.loads(storage.read_bytes(done_uri))
        return done["chunks"], done["rows"], done["videos"]
    chunks: list[str] = []
    problems: list[dict] = []
    batch: list[str] = []
    rows = 0

    def flush() -> None:
        uri = _work(output, "inputs", f"{len(chunks):06d}.jsonl")
        storage.write_atomic(uri, "".join(batch).encode())
        chunks.append(uri)
        batch.clear()

    try:
        for item in read_manifest(input_uri, video_root=video_root):
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
            }
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
    storage.write_atomic(
        done_uri, json.dumps({"chunks": chunks, "rows": rows, "videos": videos}).encode()
    )
    return chunks, rows, videos


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

    def __init__(self, output: str, total: int, every: float = 10.0) -> None:
        super().__init__(daemon=True)
        self.output, self.total, self.every = output, total, every
        self.stop_event = threading.Event()
        self.t0 = time.monotonic()

    def run(self) -> None:
        while not self.stop_event.wait(self.every):
            try:
                self.report()
            except Exception:  # noqa: BLE001 - progress must never break the job
                log.debug("progress poll failed", exc_info=True)

    def report(self) -> None:
        done = len(storage.list_names(_work(self.output, "videos"), ".json"))
        shards = len(storage.list_names(_work(self.output, "shards"), ".json"))
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


def finalize(output: str, opts: BuildOptions, input_uri: str, rows_in: int) -> BuildSummary:
    """index.parquet, failures.parquet and dataset.json from the committed records."""
    videos = _read_jsonl(_work(output, "videos.jsonl"))
    shards = _read_jsonl(_work(output, "shards.jsonl"))
    failures = _read_jsonl(_work(output, "manifest-failures.jsonl"))
    for v in videos:
        failures.extend(v["failures"])
    index: list[dict] = []
    for s in shards:
        stem = s["name"].rsplit("/", 1)[-1].removesuffix(".tar")
        index.extend(
            json.loads(storage.read_bytes(_work(output, "shards", f"{stem}.json")))["rows"]
        )
    index.sort(key=lambda r: (r["shard"], r["key"]))
    failures.sort(key=lambda r: (r["line"], r["stage"], r["error"]))
    with storage.open_atomic(storage.join(output, "index.parquet")) as f:
        pq.write_table(pa.Table.from_pylist(index, schema=INDEX_SCHEMA), f)
    with storage.open_atomic(storage.join(output, "failures.parquet")) as f:
        pq.write_table(pa.Table.from_pylist(failures, schema=FAILURES_SCHEMA), f)
    s = BuildSummary(output=output, videos_in=rows_in)
    s.videos_ok = sum(1 for v in videos if v["clips"] > 0)
    s.videos_failed = rows_in - s.videos_ok
    s.samples = len(index)
    for r in index:
        s.samples_by_split[r["split"]] = s.samples_by_split.get(r["split"], 0) + 1
    for f in failures:
        s.failures_by_stage[f["stage"]] = s.failures_by_stage.get(f["stage"], 0) + 1
    s.shards = len(shards)
    s.bytes = sum(x["bytes"] for x in shards)
    s.hours = sum(v["duration"] for v in videos) / 3600
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
            "samples": s.samples,
            "samples_by_split": s.samples_by_split,
            "hours": round(s.hours, 4),
            "failures_by_stage": s.failures_by_stage,
            "text_sources": _count(v["text_source"] for v in videos if v["clips"]),
        },
        "shards": [
            {"name": x["name"], "split": x["split"], "samples": x["samples"], "bytes": x["bytes"]}
            for x in sorted(shards, key=lambda x: x["name"])
        ],
    }
    storage.write_atomic(
        storage.join(output, "dataset.json"), json.dumps(dataset, indent=1, sort_keys=True).encode()
    )
    if not opts.keep_spill:
        for v in videos:
            if v.get("spill"):
                storage.remove(storage.join(output, v["spill"]))
    return s


def _count(items) -> dict[str, int]:
    out: dict[str, int] = {}
    for x in items:
        out[x] = out.get(x, 0) + 1
    return out


def build(
    input_uri: str,
    output: str,
    opts: BuildOptions,
    beam_args: list[str] | None = None,
    video_root: str | None = None,
    progress_every: float = 10.0,
) -> BuildSummary:
    t0 = time.monotonic()
    cpu0 = _cpu_seconds()
    output = output.rstrip("/")
    check_inputs(input_uri, output, video_root)  # no usable manifest row, a file as output
    opts = resolve_asr(opts)  # `auto` -> the engine it means here, checked to load
    check_output(output, opts, input_uri)
    stale = storage.remove_stale_temporaries(output)
    if stale:
        log.info("removed %d temporary files left by an interrupted run", stale)
    chunks, rows, videos = stage_inputs(input_uri, output, video_root)
    log.info(
        "building %d videos (%d manifest rows) from %s into %s", videos, rows, input_uri, output
    )
    progress = Progress(output, videos, progress_every)
    progress.start()
    try:
        p = beam.Pipeline(options=beam_options(beam_args or []))
        build_graph(p, chunks, output, opts)
        result = p.run()
        result.wait_until_finish()
    finally:
        progress.stop_event.set()
    progress.report()
    counters = {}
    for c in result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]:
        counters[c.key.metric.name] = counters.get(c.key.metric.name, 0) + c.attempted
    log.info("beam counters: %s", ", ".join(f"{k}={v}" for k, v in sorted(counters.items())))
    summary = finalize(output, opts, input_uri, rows)
    summary.counters = counters
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
