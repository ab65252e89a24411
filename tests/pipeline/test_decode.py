"""The one-pass decoder on its own: exact clips, timeouts, early ends, ffprobe parsing."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction

import pytest

from pipeline import decode
from pipeline.clips import ClipSpec, output_size, plan_windows
from pipeline.decode import ASR_SAMPLE_RATE, EncodeOptions, cut_clips
from pipeline.errors import StageError
from pipeline.ffmpeg_args import local_media_arg
from pipeline.probe import parse_probe, probe
from pipeline.synth import media as ms
from tests.pipeline import broken_inputs as bi
from tests.pipeline.conftest import decode_flac, decode_mp4


def test_overlapping_windows_come_from_one_pass(clock_video):
    p = probe(str(clock_video))
    spec = ClipSpec(stride=1.6, max_clips=3)
    windows = plan_windows(p.duration, spec)
    clips = list(cut_clips(str(clock_video), "clock", p, windows, spec))
    assert [c.window.start for c in clips] == [w.start for w in windows]
    for c in clips:
        assert len(decode_mp4(c.mp4)) == 32
        assert len(decode_flac(c.flac)[0]) == 153_600


def test_other_geometry_is_honoured(clock_video):
    p = probe(str(clock_video))
    spec = ClipSpec(clip_seconds=2.0, fps=5, short_side=64, sample_rate=16000)
    clips = list(cut_clips(str(clock_video), "clock", p, plan_windows(p.duration, spec), spec))
    assert len(clips) == 6
    frames = decode_mp4(clips[0].mp4)
    assert len(frames) == 10 and frames[0].shape == (64, 86)
    pcm, rate = decode_flac(clips[0].flac)
    assert (len(pcm), rate) == (32000, 16000)


def test_a_timeout_reports_the_clips_lost(clock_video):
    p = probe(str(clock_video))
    spec = ClipSpec()
    windows = plan_windows(p.duration, spec)
    got = []
    with pytest.raises(StageError) as err:
        for c in cut_clips(str(clock_video), "clock", p, windows, spec, timeout=0.001):
            got.append(c)
    assert err.value.stage == "decode"
    assert "timed out" in err.value.message
    assert f"{len(windows) - len(got)} of {len(windows)} clips lost" in err.value.message


def test_a_stream_shorter_than_its_probe_loses_the_tail(clock_video):
    p = probe(str(clock_video))
    spec = ClipSpec()
    # pretend the container claimed 20 s: the last planned windows cannot be filled
    windows = plan_windows(20.0, spec)
    got = []
    with pytest.raises(StageError, match="clips lost") as err:
        for c in cut_clips(str(clock_video), "clock", p, windows, spec):
            got.append(c)
    assert len(got) == 4 and "ended at frame" in err.value.message


def test_probe_parsing_handles_rotation_sar_and_missing_video():
    info = {
        "streams": [
            {
                "codec_type": "video",
                "codec_name": "h264",
                "width": 640,
                "height": 480,
                "sample_aspect_ratio": "4:3",
                "avg_frame_rate": "30000/1001",
                "side_data_list": [{"rotation": -90}],
            },
            {"codec_type": "audio", "codec_name": "opus", "channels": 2, "sample_rate": "48000"},
        ],
        "format": {"duration": "10.5", "format_name": "matroska,webm"},
    }
    p = parse_probe(info, "x")
    assert (p.width, p.height, p.rotation) == (480, 853, 270)
    assert p.fps == pytest.approx(29.97, abs=0.01) and p.duration == 10.5 and p.has_audio
    info["streams"] = info["streams"][1:]
    with pytest.raises(StageError, match="audio-only"):
        parse_probe(info, "x")


# ---- the decode pass's argument list: ffmpeg-python's graph against the hand-built one -------


def hand_built_command(path, probe, spec, size, until, audio_fd, asr_path, opts, seek=0.0):
    """The decode pass as it was built by hand before ffmpeg-python: the reference the graph
    must match byte for byte (simple `-vf`/`-af` chains where the graph is one complex one)."""
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error"]
    cmd += ["-threads", str(opts.ffmpeg_threads)]
    if seek > 0:
        cmd += ["-ss", f"{seek:.6f}"]
    cmd += ["-t", f"{until:.3f}", "-i", local_media_arg(path)]
    if size is not None:
        width, height = size
        fps = Fraction(spec.fps).limit_denominator(1001)
        vf = f"fps=fps={fps}:start_time=0,scale={width}:{height}:flags=bilinear,setsar=1,format=yuv420p"
        cmd += ["-map", "0:v:0", "-filter_threads", "1", "-vf", vf, "-f", "rawvideo", "pipe:1"]
    resample = "aresample={rate}:async=1:first_pts=0"
    if audio_fd is not None:
        af = resample.format(rate=spec.sample_rate)
        cmd += ["-map", "0:a:0", "-af", af, "-ac", "1", "-f", "f32le", f"pipe:{audio_fd}"]
    if asr_path is not None:
        af = resample.format(rate=ASR_SAMPLE_RATE)
        cmd += ["-map", "0:a:0", "-af", af, "-ac", "1", "-f", "s16le", "-y", local_media_arg(asr_path)]  # fmt: skip
    return cmd


SOURCES = {  # what web video brings: rotation, variable frame rate, 5.1 at 8 kHz, VP9/Opus
    "plain": lambda d: ms.synth_video(d / "plain.mp4", 4.6),
    "rotated-vfr": lambda d: ms.synth_video(d / "r.mp4", 4.6, rotation=90, vfr=True, fps=30),
    "5.1-8k": lambda d: ms.synth_video(
        d / "s.mkv", 4.6, channels=6, sample_rate=8000, width=640, height=360
    ),  # fmt: skip
    "webm": lambda d: ms.synth_video(d / "w.webm", 4.6, audio="noise"),
    "silent": lambda d: ms.synth_video(d / "n.mp4", 4.6, audio=None),
    "audio-only": lambda d: bi.make_audio_only_video(d / "a.mp4", 4.6),
}


def _clips(path, seek, asr_path):
    p = probe(str(path), allow_audio_only=True)
    spec = ClipSpec(stride=0.4, max_clips=2)
    windows = plan_windows(p.duration, spec, seek or None)
    asr_path.unlink(missing_ok=True)
    clips = list(cut_clips(str(path), "x", p, windows, spec, EncodeOptions(), 120.0, str(asr_path)))
    asr = asr_path.read_bytes() if asr_path.exists() else None
    return [(c.window, c.mp4, c.flac, c.audio_padded) for c in clips], asr


@pytest.mark.parametrize("seek", [0.0, 0.55])
@pytest.mark.parametrize("source", sorted(SOURCES))
def test_the_graph_cuts_the_clips_the_hand_built_command_cut(source, seek, tmp_path, monkeypatch):
    path = SOURCES[source](tmp_path)
    graph = _clips(path, seek, tmp_path / "asr.s16le")
    monkeypatch.setattr(decode, "ffmpeg_command", hand_built_command)
    reference = _clips(path, seek, tmp_path / "asr.s16le")
    assert len(graph[0]) == 2 and graph == reference
    assert (graph[1] is None) == (source == "silent")


def test_the_graph_keeps_what_the_hand_built_command_guaranteed(tmp_path):
    path = tmp_path / "-x;$(touch y).mp4"  # a name that is an option or a shell command
    p = parse_probe(
        {"streams": [{"codec_type": "video", "width": 640, "height": 360, "duration": "9"},
                     {"codec_type": "audio", "codec_name": "aac"}], "format": {}}, "x"
    )  # fmt: skip
    spec = ClipSpec(fps=30000 / 1001)
    size = output_size(p.width, p.height, spec.short_side)
    cmd = decode.ffmpeg_command(
        str(path), p, spec, size, 6.5, 7, str(tmp_path / "asr"), EncodeOptions(), seek=2.0
    )
    assert all(isinstance(a, str) for a in cmd) and cmd[0] == "ffmpeg"  # an argv, no shell
    assert cmd[cmd.index("-i") + 1] == f"file:{path}"  # plain file names, whatever they look like
    assert f"file:{tmp_path / 'asr'}" in cmd and "pipe:1" in cmd and "pipe:7" in cmd
    assert "-nostdin" in cmd and "-y" in cmd
    before = cmd[: cmd.index("-i")]  # input options: seek, duration, decoder threads
    assert (
        before[before.index("-ss") + 1] == "2.000000" and before[before.index("-t") + 1] == "6.500"
    )
    graph = cmd[cmd.index("-filter_complex") + 1]
    assert "fps=fps=30000/1001:start_time=0" in graph
    assert "aresample=48000:async=1:first_pts=0" in graph and "aresample=16000" in graph


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_the_probe_reads_what_the_hand_built_ffprobe_call_read(source, tmp_path):
    path = SOURCES[source](tmp_path)
    old = ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams"]
    res = subprocess.run([*old, local_media_arg(str(path))], capture_output=True, check=True)
    want = parse_probe(json.loads(res.stdout), str(path), allow_audio_only=True)
    assert probe(str(path), allow_audio_only=True) == want
