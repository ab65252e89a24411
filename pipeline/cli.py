"""`python -m pipeline build|demo-corpus|inspect|report ...`: the command line of the shard builder."""

from __future__ import annotations

import argparse
import logging
import sys

from pipeline.clips import ClipSpec
from pipeline.decode import EncodeOptions
from pipeline.errors import ConfigError
from pipeline.options import SCHEMA, BuildOptions
from pipeline.split_files import KINETICS_PATTERN, SplitFileOptions
from vattclips import logs

log = logging.getLogger("pipeline")


def parse_size(text: str) -> int:
    """'1G', '500M', '64k' or a plain number of bytes."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    t = text.strip().lower().removesuffix("b").removesuffix("i")
    try:
        if t and t[-1] in units:
            return int(float(t[:-1]) * units[t[-1]])
        return int(t)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 1G, 500M)") from exc


def _build_parser(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser(
        "build",
        help="build WebDataset clip shards from a manifest",
        description=f"Build WebDataset clip shards (format {SCHEMA}) from a manifest of videos. "
        "Options not listed here are passed to Apache Beam (--runner, --direct_num_workers, "
        "--project, --region, --temp_location, --sdk_container_image, Flink/Spark options...). "
        "Re-running the same command on the same --output resumes.",
    )
    b.add_argument(
        "--input",
        required=True,
        help="manifest: JSONL, CSV, Parquet, or a HowTo100M caption.json; or a benchmark's "
        "split files: ucf101:DIR, hmdb51:DIR, kinetics:CSV, esc50:CSV (docs/pipeline.md)",
    )
    b.add_argument("--output", required=True, help="output root: a folder, gs://..., s3://...")
    b.add_argument(
        "--video-root",
        default=None,
        help="where relative video paths point (a caption.json's {id}.mp4, a split list's "
        "videos); default: the manifest's folder",
    )
    b.add_argument(
        "--split-number", type=int, default=1, help="ucf101/hmdb51 input: official split 1-3"
    )
    b.add_argument("--val-fold", type=int, default=1, help="esc50 input: the fold used as val")
    b.add_argument(
        "--video-pattern",
        default=KINETICS_PATTERN,
        help="kinetics input: a row's file under --video-root (fields youtube_id, start, end, "
        "label, label_dir, split)",
    )
    b.add_argument(
        "--allow-audio-only",
        action="store_true",
        help="inputs without a video stream (e.g. wav) become audio-only samples (default: "
        "failures)",
    )
    b.add_argument("--clip-seconds", type=float, default=3.2)
    b.add_argument("--fps", type=float, default=10.0)
    b.add_argument("--short-side", type=int, default=256)
    b.add_argument("--sample-rate", type=int, default=48000)
    b.add_argument("--neighbors", type=int, default=5, help="K captions nearest in time (MIL-NCE)")
    b.add_argument("--max-clips-per-video", type=int, default=None)
    b.add_argument(
        "--clip-stride",
        type=float,
        default=None,
        help="seconds between clip starts (default: clip length)",
    )
    b.add_argument(
        "--val-fraction", type=float, default=0.1, help="share of whole videos in the val split"
    )
    b.add_argument(
        "--shard-samples", type=int, default=1000, help="roll over after this many samples"
    )
    b.add_argument(
        "--shard-bytes",
        type=parse_size,
        default=1 << 30,
        help="roll over before this size (e.g. 1G)",
    )
    b.add_argument(
        "--asr",
        default="auto",
        help="auto (captions, else pocketsphinx), none, pocketsphinx, whisper:<dir>",
    )
    b.add_argument("--crf", type=int, default=23, help="H.264 quality of the clips")
    b.add_argument("--preset", default="veryfast", help="x264 preset of the clips")
    b.add_argument(
        "--ffmpeg-timeout", type=float, default=0.0, help="seconds per video (0: 60 + 4 x duration)"
    )
    b.add_argument("--max-video-seconds", type=float, default=4 * 3600.0)
    b.add_argument("--max-video-bytes", type=parse_size, default=20 << 30)
    b.add_argument(
        "--max-video-pixels", type=int, default=7680 * 4320, help="frame area limit (8K)"
    )
    b.add_argument("--max-caption-cues", type=int, default=100_000, help="cues per captions file")
    b.add_argument("--keep-spill", action="store_true", help="keep the per-video tars under _work/")
    b.add_argument(
        "--progress-every", type=float, default=10.0, help="seconds between progress lines"
    )
    b.add_argument(
        "--retry-failed",
        action="store_true",
        help="once the build is complete, try again the videos whose failure may pass (fetch "
        "errors, timeouts, 5xx); their clips go to new shards, committed shards are kept",
    )


def _view_parsers(sub: argparse._SubParsersAction) -> None:
    i = sub.add_parser("inspect", help="contact sheet PNG: frames, waveform, text, neighbours")
    i.add_argument("output", help="a built dataset: a folder, gs://..., s3://...")
    pick = i.add_mutually_exclusive_group()
    pick.add_argument("--key", default=None, help="the clip with this key")
    pick.add_argument(
        "--sample", type=int, default=1, help="N clips at random (one per video first)"
    )
    i.add_argument("--split", default=None, help="only clips of this split")
    i.add_argument("--frames", type=int, default=8, help="frames shown per clip")
    i.add_argument("--seed", type=int, default=0)
    i.add_argument("--out", required=True, help="PNG to write")
    r = sub.add_parser("report", help="self-contained HTML report of a built dataset")
    r.add_argument("output", help="a built dataset: a folder, gs://..., s3://...")
    r.add_argument("--out", required=True, help="HTML file to write")
    r.add_argument("--max-shards", type=int, default=16, help="shards read for per-sample stats")
    r.add_argument("--sheets", type=int, default=4, help="contact sheets shown")


def _view(a: argparse.Namespace) -> int:
    # imported here: matplotlib costs a second that `build` does not need
    if a.command == "inspect":
        from pipeline.inspect import SheetConfig, write_contact_sheet

        sheet = write_contact_sheet(
            a.output, a.out, a.key, a.sample, a.split, a.seed, SheetConfig(frames=a.frames)
        )
        print(f"contact sheet of {', '.join(sheet.keys)} ({sheet.width}x{sheet.height}): {a.out}")
        return 0
    from pipeline.report import ReportConfig, summarize, write_report

    print(summarize(write_report(a.output, a.out, ReportConfig(a.max_shards, a.sheets))))
    print(f"report written: {a.out}")
    return 0


def _options(a: argparse.Namespace) -> BuildOptions:
    try:
        clip = ClipSpec(
            clip_seconds=a.clip_seconds,
            fps=a.fps,
            short_side=a.short_side,
            sample_rate=a.sample_rate,
            stride=a.clip_stride,
            max_clips=a.max_clips_per_video,
            neighbors=a.neighbors,
        )
        return BuildOptions(
            clip=clip,
            encode=EncodeOptions(crf=a.crf, preset=a.preset),
            val_fraction=a.val_fraction,
            shard_samples=a.shard_samples,
            shard_bytes=a.shard_bytes,
            asr=a.asr,
            ffmpeg_timeout=a.ffmpeg_timeout,
            max_video_seconds=a.max_video_seconds,
            max_video_bytes=a.max_video_bytes,
            max_video_pixels=a.max_video_pixels,
            max_caption_cues=a.max_caption_cues,
            keep_spill=a.keep_spill,
            allow_audio_only=a.allow_audio_only,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def _split_file_options(a: argparse.Namespace) -> SplitFileOptions:
    try:
        return SplitFileOptions(a.split_number, a.val_fold, a.video_pattern)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def _demo_corpus(a: argparse.Namespace) -> int:
    if not a.labelled:
        from pipeline.demo_corpus import write_demo_corpus

        manifest = write_demo_corpus(a.dir, n_videos=a.videos, seed=a.seed)
        print(f"demo corpus written: {manifest}")
        return 0
    from pipeline.labelled_corpus import write_labelled_corpus

    try:
        manifest = write_labelled_corpus(
            a.dir, a.per_class, a.val_per_class, a.label_by, seed=a.seed
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    print(f"labelled demo corpus written: {manifest}")
    return 0


def _interrupted(output: str) -> str:
    from vattclips import storage

    done = storage.list_names(storage.join(output.rstrip("/"), "_work", "videos"), ".json")
    return (
        f"interrupted: {len(done)} videos were finished and are kept in {output}; "
        "run the same command again to resume from them"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    _build_parser(sub)
    d = sub.add_parser("demo-corpus", help="write the embedded demo corpus (generated videos)")
    d.add_argument("dir")
    d.add_argument("--videos", type=int, default=40, help="videos of the pretraining corpus")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument(
        "--labelled",
        action="store_true",
        help="write the labelled (classification) corpus instead: one scene per video, "
        "label and split columns",
    )
    d.add_argument("--label-by", default="colour", help="--labelled: colour, shape or direction")
    d.add_argument("--per-class", type=int, default=12, help="--labelled: videos per class")
    d.add_argument("--val-per-class", type=int, default=4, help="--labelled: of them, in val")
    _view_parsers(sub)
    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "build":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    logs.configure(args.verbose, quiet=("apache_beam", "absl"))
    # the local runner relays every worker warning (unparsed args, ...) through this logger
    logging.getLogger("apache_beam.runners.portability.local_job_service").setLevel(logging.ERROR)
    if args.command != "build":
        from pipeline.interrupt import allow_ctrl_c

        allow_ctrl_c()  # blocked by `python -m pipeline` for the build's sake
    try:
        if args.command == "demo-corpus":
            return _demo_corpus(args)
        if args.command in ("inspect", "report"):
            return _view(args)
        from pipeline.interrupt import on_ctrl_c
        from pipeline.quiet import beam_noise_filtered

        with on_ctrl_c(lambda: _interrupted(args.output)), beam_noise_filtered():
            from pipeline.build import build

            summary = build(
                args.input,
                args.output,
                _options(args),
                beam_args=rest,
                video_root=args.video_root,
                progress_every=args.progress_every,
                split_files=_split_file_options(args),
                retry_failed=args.retry_failed,
            )
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(summary.lines()))
    from pipeline.report import text_summary

    print(text_summary(summary.output))
    return 0
