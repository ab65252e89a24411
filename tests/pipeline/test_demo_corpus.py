"""The demo corpus and the synthetic-media helpers, checked on the real ffmpeg output.

Every property is read back from the files with ffprobe / ffmpeg decoding: durations, audio
presence, rotation, variable frame rate, 5.1, 8 kHz, WebM, the colour and motion of the shape in
decoded frames, the pitch of the tone in decoded audio, and the captions through the pipeline's
own caption parser.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from pipeline.captions import parse_captions
from pipeline.synth import media as ms
from pipeline.synth.demo_corpus import (
    CAPTION_FORMATS,
    COLOUR_BY_NAME,
    COLOURS,
    DIRECTIONS,
    SCENE_UNIT_S,
    SHAPE_WORDS,
    SHAPES,
    plan_corpus,
    write_demo_corpus,
)
from tests.pipeline import broken_inputs as bi

# ---- reading media back ------------------------------------------------------------------------


def ffprobe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        timeout=60,
        check=True,
    )
    return json.loads(out.stdout)


def ffprobe_fails(path: Path) -> bool:
    cmd = ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)]
    proc = subprocess.run(cmd, capture_output=True, timeout=60)
    streams = json.loads(proc.stdout or b"{}").get("streams", [])
    return proc.returncode != 0 or not streams


def stream(info: dict, kind: str) -> dict | None:
    return next((s for s in info["streams"] if s["codec_type"] == kind), None)


def rotation(video: dict) -> int:
    for side in video.get("side_data_list", []):
        if "rotation" in side:
            return int(side["rotation"])
    return 0


def frame_times(path: Path) -> np.ndarray:
    cmd = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time"]
    out = subprocess.run(cmd + ["-of", "csv=p=0", str(path)], capture_output=True, check=True)
    return np.sort([float(x) for x in out.stdout.decode().split()])


def decode_frames(path: Path, fps: float = 10.0, side: int = 64) -> np.ndarray:
    """All frames at `fps`, squashed to side x side (display orientation): (T, side, side, 3)."""
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-an"]
    cmd += ["-vf", f"fps={fps},scale={side}:{side}", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    raw = subprocess.run(cmd, capture_output=True, timeout=60, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, side, side, 3)


def decode_display_frame(path: Path) -> np.ndarray:
    """The first frame at its display size (rotation applied): (H, W, 3)."""
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-frames:v", "1"]
    cmd += ["-c:v", "ppm", "-f", "image2pipe", "-"]
    raw = subprocess.run(cmd, capture_output=True, timeout=60, check=True).stdout
    _magic, dims, _maxval, pixels = raw.split(b"\n", 3)
    width, height = map(int, dims.split())
    return np.frombuffer(pixels, np.uint8).reshape(height, width, 3)


def decode_audio(path: Path, rate: int = 16000) -> np.ndarray:
    """Mono float32 samples at `rate` (ffmpeg's downmix, as the pipeline's)."""
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-vn", "-ac", "1"]
    cmd += ["-ar", str(rate), "-f", "f32le", "-"]
    raw = subprocess.run(cmd, capture_output=True, timeout=60, check=True).stdout
    return np.frombuffer(raw, np.float32)


def spectrum(x: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    mag = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.fft.rfftfreq(len(x), 1.0 / rate), mag


def dominant_frequency(x: np.ndarray, rate: int) -> float:
    freqs, mag = spectrum(x, rate)
    mag[freqs < 100] = 0  # ignore DC and rumble
    return float(freqs[np.argmax(mag)])


def _timestamp(seconds: float) -> str:
    minutes, rest = divmod(round(seconds * 1000), 60_000)
    return f"00:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def colour_fractions(img: np.ndarray) -> dict[str, float]:
    """Fraction of pixels within an RGB distance of 60 of each palette colour."""
    pix = img.reshape(-1, 3).astype(np.float32)
    return {
        c.name: float((np.linalg.norm(pix - np.array(c.rgb), axis=1) < 60).mean()) for c in COLOURS
    }


def colour_centroid(img: np.ndarray, colour: str) -> np.ndarray:
    dist = np.linalg.norm(img.astype(np.float32) - np.array(COLOUR_BY_NAME[colour].rgb), axis=2)
    ys, xs = np.nonzero(dist < 60)
    return np.array([xs.mean(), ys.mean()])


# ---- the demo corpus ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    root = tmp_path_factory.mktemp("demo")
    manifest = write_demo_corpus(root, n_videos=6, seed=0, speech_videos=1, silent_videos=1)
    assert manifest == root / "manifest.jsonl"
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    return root, rows


def test_manifest_lists_every_video_with_its_scenes(corpus: tuple[Path, list[dict]]) -> None:
    root, rows = corpus
    assert [r["id"] for r in rows] == [f"demo_{i:03d}" for i in range(6)]
    assert sum("speech" in r["variants"] for r in rows) == 1
    assert sum("silent" in r["variants"] for r in rows) == 1
    planted = {v for r in rows for v in r["variants"]}
    assert {"rotate90", "vfr", "surround51", "audio8k", "webm"} <= planted
    for r in rows:
        assert (root / r["video"]).stat().st_size > 10_000
        # Speech videos have no captions (ASR gives their text); all others have a file.
        assert ("captions" in r) == ("speech" not in r["variants"])
        if "captions" in r:
            assert (root / r["captions"]).is_file()
        scenes = r["scenes"]
        assert scenes[0]["start"] == 0.0
        for a, b in zip(scenes, scenes[1:]):
            assert b["start"] == a["end"]  # contiguous
            assert (a["colour"], a["shape"]) != (b["colour"], b["shape"])
        for s in scenes:
            units = (s["end"] - s["start"]) / SCENE_UNIT_S
            assert math.isclose(units, round(units)) and round(units) in (1, 2)
            assert s["colour"] in COLOUR_BY_NAME and s["shape"] in SHAPES
            assert s["direction"] in DIRECTIONS and s["colour"] in s["text"]
        assert 4 * SCENE_UNIT_S - 1e-6 <= scenes[-1]["end"] <= 6 * SCENE_UNIT_S + 1e-6
    concepts = json.loads((root / "concepts.json").read_text())
    assert [c["name"] for c in concepts["colours"]] == [c.name for c in COLOURS]


def test_videos_carry_the_planted_technical_variants(corpus: tuple[Path, list[dict]]) -> None:
    root, rows = corpus
    for r in rows:
        path = root / r["video"]
        info = ffprobe(path)
        video, audio = stream(info, "video"), stream(info, "audio")
        assert video is not None, r["id"]
        duration = float(info["format"]["duration"])
        assert abs(duration - r["scenes"][-1]["end"]) < 0.15, (r["id"], duration)
        assert (audio is None) == ("silent" in r["variants"]), r["id"]
        if "rotate90" in r["variants"]:
            assert abs(rotation(video)) == 90
            # Stored landscape, shown portrait once the display matrix is applied.
            assert (video["width"], video["height"]) == (320, 240)
            assert decode_display_frame(path).shape == (320, 240, 3)
        else:
            assert rotation(video) == 0
        intervals = np.diff(frame_times(path))
        if "vfr" in r["variants"]:
            assert intervals.max() > 2 * intervals.min(), r["id"]
            assert video["r_frame_rate"] != video["avg_frame_rate"]
        else:
            # Constant rate, up to WebM's millisecond timestamps (33/34 ms at 30 fps).
            assert intervals.max() - intervals.min() < 1.5e-3, r["id"]
        if "surround51" in r["variants"]:
            assert audio["channels"] == 6 and audio["channel_layout"] == "5.1"
        if "audio8k" in r["variants"]:
            assert int(audio["sample_rate"]) == 8000
        if "webm" in r["variants"]:
            assert "webm" in info["format"]["format_name"] and path.suffix == ".webm"
            assert video["codec_name"] == "vp9"
            assert audio is None or audio["codec_name"] == "opus"
        else:
            assert video["codec_name"] == "h264" and video["pix_fmt"] == "yuv420p"
            assert audio is None or audio["codec_name"] == "aac"


def test_captions_name_the_scenes_at_the_scene_times(corpus: tuple[Path, list[dict]]) -> None:
    root, rows = corpus
    seen_formats = set()
    for r in [r for r in rows if "captions" in r]:
        path = root / r["captions"]
        raw = path.read_bytes()
        scenes = r["scenes"]
        for s in scenes:
            assert any(w in s["text"] for w in SHAPE_WORDS[s["shape"]]), s["text"]
        segments, fmt = parse_captions(raw, path.name)
        rolling = b"<c>" in raw
        seen_formats.add("vtt_rolling" if rolling else fmt)
        assert [g.text for g in segments] == [s["text"] for s in scenes], path.name
        for g, s in zip(segments, scenes):
            assert g.start == pytest.approx(s["start"], abs=1e-3)
            # A rolling caption's line ends where its 10 ms "hold" cue begins.
            assert g.end == pytest.approx(s["end"], abs=0.02 if rolling else 1e-3)
        # The raw files, independently of the parser: header, line ends, time stamps.
        stamps = [_timestamp(s[k]) for s in scenes for k in ("start", "end")]
        if fmt == "srt":  # as Windows tools write it
            assert b"\r\n" in raw and all(t.replace(".", ",").encode() in raw for t in stamps)
        if fmt == "vtt" and not rolling:
            assert raw.startswith(b"WEBVTT") and all(t.encode() in raw for t in stamps)
    assert seen_formats == set(CAPTION_FORMATS)


def test_frames_show_the_planted_colour_moving_the_planted_way(
    corpus: tuple[Path, list[dict]],
) -> None:
    root, rows = corpus
    moves = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
    for r in rows:
        frames = decode_frames(root / r["video"])  # (T, 64, 64, 3), frame k at k / 10 s
        for s in r["scenes"]:
            length = s["end"] - s["start"]
            early = frames[round((s["start"] + 0.2 * length) * 10)]
            late = frames[round((s["start"] + 0.8 * length) * 10)]
            for img in (early, late):
                fractions = colour_fractions(img)
                assert max(fractions, key=fractions.get) == s["colour"], (r["id"], s, fractions)
                assert fractions[s["colour"]] > 0.1
            # The shape crosses 30% of the frame per scene: 0.6 x 0.3 x 64 = 11.5 px here.
            shift = colour_centroid(late, s["colour"]) - colour_centroid(early, s["colour"])
            along = np.array(moves[s["direction"]])
            assert shift @ along > 7, (r["id"], s, shift)
            assert abs(shift @ along[::-1]) < 3, (r["id"], s, shift)


def test_audio_pitch_follows_the_colour(corpus: tuple[Path, list[dict]]) -> None:
    root, rows = corpus
    rate = 16000
    for r in [r for r in rows if "silent" not in r["variants"]]:
        audio = decode_audio(root / r["video"], rate)
        speech = "speech" in r["variants"]
        for s in r["scenes"]:
            tone = COLOUR_BY_NAME[s["colour"]].tone_hz
            # Speech videos: the voice comes first and the tone only after it, at the end.
            a = s["end"] - 0.25 if speech else s["start"] + 0.3
            window = audio[round(a * rate) : round((s["end"] - 0.05) * rate)]
            assert abs(dominant_frequency(window, rate) - tone) < 0.03 * tone, (r["id"], s)
            if speech:
                voice = audio[round((s["start"] + 0.3) * rate) : round((s["start"] + 1.3) * rate)]
                freqs, mag = spectrum(voice, rate)
                near_tone = np.abs(freqs - tone) < 50
                assert np.sqrt(np.mean(voice**2)) > 0.03  # loud
                assert (mag[near_tone] ** 2).sum() < 0.2 * (mag**2).sum()  # and not the tone


def test_same_seed_writes_the_same_bytes(tmp_path: Path) -> None:
    kwargs = {"n_videos": 2, "seed": 5, "speech_videos": 1, "silent_videos": 0}
    first = write_demo_corpus(tmp_path / "a", **kwargs).parent
    second = write_demo_corpus(tmp_path / "b", workers=1, **kwargs).parent
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert len(files) == 5  # manifest, concepts, 2 videos, 1 caption file
    for rel in files:
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel
    other = plan_corpus(2, seed=6, speech_videos=1, silent_videos=0)
    assert [s.scenes for s in other] != [s.scenes for s in plan_corpus(**kwargs)]


def test_corpus_sizes_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exceed n_videos"):
        write_demo_corpus(tmp_path, n_videos=3, speech_videos=2, silent_videos=2)
    assert not (tmp_path / "manifest.jsonl").exists()


# ---- synth.media ---------------------------------------------------------------------------------


def test_synth_video_rotation_vfr_and_surround(tmp_path: Path) -> None:
    path = ms.synth_video(tmp_path / "r.mp4", 2.0, rotation=90, vfr=True, channels=6)
    info = ffprobe(path)
    video, audio = stream(info, "video"), stream(info, "audio")
    assert abs(rotation(video)) == 90
    assert decode_display_frame(path).shape == (320, 240, 3)
    assert video["r_frame_rate"] != video["avg_frame_rate"]
    intervals = np.diff(frame_times(path))
    assert intervals.max() > 2 * intervals.min()
    expected = np.diff([ms.vfr_frame_time(n, 25.0) for n in range(len(intervals) + 1)])
    assert np.allclose(intervals, expected, atol=2e-4)  # the documented timestamps
    assert audio["channels"] == 6 and audio["channel_layout"] == "5.1"
    assert abs(float(info["format"]["duration"]) - 2.0) < 0.1


def test_synth_video_without_audio_and_plain_timing(tmp_path: Path) -> None:
    path = ms.synth_video(tmp_path / "silent.mp4", 1.0, width=160, height=120, audio=None)
    info = ffprobe(path)
    assert stream(info, "audio") is None
    video = stream(info, "video")
    assert (video["width"], video["height"], video["r_frame_rate"]) == (160, 120, "25/1")
    assert rotation(video) == 0
    assert len(frame_times(path)) == 25


def test_synth_video_webm_is_vp9_opus_and_reproducible(tmp_path: Path) -> None:
    a = ms.synth_video(tmp_path / "a.webm", 1.0, audio="noise", sample_rate=44100)
    b = ms.synth_video(tmp_path / "b.webm", 1.0, audio="noise", sample_rate=44100)
    info = ffprobe(a)
    assert "webm" in info["format"]["format_name"]
    assert stream(info, "video")["codec_name"] == "vp9"
    assert stream(info, "audio")["codec_name"] == "opus"
    assert int(stream(info, "audio")["sample_rate"]) == 48000  # Opus resampled
    assert a.read_bytes() == b.read_bytes()


def test_synth_speech_writes_a_spoken_wav(tmp_path: Path) -> None:
    path = ms.synth_speech("-a red circle moves left", tmp_path / "s.wav")  # leading "-" is text
    samples, rate = ms.read_wav(path)
    assert rate == 22050 and samples.ndim == 1
    assert 0.8 < len(samples) / rate < 5.0
    assert np.sqrt(np.mean(samples**2)) > 0.02
    slow = ms.synth_speech("a red circle moves left", tmp_path / "g.wav", word_gap_ms=100)
    assert len(ms.read_wav(slow)[0]) > len(samples) * 1.1


def test_write_frames_video_keeps_pixels_audio_and_display_orientation(tmp_path: Path) -> None:
    width, height, fps, rate = 96, 64, 10.0, 8000
    frame = np.zeros((height, width, 3), np.uint8)
    frame[:, : width // 2] = (220, 30, 30)  # left half red
    frame[: height // 4] = (30, 70, 220)  # top band blue
    t = np.arange(2 * rate) / rate
    tone = 0.3 * np.sin(2 * np.pi * 1000.0 * t).astype(np.float32)
    path = ms.write_frames_video(
        tmp_path / "f.mp4", (frame for _ in range(20)), fps, (width, height), tone, rate,
        rotation=270,
    )  # fmt: skip
    info = ffprobe(path)
    video, audio = stream(info, "video"), stream(info, "audio")
    assert (video["width"], video["height"]) == (height, width)  # stored turned
    assert abs(rotation(video)) == 90 and len(frame_times(path)) == 20
    shown = decode_display_frame(path).astype(int)
    assert shown.shape == frame.shape
    assert np.abs(shown - frame).mean() < 6  # the player shows what we drew
    assert audio["codec_name"] == "aac" and int(audio["sample_rate"]) == rate
    assert abs(dominant_frequency(decode_audio(path, rate)[2000:10000], rate) - 1000.0) < 10


def test_write_frames_video_rejects_bad_frames(tmp_path: Path) -> None:
    bad = [np.zeros((10, 10, 3), np.uint8)]
    with pytest.raises(ValueError, match=r"frame 0 .*expected \(64, 96, 3\)"):
        ms.write_frames_video(tmp_path / "x.mp4", bad, 10.0, (96, 64))


def test_ffmpeg_failure_names_the_output_and_quotes_ffmpeg(tmp_path: Path) -> None:
    with pytest.raises(ms.ToolError, match=r"(?s)no_codec\.mp4.*Unknown encoder 'nope'"):
        ms.synth_video(tmp_path / "no_codec.mp4", 1.0, vcodec="nope")
    frames = (np.zeros((64, 96, 3), np.uint8) for _ in range(5))
    with pytest.raises(ms.ToolError, match="Unknown encoder 'nope'"):
        ms.write_frames_video(tmp_path / "y.mp4", frames, 10.0, (96, 64), vcodec="nope")
    with pytest.raises(ValueError, match="rotation"):
        ms.synth_video(tmp_path / "r.webm", 1.0, rotation=90)


def test_bad_inputs_are_the_kind_of_bad_promised(tmp_path: Path) -> None:
    good = ms.synth_video(tmp_path / "good.mp4", 2.0)
    zero = bi.make_zero_byte_file(tmp_path / "zero.mp4")
    text = bi.make_text_file_as_video(tmp_path / "page.mp4")
    cut = bi.make_truncated_video(good, tmp_path / "cut.mp4")
    assert zero.stat().st_size == 0
    assert cut.stat().st_size == good.stat().st_size // 2
    for broken in (zero, text, cut):
        assert ffprobe_fails(broken), broken.name
    only_audio = bi.make_audio_only_video(tmp_path / "song.mp4")
    info = ffprobe(only_audio)
    assert stream(info, "video") is None and stream(info, "audio") is not None

    hostile = bi.make_hostile_name_video(tmp_path)
    assert hostile.name == bi.HOSTILE_NAME == "a b;$(touch x)'\"&.mp4"
    assert hostile.is_file() and stream(ffprobe(hostile), "video") is not None
    # Had a shell seen the name, `touch x` would have made a file x next to it.
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["good.mp4", "zero.mp4", "page.mp4", "cut.mp4", "song.mp4", bi.HOSTILE_NAME]
    )
