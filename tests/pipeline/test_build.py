"""The real Beam pipeline on generated videos: every sample checked, every input accounted for."""

from __future__ import annotations

import io
import json
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.synth import media as ms
from pipeline.wer import word_error_rate
from tests.pipeline import broken_inputs as bi
from tests.pipeline.conftest import (
    decode_flac,
    decode_mp4,
    dominant_hz,
    level_at,
    run_build,
    tone_at,
    write_clock_video,
    write_manifest,
)
from vattclips.keys import sanitize_id
from vattclips.words import WORD_COUNTS_FILE, WordCounts, split_words

VTT = "WEBVTT\n\n" + "".join(
    f"00:00:{1.6 * k:06.3f} --> 00:00:{1.6 * (k + 1):06.3f}\nstep {k} words\n\n" for k in range(8)
)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    v = d / "videos"
    v.mkdir()
    (d / "clock.vtt").write_text(VTT)
    (d / "bad.vtt").write_bytes(b"\x00\x01garbage\xff")
    speech, sr = ms.read_wav(
        ms.synth_speech(
            "hello world this is a test of speech", d / "speech.wav", words_per_minute=140
        )
    )
    speech = np.concatenate([speech, np.zeros(int(sr * 4), dtype=speech.dtype)])
    frames = (np.full((120, 160, 3), 90, dtype=np.uint8) for _ in range(int(len(speech) / sr * 25)))
    hostile = bi.make_hostile_name_video(v, seconds=7.0)
    rows = [
        # `tags`: a pass-through list, empty in the first rows (as the demo's `variants`)
        {
            "id": "clock",
            "video": "videos/clock.mp4",
            "captions": "clock.vtt",
            "lang": "en",
            "tags": [],
        },
        {"id": "rot.90", "video": "videos/rot.mp4", "captions": "clock.vtt"},
        {"id": "vfr", "video": "videos/vfr.mp4"},
        {"id": "surround", "video": "videos/s51.mp4"},
        {"id": "lowrate", "video": "videos/low.mp4"},
        {"id": "webm", "video": "videos/w.webm"},
        {"id": "silent", "video": "videos/silent.mp4", "captions": "clock.vtt"},
        {"id": "speech", "video": "videos/speech.mp4", "tags": ["spoken"]},
        {"id": "badcaps", "video": "videos/clock.mp4", "captions": "bad.vtt"},
        {"id": "short", "video": "videos/short.mp4"},
        {"id": "zero", "video": "videos/zero.mp4"},
        {"id": "text", "video": "videos/text.mp4"},
        {"id": "trunc", "video": "videos/trunc.mp4"},
        {"id": "audioonly", "video": "videos/audio.mp4"},
        {"id": "missing", "video": "videos/missing.mp4"},
        {"id": "hostile", "video": str(hostile)},
    ]
    write_clock_video(v / "clock.mp4")
    write_clock_video(v / "rot.mp4", rotation=90)
    write_clock_video(v / "vfr.mp4", vfr=True)
    ms.synth_video(v / "s51.mp4", 7.0, channels=6, sample_rate=48000)
    ms.synth_video(v / "low.mp4", 7.0, sample_rate=8000)
    ms.synth_video(v / "w.webm", 7.0, container="webm")
    write_clock_video(v / "silent.mp4", no_audio=True)
    ms.write_frames_video(v / "speech.mp4", frames, 25, (160, 120), audio=speech, sample_rate=sr)
    ms.synth_video(v / "short.mp4", 2.0)
    bi.make_zero_byte_file(v / "zero.mp4")
    bi.make_text_file_as_video(v / "text.mp4")
    bi.make_truncated_video(v / "clock.mp4", v / "trunc.mp4")
    bi.make_audio_only_video(v / "audio.mp4")
    manifest = write_manifest(d / "manifest.jsonl", rows)
    with manifest.open("a") as f:
        f.write("{not json\n")
    out = d / "out"
    res = run_build(manifest, out, "--shard-samples", "4", "--val-fraction", "0.3")
    return {"dir": d, "out": out, "rows": rows, "result": res}


def read_tar(path: Path) -> dict[str, dict]:
    samples: dict[str, dict] = {}
    with tarfile.open(path) as tar:
        for m in tar.getmembers():
            key, ext = m.name.split(".", 1)
            samples.setdefault(key, {})[ext] = tar.extractfile(m).read()
    return samples


@pytest.fixture(scope="module")
def samples(built) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for shard in sorted((built["out"] / "shards").glob("*.tar")):
        for key, s in read_tar(shard).items():
            assert key not in out, f"duplicate key {key}"
            s["shard"] = f"shards/{shard.name}"
            out[key] = s
    return out


def test_job_exits_zero_with_a_summary(built):
    res = built["result"]
    assert res.returncode == 0
    assert "videos: 17 in, 10 ok, 7 failed" in res.stdout
    assert "progress: videos" in res.stderr


def test_every_input_is_in_the_shards_or_the_failures(built):
    index = pd.read_parquet(built["out"] / "index.parquet")
    failures = pd.read_parquet(built["out"] / "failures.parquet")
    good = ["clock", "rot.90", "vfr", "surround", "lowrate", "webm", "silent", "speech"]
    assert set(index.video_id) == {sanitize_id(i) for i in good + ["badcaps", "hostile"]}
    stage = {r.video_id: r.stage for r in failures.itertuples() if r.stage != "captions"}
    assert stage == {
        "short": "plan",
        "zero": "fetch",
        "text": "probe",
        "trunc": "probe",
        "audioonly": "probe",
        "missing": "fetch",
        "": "manifest",
    }
    # the unreadable captions are reported, and the video still became samples
    caps = failures[failures.stage == "captions"]
    assert list(caps.video_id) == ["badcaps"] and "bad.vtt" in caps.error.iloc[0]
    audio_only = failures[failures.video_id == "audioonly"].error.iloc[0]
    assert "audio-only file" in audio_only and "--allow-audio-only" in audio_only
    bad_line = failures[failures.stage == "manifest"].iloc[0]
    assert bad_line.line == 17 and "json" in bad_line.error.lower()
    for r in failures.itertuples():
        assert r.error and r.source, r


def test_every_sample_has_exact_frames_samples_and_metadata(built, samples):
    index = pd.read_parquet(built["out"] / "index.parquet")
    assert sorted(samples) == sorted(index.key)
    assert len(samples) == len(index)
    for key, s in samples.items():
        meta = json.loads(s["json"])
        assert meta["schema"] == "vatt-clips/2" and meta["key"] == key
        assert meta["has_video"] is True and "label" not in meta and "cls" not in s
        assert key == f"{meta['video_id']}_{meta['clip']:05d}" and "." not in key
        frames = decode_mp4(s["mp4"])
        assert len(frames) == 32, key
        assert frames[0].shape == (meta["height"], meta["width"])
        assert min(meta["height"], meta["width"]) == 256
        assert meta["end"] - meta["start"] == pytest.approx(3.2)
        if meta["has_audio"]:
            pcm, rate = decode_flac(s["flac"])
            assert (len(pcm), rate) == (153_600, 48_000), key
        else:
            assert "flac" not in s
        row = index[index.key == key].iloc[0]
        assert row.shard == s["shard"] and row.has_audio == meta["has_audio"]
        assert s["txt"].decode() == " ".join(x["text"] for x in meta["segments"])


def test_clips_are_aligned_with_the_source_in_picture_and_sound(samples):
    checked = 0
    for s in samples.values():
        meta = json.loads(s["json"])
        if meta["video_id"] not in ("clock", "vfr", "silent"):
            continue
        frames = decode_mp4(s["mp4"])
        for j, f in enumerate(frames):
            t = meta["start"] + j / 10
            if abs(t / 0.8 - round(t / 0.8)) * 0.8 < 0.06:
                continue  # within a frame of a step boundary: either side is right
            assert abs(float(f.mean()) - level_at(t)) < 5, (meta["key"], j)
            checked += 1
        if meta["has_audio"]:
            pcm, rate = decode_flac(s["flac"])
            for k in range(4):  # the 0.8 s blocks of the clip, their middle 0.4 s
                a = int((k * 0.8 + 0.2) * rate)
                hz = dominant_hz(pcm[a : a + int(0.4 * rate)], rate)
                assert abs(hz - tone_at(meta["start"] + k * 0.8 + 0.4)) < 10, (meta["key"], k, hz)
    assert checked > 200


def test_captions_and_neighbours_follow_the_clip_window(samples):
    s = samples["clock_00001"]  # 3.2-6.4 s; cues every 1.6 s
    meta = json.loads(s["json"])
    assert [x["text"] for x in meta["segments"]] == ["step 2 words", "step 3 words"]
    assert [x["text"] for x in meta["neighbors"]] == [f"step {k} words" for k in (0, 1, 2, 3, 4)]
    assert meta["text_source"] == "captions:vtt"
    assert meta["meta"] == {"lang": "en", "tags": []}
    assert meta["probe"]["width"] == 160 and meta["probe"]["audio_codec"] == "aac"


def test_word_counts_are_those_of_the_train_shards_captions(built, samples):
    # Recount from the shards: each video's distinct captions (segments and neighbours) once.
    captions: dict[str, set[tuple]] = {}
    for s in samples.values():
        if s["shard"].startswith("shards/train-"):
            meta = json.loads(s["json"])
            seen = captions.setdefault(meta["video_id"], set())
            seen.update((c["start"], c["end"], c["text"]) for c in meta["segments"])
            seen.update((c["start"], c["end"], c["text"]) for c in meta["neighbors"])
    want = Counter(w for caps in captions.values() for c in caps for w in split_words(c[2]))
    counts = WordCounts.from_json((built["out"] / WORD_COUNTS_FILE).read_bytes())
    assert want and dict(counts.words) == want  # the demo's vocabulary is below the cut
    assert counts.words == sorted(want.items(), key=lambda wc: (-wc[1], wc[0]))
    assert counts.tokens == sum(want.values()) and counts.distinct == len(want)
    assert counts.videos == len(captions)  # every train video, with captions or not
    assert counts.captions == sum(len(c) for c in captions.values())
    assert counts.videos_without_counts == 0 and counts.rule == "vatt-words/1"


def test_rotation_vfr_surround_low_rate_webm_and_no_audio(samples):
    by_video: dict[str, list[dict]] = {}
    for s in samples.values():
        meta = json.loads(s["json"])
        by_video.setdefault(meta["video_id"].split("-")[0], []).append(meta)
    rot = by_video["rot"][0]
    # stored as 120x160 with a 90-degree display matrix: shown (and cut) as 160x120 landscape
    assert (rot["width"], rot["height"]) == (342, 256)
    assert rot["probe"]["rotation"] in (90, 270)
    assert len(by_video["vfr"]) == 4
    assert by_video["surround"][0]["probe"]["audio_channels"] == 6
    assert by_video["surround"][0]["has_audio"]
    assert by_video["lowrate"][0]["probe"]["audio_sample_rate"] == 8000
    assert by_video["webm"][0]["probe"]["video_codec"] == "vp9"
    assert all(not m["has_audio"] for m in by_video["silent"])


def test_videos_without_captions_get_asr_text(samples):
    metas = [json.loads(s["json"]) for s in samples.values()]
    speech = [m for m in metas if m["video_id"] == "speech"]
    # `--asr auto`: faster-whisper with the packaged tiny.en model
    assert speech and all(m["text_source"] == "asr:faster-whisper:tiny.en" for m in speech)
    heard = " ".join(x["text"] for x in speech[0]["neighbors"])
    assert word_error_rate("hello world this is a test of speech", heard) < 0.4, heard
    # captions, when given, win over ASR
    assert all(m["text_source"] == "captions:vtt" for m in metas if m["video_id"] == "clock")


def test_hostile_file_names_are_data_not_commands(built, samples):
    assert not (Path.cwd() / "x").exists() and not (built["dir"] / "videos" / "x").exists()
    assert any(k.startswith("hostile_") for k in samples)


def test_shards_roll_over_and_splits_hold_whole_videos(built, samples):
    ds = json.loads((built["out"] / "dataset.json").read_text())
    assert ds["schema"] == "vatt-clips/2" and "labels" not in ds  # unlabelled
    assert all(s["samples"] <= 4 for s in ds["shards"])
    assert sum(s["samples"] for s in ds["shards"]) == len(samples) == ds["counts"]["samples"]
    for s in ds["shards"]:
        p = built["out"] / s["name"]
        assert p.stat().st_size == s["bytes"]
        assert Path(s["name"]).name.startswith(s["split"] + "-")
    index = pd.read_parquet(built["out"] / "index.parquet")
    assert (index.groupby("video_id").split.nunique() == 1).all()
    # clips of one video are spread: shards mix videos, and a video spans several shards
    assert index.groupby("shard").video_id.nunique().max() >= 3
    assert index[index.video_id == "clock"].shard.nunique() >= 3
    assert set(index.split) == {"train", "val"}
    assert not list((built["out"]).rglob("*.tmp-*"))
    assert not list((built["out"] / "_work" / "videos").glob("*.tar"))  # spills cleaned


def test_shards_read_back_with_plain_webdataset_and_hf_datasets(built, samples):
    import webdataset as wds

    urls = sorted(str(p) for p in (built["out"] / "shards").glob("*.tar"))
    seen = {}
    for s in wds.WebDataset(urls, shardshuffle=False).decode():
        seen[s["__key__"]] = s
    assert set(seen) == set(samples)
    assert isinstance(seen["clock_00000"]["json"], dict) and seen["clock_00000"]["txt"].startswith(
        "step"
    )
    # Hugging Face datasets, both modes, on the pinned versions: media as bytes (no
    # torchcodec), the documented json fields typed, a typed pass-through column kept
    from datasets import List, Value

    from train.hf_datasets import load_clips

    meta = {"lang": Value("string"), "tags": List(Value("string"))}
    for split in ("train", "val"):
        hf = load_clips(str(built["out"]), split, meta=meta)
        streamed = list(load_clips(str(built["out"]), split, streaming=True))
        assert [r["__key__"] for r in streamed] == hf["__key__"]
        keys = {k for k, s in samples.items() if s["shard"].startswith(f"shards/{split}-")}
        assert set(hf["__key__"]) == keys
    rows = {r["__key__"]: r for r in load_clips(str(built["out"]), "train", True, meta)}
    rows.update({r["__key__"]: r for r in load_clips(str(built["out"]), "val", meta=meta)})
    row = rows["clock_00001"]
    assert row["json"]["clip"] == 1 and row["txt"] == "step 2 words step 3 words"
    assert (
        row["json"]["meta"] == {"lang": "en", "tags": []} and row["json"]["probe"]["width"] == 160
    )
    assert rows["speech_00000"]["json"]["meta"] == {"lang": None, "tags": ["spoken"]}
    assert row["json"]["neighbors"][0]["text"].startswith("step")
    assert isinstance(row["mp4"], bytes) and len(decode_mp4(row["mp4"])) == 32
    assert decode_flac(row["flac"])[1] == 48000
    assert rows["silent_00000"]["flac"] is None and not rows["silent_00000"]["json"]["has_audio"]


def test_rerun_on_a_finished_output_changes_nothing(built):
    before = {p: p.read_bytes() for p in (built["out"] / "shards").glob("*.tar")}
    index = pd.read_parquet(built["out"] / "index.parquet")
    manifest = built["dir"] / "manifest.jsonl"
    run_build(manifest, built["out"], "--shard-samples", "4", "--val-fraction", "0.3")
    after = {p: p.read_bytes() for p in (built["out"] / "shards").glob("*.tar")}
    assert before == after
    pd.testing.assert_frame_equal(index, pd.read_parquet(built["out"] / "index.parquet"))


def test_other_options_on_the_same_output_are_refused(built):
    manifest = built["dir"] / "manifest.jsonl"
    res = run_build(manifest, built["out"], "--shard-samples", "5", check=False)
    assert res.returncode == 2
    assert "other options" in res.stderr and "shard_samples" in res.stderr


def test_unreadable_manifest_is_a_clear_configuration_error(tmp_path):
    res = run_build(tmp_path / "nope.jsonl", tmp_path / "out", check=False)
    assert res.returncode == 2
    assert "nope.jsonl" in res.stderr and "Traceback" not in res.stderr
    res = run_build(tmp_path / "m.txt", tmp_path / "out2", check=False)
    assert res.returncode == 2


def test_tar_members_are_plain_webdataset_layout(built):
    shard = sorted((built["out"] / "shards").glob("*.tar"))[0]
    with tarfile.open(shard) as tar:
        names = tar.getnames()
        assert all(m.mtime == 0 for m in tar.getmembers())
    keys = [n.split(".", 1)[0] for n in names]
    firsts = [k for i, k in enumerate(keys) if i == 0 or keys[i - 1] != k]
    assert len(firsts) == len(set(firsts))  # one sample's members together
    assert {n.split(".", 1)[1] for n in names} <= {"mp4", "flac", "txt", "json"}
    assert io.BytesIO(shard.read_bytes()).getbuffer().nbytes % 512 == 0


def test_model_inputs_of_a_video_file_equal_those_of_its_shard_sample(built, samples):
    """train.inputs.model_inputs cuts a file as the builder did: the same tensors as its
    clip read back from the shards (a WebDataset sample, or a `datasets` row)."""
    import torch

    from model import VattModel, get_config, train_word_tokenizer
    from train.hf_datasets import load_clips
    from train.inputs import model_inputs

    tok = train_word_tokenizer([f"step {k} words" for k in range(8)], vocab_size=32)
    cfg = get_config("tiny", vocab_size=32)
    sample = {k: v for k, v in samples["clock_00001"].items() if k != "shard"}
    from_shard = model_inputs(sample, cfg, tok)
    from_file = model_inputs(str(built["dir"] / "videos" / "clock.mp4"), cfg, tok, start=3.2)
    assert from_shard["video"].shape == (1, 3, 16, 112, 112)
    assert from_shard["audio"].shape == (1, 51200) and from_shard["text_ids"].shape == (1, 5, 16)
    assert torch.equal(from_shard["video"], from_file["video"])
    assert torch.equal(from_shard["audio"], from_file["audio"])
    assert from_shard["video"].min() >= -1 and from_shard["video"].max() <= 1
    rows = {r["__key__"]: r for s in ("train", "val") for r in load_clips(str(built["out"]), s)}
    from_row = model_inputs(rows["clock_00001"], cfg, tok)
    assert all(torch.equal(from_shard[k], from_row[k]) for k in from_shard)
    queries = model_inputs(sample, cfg, tok, texts=["step 2 words", "nothing known"])
    assert queries["text_ids"].shape == (2, 16)
    with torch.no_grad():
        out = VattModel(cfg).eval()(**from_file)
    assert out["video_vt"].shape == (1, 64) and "text_vt" not in out  # no text in a bare file
