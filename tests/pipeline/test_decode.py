"""The one-pass decoder on its own: exact clips, timeouts, early ends, ffprobe parsing."""

from __future__ import annotations

import pytest

from pipeline.clips import ClipSpec, plan_windows
from pipeline.decode import cut_clips
from pipeline.errors import StageError
from pipeline.probe import parse_probe, probe
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
