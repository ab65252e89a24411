"""`python -m pipeline build` is built from the option dataclasses: every option explained with
its default, the flags mapped onto the fields they always were."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from clifields import cli_fields
from pipeline.cli import BuildCommand, _build_command, build_parser
from pipeline.clips import ClipSpec
from pipeline.decode import EncodeOptions
from pipeline.errors import ConfigError
from pipeline.options import BuildOptions
from pipeline.split_files import SplitFileOptions

WHERE = ["build", "--input", "m.jsonl", "--output", "out"]
# the flags of `build` before its parser was built from the fields (README, docs/pipeline.md)
FORMER_FLAGS = set(
    "--input --output --video-root --split-number --val-fold --video-pattern --allow-audio-only "
    "--clip-seconds --fps --short-side --sample-rate --neighbors --max-clips-per-video "
    "--clip-stride --val-fraction --shard-samples --shard-bytes --asr --crf --preset "
    "--ffmpeg-timeout --max-video-seconds --max-video-bytes --max-video-pixels "
    "--max-caption-cues --keep-spill --progress-every --retry-failed".split()
)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _settings(cls: type) -> list[dataclasses.Field]:
    out = []
    for f in cli_fields(cls):
        nested = f.default_factory if f.default_factory is not dataclasses.MISSING else None
        out += _settings(nested) if dataclasses.is_dataclass(nested) else [f]
    return out


def test_every_build_setting_is_explained_with_its_default(monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")
    text = " ".join(_subparsers(build_parser())["build"].format_help().split())
    for f in _settings(BuildCommand):
        help_text = " ".join(f.metadata["help"].split())
        assert help_text in text, f.name
        if f.default is not dataclasses.MISSING:
            assert f"{help_text} (default: " in text, f.name
    flags = {s for a in _subparsers(build_parser())["build"]._actions for s in a.option_strings}
    assert FORMER_FLAGS <= flags, FORMER_FLAGS - flags  # documented: they keep their names


def test_every_option_of_every_command_has_help():
    parser = build_parser()
    for name, sub in {"": parser, **_subparsers(parser)}.items():
        for action in sub._actions:
            if not isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
                assert action.help, f"{name} {action.option_strings or action.dest}"


def test_flags_set_the_fields_they_name():
    args, rest = build_parser().parse_known_args(
        [
            *WHERE,
            *"--clip-seconds 4.0 --clip-stride 3.2 --fps 8 --short-side 128 --sample-rate 16000 "
            "--neighbors 3 --max-clips-per-video 7 --val-fraction 0.3 --shard-samples 4 "
            "--shard-bytes 64M --asr none --crf 30 --preset ultrafast --ffmpeg-timeout 9 "
            "--max-video-seconds 100 --max-video-bytes 1G --max-video-pixels 1000000 "
            "--max-caption-cues 10 --keep-spill --allow-audio-only --progress-every 2 "
            "--retry-failed --video-root /v --split-number 2 --val-fold 3 "
            "--video-pattern {youtube_id}.mp4 --runner DirectRunner".split(),
        ]
    )
    assert rest == ["--runner", "DirectRunner"]  # Beam's options pass through
    assert _build_command(args) == BuildCommand(
        input="m.jsonl",
        output="out",
        video_root="/v",
        split_files=SplitFileOptions(2, 3, "{youtube_id}.mp4"),
        options=BuildOptions(
            clip=ClipSpec(4.0, 8.0, 128, 16000, stride=3.2, max_clips=7, neighbors=3),
            encode=EncodeOptions(crf=30, preset="ultrafast"),
            val_fraction=0.3,
            shard_samples=4,
            shard_bytes=64 << 20,
            asr="none",
            ffmpeg_timeout=9.0,
            max_video_seconds=100.0,
            max_video_pixels=1_000_000,
            max_video_bytes=1 << 30,
            max_caption_cues=10,
            keep_spill=True,
            allow_audio_only=True,
        ),
        progress_every=2.0,
        retry_failed=True,
    )
    defaults, _ = build_parser().parse_known_args(WHERE)
    assert _build_command(defaults) == BuildCommand(input="m.jsonl", output="out")
    assert _build_command(defaults).options.fingerprint() == BuildOptions().fingerprint()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--val-fraction", "2"], "--val-fraction must be in [0, 1], got 2.0"),
        (["--short-side", "15"], "short_side must be an even number >= 16, got 15"),
        (["--split-number", "4"], "--split-number must be 1, 2 or 3, got 4"),
    ],
)
def test_a_value_out_of_range_is_a_configuration_error(argv, message):
    args, _ = build_parser().parse_known_args([*WHERE, *argv])
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _build_command(args)


def test_a_bad_size_is_an_argument_error(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_known_args([*WHERE, "--shard-bytes", "lots"])
    assert "not a size: 'lots'" in capsys.readouterr().err
