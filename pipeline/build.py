"""The driver of a shard build: check the configuration, stage the inputs, run Beam, finalize.

Resume: everything the job writes is committed per unit (a video record, a shard and its
record), so re-running the same command on the same OUTPUT skips what is done and produces
what is missing; the final files are rebuilt from the records and equal an uninterrupted run.

Rounds (pipeline/rounds.py): the first build is round 0; `--retry-failed` on a finished output
runs one more round over the videos whose failure may pass. The parts: staging.py (manifest ->
input chunks), beam_job.py (the graph), runner.py (Beam options, counters), progress.py (the
periodic line), finalize.py (the final files from the records).
"""

from __future__ import annotations

import json
import logging
import time

import apache_beam as beam

from pipeline.asr import resolve_asr
from pipeline.beam_job import NAMESPACE, build_graph
from pipeline.errors import ConfigError
from pipeline.finalize import BuildSummary, finalize
from pipeline.labels import LabelSpace
from pipeline.options import SCHEMA, BuildOptions
from pipeline.preflight import check_inputs
from pipeline.progress import Progress
from pipeline.records import RoundRecord
from pipeline.rounds import completed_rounds, first_shards
from pipeline.runner import beam_options, counters
from pipeline.split_files import SplitFileOptions
from pipeline.staging import stage_inputs, stage_retry_inputs
from pipeline.vocabulary import merge_rounds
from pipeline.work import done_uri, staged_inputs_uri, work_uri
from vattclips import storage
from vattclips.schema import DATASET_FILE

log = logging.getLogger(__name__)


def check_output(output: str, opts: BuildOptions, input_uri: str) -> None:
    """Refuse an OUTPUT that holds another dataset or is not writable; record the options."""
    opts_uri = work_uri(output, "options.json")
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
        if storage.exists(storage.join(output, DATASET_FILE)):
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
    counted = counters(result, NAMESPACE)
    log.info("beam counters: %s", ", ".join(f"{k}={v}" for k, v in sorted(counted.items())))
    summary = finalize(output, opts, input_uri, rows_in, round_ + 1, round_, labels)
    summary.counters = counted
    if round_ and (words := merge_rounds(output, round_ + 1)) is not None:
        log.info("word counts: %d train videos of %d rounds", words.videos, round_ + 1)
    mine: dict[str, int] = {}
    for sh in summary.shard_list:
        mine[sh.split] = mine.get(sh.split, 0) + 1
    record = RoundRecord(round_, videos, {k: v - first.get(k, 0) for k, v in sorted(mine.items())})
    storage.write_atomic(done_uri(output, round_), record.to_json())
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
    elif storage.exists(staged_inputs_uri(output, r)):  # a retry round was interrupted
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
