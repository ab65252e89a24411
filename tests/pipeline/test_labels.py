"""Labelled data through the shard builder: labels, spans, the split column, audio-only inputs.

Three real builds (the Beam DirectRunner, real ffmpeg): a single-label JSONL manifest with
spans, split overrides and a wav kept by --allow-audio-only; a multi-label CSV manifest where
a wav without the flag stays a failure; and ESC-50's CSV read by the `esc50:` reader. Every
sample is read back from the tars, and once with plain webdataset (`cls` decodes to an int).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.clips import ClipSpec, plan_windows
from pipeline.labels import LabelCollector, LabelSpace, parse_label
from pipeline.manifest import ManifestProblem, ManifestRow, read_manifest
from pipeline.synth import media as ms
from tests.pipeline.conftest import (
    STEP,
    decode_flac,
    decode_mp4,
    dominant_hz,
    level_at,
    run_build,
    tone_at,
    write_clock_video,
    write_manifest,
)
from tests.pipeline.test_build import VTT, read_tar
from vattclips.keys import sanitize_id


def _tone_wav(path: Path, seconds: float, hz: float, rate: int = 44100) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    return ms.write_wav(path, 0.5 * np.sin(2 * np.pi * hz * t), rate)


def _samples(out: Path) -> dict[str, dict]:
    samples: dict[str, dict] = {}
    for shard in sorted((out / "shards").glob("*.tar")):
        for key, s in read_tar(shard).items():
            s["json"] = json.loads(s["json"])
            samples[key] = s
    return samples


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("labelled")
    write_clock_video(d / "clock.mp4")  # 12.8 s; grey level and tone step every 0.8 s
    (d / "clock.vtt").write_text(VTT)  # cues "step k words" every 1.6 s
    _tone_wav(d / "tone.wav", 7.0, 660.0)
    return d


# ---- build 1: single-label, spans, split column, audio-only kept -----------------------------


@pytest.fixture(scope="module")
def single(corpus):
    clock = str(corpus / "clock.mp4")
    rows = [
        {"id": "span", "video": clock, "captions": "clock.vtt", "label": "red", "start": 2.5,
         "end": 9.3, "split": "val"},
        {"id": "whole", "video": clock, "label": "blue", "split": "train"},
        {"id": "head", "video": clock, "label": "red", "end": 3.3},
        {"id": "tail", "video": clock, "start": 9.0},  # unlabelled row of a labelled dataset
        {"id": "late", "video": clock, "label": "green", "start": 20},  # fails; its label stays
        {"id": "short", "video": clock, "label": "red", "start": 4.0, "end": 6.0},
        {"id": "badsplit", "video": clock, "label": "purple", "split": "test"},
        {"id": "badspan", "video": clock, "start": 5, "end": 4},
        {"id": "tone", "video": "tone.wav", "label": "dog"},
    ]  # fmt: skip
    manifest = write_manifest(corpus / "single.jsonl", rows)
    out = corpus / "out-single"
    run_build(manifest, out, "--allow-audio-only", "--asr", "none")
    return {"out": out, "samples": _samples(out)}


def test_label_list_is_the_sorted_set_over_the_whole_manifest(single):
    ds = json.loads((single["out"] / "dataset.json").read_text())
    assert ds["schema"] == "vatt-clips/2"
    # "green" is the label of a row that failed to decode: the list depends on the manifest
    # only, not on which videos succeeded; "purple" was on a malformed row, which is no input
    assert ds["labels"] == ["blue", "dog", "green", "red"] and ds["multi_label"] is False


def test_every_clip_carries_its_rows_label_name_index_and_cls(single):
    labels = ["blue", "dog", "green", "red"]
    expected = {"span": "red", "whole": "blue", "head": "red", "tone": "dog", "tail": None}
    seen = set()
    for key, s in single["samples"].items():
        meta, vid = s["json"], s["json"]["video_id"]
        seen.add(vid)
        if expected[vid] is None:
            assert "label" not in meta and "label_index" not in meta and "cls" not in s, key
            continue
        assert meta["label"] == expected[vid], key
        assert meta["label_index"] == labels.index(expected[vid]), key
        assert s["cls"] == str(labels.index(expected[vid])).encode(), key
    assert seen == set(expected)
    index = pd.read_parquet(single["out"] / "index.parquet")
    by_key = {r.key: list(r.labels) for r in index.itertuples()}
    assert by_key["span_00001"] == ["red"] and by_key["tail_00000"] == []


def test_clips_are_cut_inside_the_span_in_source_time(single):
    s = single["samples"]
    span = sorted(k for k in s if k.startswith("span_"))
    # span 2.5-9.3 s: 6.8 s holds two whole 3.2 s windows, starting at the span's start
    assert [(s[k]["json"]["start"], s[k]["json"]["end"]) for k in span] == [
        (2.5, 5.7),
        (5.7, 8.9),
    ]
    assert [s[k]["json"]["start"] for k in sorted(k for k in s if k.startswith("head_"))] == [0.0]
    assert [s[k]["json"]["start"] for k in sorted(k for k in s if k.startswith("tail_"))] == [9.0]
    checked = 0
    for k in span:
        meta = s[k]["json"]
        for j, frame in enumerate(decode_mp4(s[k]["mp4"])):
            t = meta["start"] + j / 10  # the frame's time in the source
            if abs(t / STEP - round(t / STEP)) * STEP < 0.06:
                continue  # within a frame of a step boundary: either side is right
            assert abs(float(frame.mean()) - level_at(t)) < 5, (k, j, t)
            checked += 1
        pcm, rate = decode_flac(s[k]["flac"])
        first = int(np.ceil(meta["start"] / STEP))
        for m in range(first, int(meta["end"] // STEP)):  # steps wholly inside the clip
            a = int((m * STEP + 0.1 - meta["start"]) * rate)
            hz = dominant_hz(pcm[a : a + int(0.6 * rate)], rate)
            assert abs(hz - tone_at(m * STEP + 0.4)) < 10, (k, m, hz)
    assert checked > 50
    # captions are looked up at the clip's source times: 2.5-5.7 overlaps cues 1, 2 and 3
    first = s["span_00000"]["json"]
    assert [x["text"] for x in first["segments"]] == [f"step {k} words" for k in (1, 2, 3)]
    assert s["span_00000"]["txt"] == b"step 1 words step 2 words step 3 words"


def test_split_column_overrides_the_hash_split(single):
    index = pd.read_parquet(single["out"] / "index.parquet")
    split = dict(index.groupby("video_id").split.first())
    assert split["span"] == "val" and split["whole"] == "train"
    ds = json.loads((single["out"] / "dataset.json").read_text())
    assert ds["counts"]["samples_by_split"]["val"] >= 2


def test_audio_only_input_with_the_flag_becomes_audio_only_samples(single):
    tone = {k: v for k, v in single["samples"].items() if k.startswith("tone_")}
    assert sorted(tone) == ["tone_00000", "tone_00001"]  # 7 s: two 3.2 s windows
    for key, s in tone.items():
        meta = s["json"]
        assert "mp4" not in s and meta["has_video"] is False and meta["has_audio"] is True
        assert (meta["frames"], meta["width"], meta["height"]) == (0, 0, 0)
        assert meta["probe"]["video_codec"] is None and meta["probe"]["format"] == "wav"
        pcm, rate = decode_flac(s["flac"])
        assert (len(pcm), rate) == (153_600, 48_000)
        assert abs(dominant_hz(pcm, rate) - 660.0) < 5, key
    others = [s for k, s in single["samples"].items() if not k.startswith("tone_")]
    assert all(s["json"]["has_video"] is True and "mp4" in s for s in others)
    index = pd.read_parquet(single["out"] / "index.parquet")
    assert set(index[~index.has_video].video_id) == {"tone"}


def test_contact_sheet_of_an_audio_only_clip(single, tmp_path):
    from pipeline.viewers.contact_sheet import SheetConfig, write_contact_sheet

    png = tmp_path / "tone.png"
    sheet = write_contact_sheet(str(single["out"]), str(png), key="tone_00001",
                                cfg=SheetConfig(frames=4))  # fmt: skip
    assert sheet.keys == ["tone_00001"] and len(sheet.waves) == 1
    assert png.read_bytes().startswith(b"\x89PNG")


def test_bad_spans_and_splits_are_failures_with_reasons(single):
    failures = pd.read_parquet(single["out"] / "failures.parquet")
    why = {(r.stage, r.video_id or r.line): r.error for r in failures.itertuples()}
    assert "span starts at 20s, after the end of the 12.80s video" in why["plan", "late"]
    assert "span 4-6s of the 12.80s video is shorter than one clip" in why["plan", "short"]
    assert "'split' must be 'train' or 'val', got 'test'" in why["manifest", 7]
    assert "'end' (4) must be after 'start' (5)" in why["manifest", 8]
    assert len(failures) == 4


def test_labelled_shards_read_back_with_plain_webdataset(single):
    import webdataset as wds

    urls = sorted(str(p) for p in (single["out"] / "shards").glob("*.tar"))
    seen = {}
    for s in wds.WebDataset(urls, shardshuffle=False).decode():
        seen[s["__key__"]] = s
    assert set(seen) == set(single["samples"])
    assert seen["span_00000"]["cls"] == 3 and isinstance(seen["span_00000"]["cls"], int)
    assert seen["tone_00001"]["cls"] == 1 and "mp4" not in seen["tone_00001"]
    assert seen["span_00000"]["json"]["label"] == "red"
    assert "cls" not in seen["tail_00000"]


# ---- build 2: multi-label CSV manifest; audio-only without the flag ---------------------------


@pytest.fixture(scope="module")
def multi(corpus):
    clock = corpus / "clock.mp4"
    (corpus / "multi.csv").write_text(
        "video,id,label,end\n"
        f'{clock},a,"[""red"", ""circle"", ""red""]",\n'
        f"{clock},b,square,3.2\n"
        f"{clock},c,,3.2\n"
        f'tone.wav,tone,"[""dog""]",\n'
    )
    out = corpus / "out-multi"
    run_build(corpus / "multi.csv", out, "--asr", "none", "--max-clips-per-video", "2")
    return {"out": out, "samples": _samples(out)}


def test_multi_label_lists_in_json_and_no_cls(multi):
    ds = json.loads((multi["out"] / "dataset.json").read_text())
    assert ds["labels"] == ["circle", "dog", "red", "square"] and ds["multi_label"] is True
    by_video: dict[str, list[dict]] = {}
    for s in multi["samples"].values():
        assert "cls" not in s  # one int cannot hold several classes
        by_video.setdefault(s["json"]["video_id"], []).append(s["json"])
    assert sorted(by_video) == ["a", "b", "c"] and len(by_video["a"]) == 2
    assert all(
        m["label"] == ["circle", "red"] and m["label_index"] == [0, 2] for m in by_video["a"]
    )
    # a single name in a multi-label dataset is the list of that one name
    assert by_video["b"][0]["label"] == ["square"] and by_video["b"][0]["label_index"] == [3]
    assert "label" not in by_video["c"][0]


def test_audio_only_input_without_the_flag_stays_a_failure(multi):
    failures = pd.read_parquet(multi["out"] / "failures.parquet")
    (row,) = failures[failures.video_id == "tone"].itertuples()
    assert row.stage == "probe" and "audio-only file" in row.error
    assert "--allow-audio-only" in row.error and "tone.wav" in row.error


# ---- build 3: ESC-50 through its reader ---------------------------------------------------------


def test_esc50_csv_builds_audio_only_labelled_shards(tmp_path):
    (tmp_path / "meta").mkdir()
    (tmp_path / "audio").mkdir()
    esc = [  # filename, fold, target, category: sorted names differ from ESC-50's targets
        ("1-100-A-0.wav", 1, 0, "dog", 330.0),
        ("2-200-A-1.wav", 2, 1, "rooster", 880.0),
        ("1-300-A-14.wav", 1, 14, "chirping_birds", 1320.0),
    ]
    lines = ["filename,fold,target,category,esc10,src_file,take"]
    for name, fold, target, category, hz in esc:
        _tone_wav(tmp_path / "audio" / name, 5.0, hz)
        lines.append(f"{name},{fold},{target},{category},False,{name[2:5]},A")
    (tmp_path / "meta" / "esc50.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    spec = f"esc50:{tmp_path / 'meta' / 'esc50.csv'}"
    run_build(spec, out, "--allow-audio-only", "--asr", "none", "--val-fold", "2")
    ds = json.loads((out / "dataset.json").read_text())
    assert ds["labels"] == ["chirping_birds", "dog", "rooster"] and ds["input"] == spec
    samples = _samples(out)
    assert sorted(samples) == ["1-100-A-0_00000", "1-300-A-14_00000", "2-200-A-1_00000"]
    index = pd.read_parquet(out / "index.parquet")
    assert dict(zip(index.video_id, index.split)) == {
        "1-100-A-0": "train",
        "2-200-A-1": "val",
        "1-300-A-14": "train",
    }
    for name, fold, target, category, hz in esc:
        s = samples[f"{name[:-4]}_00000"]
        assert s["json"]["label"] == category and "mp4" not in s
        assert int(s["cls"]) == ds["labels"].index(category)
        assert s["json"]["meta"]["target"] == target and s["json"]["meta"]["fold"] == fold
        assert abs(dominant_hz(*decode_flac(s["flac"])) - hz) < 5


# ---- the parts, without a build ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("walking", "walking"),
        ("  air drumming ", "air drumming"),
        ("", None),
        (None, None),
        (float("nan"), None),
        (7, "7"),
        (["b", "a", "b"], ["a", "b"]),
        ('["b", "a"]', ["a", "b"]),
        ([], []),
    ],
)
def test_parse_label(cell, expected):
    assert parse_label(cell) == expected


@pytest.mark.parametrize("cell", [True, 1.5, {"a": 1}, ["a", ""], ["a", 2.0], "[broken"])
def test_parse_label_rejects_what_is_no_class_name(cell):
    with pytest.raises(ValueError, match="label"):
        parse_label(cell)


def test_label_space_fields():
    collect = LabelCollector()
    for label in ("b", None, "a", "b"):
        collect.add(label)
    space = collect.space()
    assert space == LabelSpace(("a", "b"), False)
    assert space.clip_fields("b") == ({"label": "b", "label_index": 1}, b"1")
    assert space.clip_fields(None) == ({}, None)
    assert LabelSpace.from_dict(space.to_dict()) == space
    assert LabelCollector().space() is None
    multi = LabelSpace(("a", "b", "c"), True)
    assert multi.clip_fields(["a", "c"]) == ({"label": ["a", "c"], "label_index": [0, 2]}, None)


def test_manifest_label_split_and_span_columns(tmp_path):
    (tmp_path / "m.csv").write_text(
        "video,label,split,start,end,lang\n"
        "a.mp4,run,train,1.5,11.5,en\n"
        'b.mp4,"[""x"", ""y""]",val,,,en\n'
        "c.mp4,,,,4,\n"
        "d.mp4,run,dev,,,\n"
        "e.mp4,run,,-1,,\n"
        "f.mp4,run,,ten,,\n"
    )
    a, b, c, d, e, f = read_manifest(str(tmp_path / "m.csv"))
    assert (a.label, a.split, a.start, a.end, a.meta) == ("run", "train", 1.5, 11.5, {"lang": "en"})
    assert (b.label, b.split, b.start, b.end) == (["x", "y"], "val", None, None)
    assert (c.label, c.split, c.start, c.end) == (None, None, None, 4.0)
    assert isinstance(d, ManifestProblem) and "'split' must be 'train' or 'val'" in d.error
    assert isinstance(e, ManifestProblem) and "'start' must be a number of seconds" in e.error
    assert isinstance(f, ManifestProblem) and "'ten'" in f.error


def test_plan_windows_inside_a_span():
    spec = ClipSpec()
    ws = plan_windows(12.8, spec, start=2.5, end=9.3)
    assert [(w.source_start, round(w.source_end, 6)) for w in ws] == [(2.5, 5.7), (5.7, 8.9)]
    assert [w.first_frame for w in ws] == [0, 32]  # frames count from the span's start
    assert [w.first_sample for w in ws] == [0, 153_600]
    assert len(plan_windows(12.8, spec, start=6.0, end=99.0)) == 2  # end capped at 12.8
    assert plan_windows(12.8, spec, start=13.0) == []
    assert plan_windows(12.8, spec) == plan_windows(12.8, spec, start=None, end=None)


# ---- split-file readers --------------------------------------------------------------------------


def _read(spec: str, **kwargs) -> list[ManifestRow | ManifestProblem]:
    from pipeline.split_files import SplitFileOptions, read_input

    options = SplitFileOptions(**kwargs.pop("options", {}))
    return list(read_input(spec, options=options, **kwargs))


def test_ucf101_lists(tmp_path):
    lists = tmp_path / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "classInd.txt").write_text("1 ApplyEyeMakeup\r\n2 Archery\r\n3 HandstandPushups\r\n")
    (lists / "trainlist01.txt").write_text(
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\r\n"
        "HandstandPushups/v_HandStandPushups_g08_c01.avi 3\r\n"
        "Archery/v_Archery_g09_c01.avi 9\r\n"  # no class 9
    )
    (lists / "testlist01.txt").write_text(
        "Archery/v_Archery_g01_c01.avi\r\nhandstandpushups/v_HandStandPushups_g01_c02.avi\r\n"
        "Bowling/v_Bowling_g01_c01.avi\r\n"  # no such class
    )
    (lists / "trainlist02.txt").write_text("Archery/v_Archery_g01_c01.avi 2\n")
    (lists / "testlist02.txt").write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi\n")
    root = tmp_path / "UCF-101"
    rows = _read(f"ucf101:{lists}", video_root=str(root))
    good = [r for r in rows if isinstance(r, ManifestRow)]
    assert [(r.line, r.video_id, r.label, r.split) for r in good] == [
        (1, "v_ApplyEyeMakeup_g08_c01", "ApplyEyeMakeup", "train"),
        (2, "v_HandStandPushups_g08_c01", "HandstandPushups", "train"),
        (3, "v_Archery_g01_c01", "Archery", "val"),
        (4, "v_HandStandPushups_g01_c02", "HandstandPushups", "val"),
    ]
    assert good[0].video == str(root / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g08_c01.avi")
    problems = [r.error for r in rows if isinstance(r, ManifestProblem)]
    assert len(problems) == 2
    assert "trainlist01.txt line 3: class index '9' is not in classInd.txt" in problems[0]
    assert "testlist01.txt line 3" in problems[1] and "Bowling" in problems[1]
    split2 = _read(f"ucf101:{lists}", video_root=str(root), options={"split_number": 2})
    assert [(r.video_id, r.label, r.split) for r in split2] == [
        ("v_Archery_g01_c01", "Archery", "train"),
        ("v_ApplyEyeMakeup_g08_c01", "ApplyEyeMakeup", "val"),
    ]


def test_split_file_inputs_fail_fast_with_one_line(tmp_path):
    from pipeline.manifest import ManifestError

    with pytest.raises(ManifestError, match="--video-root is required"):
        _read(f"ucf101:{tmp_path}")
    with pytest.raises(ManifestError, match=r"classInd\.txt does not exist"):
        _read(f"ucf101:{tmp_path}", video_root=str(tmp_path))
    with pytest.raises(ManifestError, match=r"no \*_test_split1\.txt files"):
        _read(f"hmdb51:{tmp_path}", video_root=str(tmp_path))
    (tmp_path / "k.csv").write_text("label,youtube_id\nx,y\n")
    with pytest.raises(ManifestError, match="no time_start, time_end column"):
        _read(f"kinetics:{tmp_path / 'k.csv'}")


def test_hmdb51_split_files(tmp_path):
    splits = tmp_path / "testTrainMulti_7030_splits"
    splits.mkdir()
    (splits / "brush_hair_test_split1.txt").write_text(
        "April_09_brush_hair_u_nm_np1_ba_goo_0.avi 1 \n"
        "Aussie_Brush_hair_u_nm_np1_fr_med_0.avi 2 \n"
        "Blonde_brush_hair_u_nm_np1_ba_goo_2.avi 0 \n"  # not used by split 1
    )
    (splits / "cartwheel_test_split1.txt").write_text(
        "(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0.avi 2\nbroken line here\n"
    )
    (splits / "cartwheel_test_split2.txt").write_text("other.avi 1\n")
    rows = _read(f"hmdb51:{splits}", video_root=str(tmp_path / "hmdb51"))
    good = [r for r in rows if isinstance(r, ManifestRow)]
    assert [(r.label, r.split) for r in good] == [
        ("brush_hair", "train"),
        ("brush_hair", "val"),
        ("cartwheel", "val"),
    ]
    odd = good[2]
    assert odd.video == str(tmp_path / "hmdb51" / "cartwheel" / Path(odd.video).name)
    assert odd.video.endswith("(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0.avi")
    assert "." not in odd.video_id and "(" not in odd.video_id  # a safe key
    (problem,) = [r for r in rows if isinstance(r, ManifestProblem)]
    assert "cartwheel_test_split1.txt line 2: expected 'NAME 0|1|2'" in problem.error


def test_kinetics_csv(tmp_path):
    csv_path = tmp_path / "kinetics400" / "validate.csv"
    csv_path.parent.mkdir()
    csv_path.write_text(
        "label,youtube_id,time_start,time_end,split,is_cc\n"
        "abseiling,--07WQ2iBlw,1,11,train,0\n"
        "air drumming,-0S0XqXS2jA,25,35,validate,0\n"
        "air drumming,-0S0XqXS2jA,x,35,validate,0\n"  # bad time
        ",zzzzzzzzzzz,3,13,test,0\n"  # unlabelled test row
    )
    rows = _read(f"kinetics:{csv_path}")
    a, b, bad, test = rows
    assert a.video == str(csv_path.parent / "--07WQ2iBlw_000001_000011.mp4")
    assert (a.video_id, a.label, a.split, a.start, a.end) == (
        sanitize_id("--07WQ2iBlw_000001_000011"),  # a leading '-' is not kept in a key
        "abseiling",
        "train",
        0.0,  # the downloaded file is the 10 s segment itself
        10.0,
    )
    assert a.meta == {"is_cc": "0", "youtube_id": "--07WQ2iBlw"}
    assert (b.label, b.split) == ("air drumming", "val")
    assert isinstance(bad, ManifestProblem)
    assert "validate.csv line 4: time_start, time_end 'x', '35'" in bad.error
    assert (test.label, test.split, test.line) == (None, "val", 5)
    # whole YouTube videos in per-class folders: the span is the segment's times in them
    pattern = "{label_dir}/{youtube_id}.mp4"
    full = _read(f"kinetics:{csv_path}", video_root="gs://bucket/k400",
                 options={"video_pattern": pattern})  # fmt: skip
    assert full[1].video == "gs://bucket/k400/air_drumming/-0S0XqXS2jA.mp4"
    assert (full[1].start, full[1].end) == (25.0, 35.0)
    assert full[1].video_id == sanitize_id("-0S0XqXS2jA_000025_000035")


def test_esc50_csv_reader(tmp_path):
    meta = tmp_path / "ESC-50-master" / "meta"
    meta.mkdir(parents=True)
    (meta / "esc50.csv").write_text(
        "filename,fold,target,category,esc10,src_file,take\n"
        "1-100032-A-0.wav,1,0,dog,True,100032,A\n"
        "5-9032-A-0.wav,5,0,dog,True,9032,A\n"
        "1-115545-C-48.wav,x,48,fireworks,False,115545,C\n"
    )
    rows = _read(f"esc50:{meta / 'esc50.csv'}", options={"val_fold": 5})
    a, b, bad = rows
    assert a.video == str(tmp_path / "ESC-50-master" / "audio" / "1-100032-A-0.wav")
    assert (a.video_id, a.label, a.split, b.split) == ("1-100032-A-0", "dog", "train", "val")
    assert a.meta["fold"] == 1 and a.meta["target"] == 0 and a.meta["esc10"] == "True"
    assert isinstance(bad, ManifestProblem) and "line 4: fold 'x'" in bad.error


def test_input_spec_parsing():
    from pipeline.split_files import SplitFileOptions, split_input

    assert split_input("ucf101:/data/lists") == ("ucf101", "/data/lists")
    assert split_input("Kinetics:gs://b/k/train.csv") == ("kinetics", "gs://b/k/train.csv")
    assert split_input("gs://b/manifest.jsonl") == (None, "gs://b/manifest.jsonl")
    assert split_input("data/m.csv") == (None, "data/m.csv")
    with pytest.raises(ValueError, match="unknown: fps"):
        SplitFileOptions(video_pattern="{youtube_id}_{fps}.mp4")
    with pytest.raises(ValueError, match="split-number"):
        SplitFileOptions(split_number=4)
