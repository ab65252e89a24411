"""`python -m pipeline build|demo-corpus|inspect|report ...`: the command line of the shard builder."""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass, field

from clifields import add_arguments, option, values
from pipeline.errors import ConfigError
from pipeline.options import SCHEMA, BuildOptions
from pipeline.split_files import SplitFileOptions
from vattclips import logs

log = logging.getLogger("pipeline")


@dataclass(frozen=True)
class BuildCommand:
    """What `python -m pipeline build` takes: the input and output, how to read split files,
    the options recorded in dataset.json, and how this run reports and retries. The parser is
    built from these fields (clifields): each option is declared here or in the nested
    dataclasses, with its help and default."""

    input: str = option(
        help="manifest: JSONL, CSV, Parquet, or a HowTo100M caption.json; or a benchmark's "
        "split files: ucf101:DIR, hmdb51:DIR, kinetics:CSV, esc50:CSV (docs/pipeline.md)"
    )
    output: str = option(help="output root: a folder, gs://..., s3://...")
    video_root: str | None = option(
        None,
        help="where relative video paths point (a caption.json's {id}.mp4, a split list's videos)",
        default_text="the manifest's folder",
    )
    split_files: SplitFileOptions = field(default_factory=SplitFileOptions)
    options: BuildOptions = field(default_factory=BuildOptions)
    progress_every: float = option(10.0, help="seconds between progress lines")
    retry_failed: bool = option(
        False,
        help="once the build is complete, try again the videos whose failure may pass (fetch "
        "errors, timeouts, 5xx); their clips go to new shards, committed shards are kept",
    )


def _build_parser(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser(
        "build",
        help="build WebDataset clip shards from a manifest",
        description=f"Build WebDataset clip shards (format {SCHEMA}) from a manifest of videos. "
        "Options not listed here are passed to Apache Beam (--runner, --direct_num_workers, "
        "--project, --region, --temp_location, --sdk_container_image, Flink/Spark options...). "
        "Re-running the same command on the same --output resumes.",
    )
    add_arguments(b, BuildCommand)


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
    i.add_argument("--seed", type=int, default=0, help="seed of the --sample draw")
    i.add_argument("--out", required=True, help="PNG to write")
    r = sub.add_parser("report", help="self-contained HTML report of a built dataset")
    r.add_argument("output", help="a built dataset: a folder, gs://..., s3://...")
    r.add_argument("--out", required=True, help="HTML file to write")
    r.add_argument("--max-shards", type=int, default=16, help="shards read for per-sample stats")
    r.add_argument("--sheets", type=int, default=4, help="contact sheets shown")


def _view(a: argparse.Namespace) -> int:
    # imported here: matplotlib costs a second that `build` does not need
    if a.command == "inspect":
        from pipeline.viewers.contact_sheet import SheetConfig, write_contact_sheet

        sheet = write_contact_sheet(
            a.output, a.out, a.key, a.sample, a.split, a.seed, SheetConfig(frames=a.frames)
        )
        print(f"contact sheet of {', '.join(sheet.keys)} ({sheet.width}x{sheet.height}): {a.out}")
        return 0
    from pipeline.viewers.report import ReportConfig, summarize, write_report

    print(summarize(write_report(a.output, a.out, ReportConfig(a.max_shards, a.sheets))))
    print(f"report written: {a.out}")
    return 0


def _build_command(a: argparse.Namespace) -> BuildCommand:
    try:
        return BuildCommand(**values(BuildCommand, a))
    except ValueError as exc:  # a setting out of its range, named by its flag
        raise ConfigError(str(exc)) from exc


def _demo_corpus(a: argparse.Namespace) -> int:
    if not a.labelled:
        from pipeline.synth.demo_corpus import write_demo_corpus

        manifest = write_demo_corpus(a.dir, n_videos=a.videos, seed=a.seed)
        print(f"demo corpus written: {manifest}")
        return 0
    from pipeline.synth.labelled_corpus import write_labelled_corpus

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    _build_parser(sub)
    d = sub.add_parser("demo-corpus", help="write the embedded demo corpus (generated videos)")
    d.add_argument("dir", help="folder to write the videos, captions and manifest.jsonl to")
    d.add_argument("--videos", type=int, default=40, help="videos of the pretraining corpus")
    d.add_argument("--seed", type=int, default=0, help="seed of the generated scenes")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
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

            command = _build_command(args)
            summary = build(
                command.input,
                command.output,
                command.options,
                beam_args=rest,
                video_root=command.video_root,
                progress_every=command.progress_every,
                split_files=command.split_files,
                retry_failed=command.retry_failed,
            )
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(summary.lines()))
    from pipeline.viewers.report import text_summary

    print(text_summary(summary.output))
    return 0
