"""One source video -> its clip samples (a per-video tar under _work/) and a commit record.

This is the unit of work and of resume: a video whose record exists is done (in the shards or
in the failures), and is not decoded again.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict

from pipeline import asr
from pipeline.captions import (
    CaptionError,
    Segment,
    clean_segments,
    load_captions,
    segments_from_json_obj,
)
from pipeline.clips import CaptionIndex, Window, plan_windows
from pipeline.decode import ASR_SAMPLE_RATE, cut_clips
from pipeline.errors import Stage, StageError, is_transient
from pipeline.fetch import local_copy
from pipeline.labels import LabelSpace
from pipeline.manifest import ManifestRow
from pipeline.options import BuildOptions
from pipeline.probe import Probe, probe
from pipeline.records import Failure, VideoRecord
from pipeline.vocabulary import write_video_words
from pipeline.work import spill_name
from vattclips import storage
from vattclips.keys import clip_key, split_for
from vattclips.meta import ClipMeta
from vattclips.tars import SampleTarWriter

log = logging.getLogger(__name__)


def _captions_for(
    row: ManifestRow, duration: float, opts: BuildOptions
) -> tuple[list[Segment], str]:
    cap = row.captions
    if cap is None:
        return [], "none"
    try:
        if isinstance(cap, dict):
            segs, fmt = (
                clean_segments(segments_from_json_obj(cap, row.video), duration),
                "howto100m",
            )
        else:
            segs, fmt = load_captions(cap, duration)
    except CaptionError as exc:
        raise StageError("captions", str(exc)) from exc
    except (OSError, ValueError) as exc:
        raise StageError(
            "captions", f"{cap}: cannot read captions ({exc})", is_transient(exc)
        ) from exc
    if len(segs) > opts.max_caption_cues:
        raise StageError(
            "captions",
            f"{cap}: {len(segs)} caption cues, over the limit of {opts.max_caption_cues}",
        )
    return segs, f"captions:{fmt}"


def _check_limits(p: Probe, source: str, opts: BuildOptions) -> None:
    if p.duration > opts.max_video_seconds:
        raise StageError(
            "probe",
            f"{source}: {p.duration:.1f}s long, over the limit of {opts.max_video_seconds:g}s",
        )
    if p.width * p.height > opts.max_video_pixels:
        raise StageError(
            "probe",
            f"{source}: {p.width}x{p.height} frames, over the limit of {opts.max_video_pixels} pixels",
        )


def _sample(
    key: str,
    clip,
    media,
    row: ManifestRow,
    p: Probe,
    segs: CaptionIndex,
    text_source: str,
    opts: BuildOptions,
    labels: LabelSpace | None = None,
    captions_used: set[Segment] | None = None,
) -> dict:
    w = clip
    start, end = w.source_start, w.source_end
    inside = segs.overlapping(start, end)
    near = segs.nearest(start, end, opts.clip.neighbors)
    if captions_used is not None:  # the video's text as the shards hold it, for word counts
        captions_used.update(inside, near)
    text = " ".join(s.text for s in inside)
    label_fields, cls = labels.clip_fields(row.label) if labels else ({}, None)
    meta = ClipMeta(
        key=key,
        video_id=row.video_id,
        clip=w.clip,
        source=row.video,
        start=start,
        end=end,
        fps=opts.clip.fps,
        frames=w.frames if media.mp4 is not None else 0,
        width=media.width,
        height=media.height,
        sample_rate=opts.clip.sample_rate,
        samples=w.samples,
        has_audio=media.flac is not None,
        has_video=media.mp4 is not None,
        audio_padded=media.audio_padded,
        text_source=text_source,
        segments=[asdict(s) for s in inside],
        neighbors=[asdict(s) for s in near],
        probe=p.to_dict(),
        meta=row.meta or {},
        **label_fields,
    )
    sample = {
        "__key__": key,
        "txt": text.encode("utf-8"),
        "json": meta.to_json(),
    }
    if media.mp4 is not None:
        sample["mp4"] = media.mp4
    if media.flac is not None:
        sample["flac"] = media.flac
    if cls is not None:
        sample["cls"] = cls
    return sample


def _plan(p: Probe, row: ManifestRow, source: str, opts: BuildOptions) -> list[Window]:
    start, end = row.start, row.end
    windows = plan_windows(p.duration, opts.clip, start, end)
    if windows:
        return windows
    if start is None and end is None:
        why = f"{p.duration:.2f}s, shorter than one clip ({opts.clip.clip_seconds}s)"
    elif start is not None and start >= p.duration:
        why = f"span starts at {start:g}s, after the end of the {p.duration:.2f}s video"
    else:
        span_end = min(p.duration, end if end is not None else p.duration)
        why = (
            f"span {start or 0:g}-{span_end:g}s of the {p.duration:.2f}s video is shorter "
            f"than one clip ({opts.clip.clip_seconds}s)"
        )
    raise StageError("plan", f"{source}: {why}")


def process_video(
    row: ManifestRow,
    output: str,
    opts: BuildOptions,
    labels: LabelSpace | None = None,
    round_: int = 0,
) -> VideoRecord:
    """Decode one manifest row's video into a per-video tar; every failure becomes a record row.

    `labels`: the dataset's label space when the manifest has labels (see pipeline.labels);
    `round_`: 0 for the first build, k for the k-th retry round (its records kept apart).
    """
    t0 = time.monotonic()
    vid, source = row.video_id, row.video
    rec = VideoRecord(
        video_id=vid,
        line=int(row.line),
        source=source,
        split=row.split or split_for(vid, opts.val_fraction),
        round=round_,
    )

    def fail(stage: Stage, error: str, lost: int = 0, transient: bool = False) -> None:
        rec.failures.append(Failure(source, rec.line, vid, stage, error, lost, transient))

    tmpdir = tempfile.mkdtemp(prefix="vatt-video-")
    try:
        with local_copy(source, opts.max_video_bytes) as path:
            p = probe(path, source, allow_audio_only=opts.allow_audio_only)
            _check_limits(p, source, opts)
            windows = _plan(p, row, source, opts)
            try:
                segs, text_source = _captions_for(row, p.duration, opts)
            except StageError as exc:  # reported; the video still yields clips, without text
                fail(exc.stage, exc.message)
                segs, text_source = [], "none"
            engine = asr.engine_name_for(opts.asr) if not segs and row.captions is None else None
            asr_pcm = os.path.join(tmpdir, "asr.s16le") if engine else None
            # decode once: clip media spill to local files so memory stays flat
            done = []
            until = windows[-1].end
            try:
                for media in cut_clips(
                    path,
                    source,
                    p,
                    windows,
                    opts.clip,
                    opts.encode,
                    opts.timeout_for(until),
                    asr_pcm,
                ):
                    base = os.path.join(tmpdir, f"{media.window.clip:05d}")
                    if media.mp4 is not None:
                        with open(base + ".mp4", "wb") as f:
                            f.write(media.mp4)
                    if media.flac is not None:
                        with open(base + ".flac", "wb") as f:
                            f.write(media.flac)
                    media.mp4 = b"" if media.mp4 is not None else None
                    media.flac = b"" if media.flac is not None else None
                    done.append(media)
            except StageError as exc:
                fail(exc.stage, exc.message, len(windows) - len(done), exc.transient)
            if engine and asr_pcm and os.path.exists(asr_pcm) and done:
                try:
                    segs = asr.transcribe(engine, asr_pcm, ASR_SAMPLE_RATE, source)
                    # the ASR audio starts where the decode pass does: at the span's start
                    offset = windows[0].offset
                    segs = [Segment(s.start + offset, s.end + offset, s.text) for s in segs]
                    text_source = f"asr:{engine}"
                except StageError as exc:
                    fail(exc.stage, exc.message)
            if not done:
                return rec
            total = 0
            offsets = [0]
            index = CaptionIndex(segs)
            used: set[Segment] = set()
            # straight to its final place (atomically): no local tar copied afterwards
            spill = spill_name(vid, round_)
            try:
                with (
                    storage.open_atomic(storage.join(output, spill)) as f,
                    SampleTarWriter(f) as tw,
                ):
                    for media in done:
                        base = os.path.join(tmpdir, f"{media.window.clip:05d}")
                        if media.mp4 is not None:
                            with open(base + ".mp4", "rb") as m:
                                media.mp4 = m.read()
                        if media.flac is not None:
                            with open(base + ".flac", "rb") as m:
                                media.flac = m.read()
                        key = clip_key(vid, media.window.clip)
                        sample = _sample(
                            key, media.window, media, row, p, index, text_source, opts, labels, used
                        )
                        total += sum(len(v) for k, v in sample.items() if k != "__key__")
                        offsets[-1:] = list(tw.write(sample))
            except Exception as exc:  # noqa: BLE001 - the output store refused the clips
                why = f"{type(exc).__name__}: {exc}"
                transient = is_transient(exc, default=True)
                fail(
                    "write",
                    f"{source}: cannot write its clips to {spill} ({why})",
                    len(done),
                    transient,
                )
                return rec
            if rec.split == "train":  # the corpus vocabulary is the train split's
                write_video_words(output, vid, (c.text for c in sorted(used, key=_order)))
            rec.clips, rec.bytes, rec.spill, rec.offsets = len(done), total, spill, offsets
            rec.duration = round(sum(m.window.end - m.window.start for m in done), 3)
            rec.text_source = text_source
    except StageError as exc:
        fail(exc.stage, exc.message, 0, exc.transient)
    except Exception as exc:  # noqa: BLE001 - a bad input never stops the job
        log.exception("unexpected error on %s", source)
        fail("decode", f"{source}: unexpected {type(exc).__name__}: {exc}", 0, is_transient(exc))
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
        rec.seconds = round(time.monotonic() - t0, 3)
    return rec


def _order(s: Segment) -> tuple[float, float, str]:
    return (s.start, s.end, s.text)
