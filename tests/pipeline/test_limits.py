"""Pathological inputs meet per-video limits and become failure rows; the job goes on."""

from __future__ import annotations

import json
import tarfile

import pandas as pd

from pipeline.synth import media as ms
from tests.pipeline.conftest import run_build, write_clock_video, write_manifest


def test_too_long_too_large_and_too_many_cues_are_bounded(tmp_path):
    write_clock_video(tmp_path / "ok.mp4", seconds=6.4)
    write_clock_video(tmp_path / "long.mp4", seconds=12.8)
    ms.synth_video(tmp_path / "big.mp4", 4.0, width=640, height=480)
    cues = "".join(
        f"{i + 1}\n00:00:{i * 0.001:06.3f} --> 00:00:{i * 0.001 + 0.001:06.3f}\nw{i}\n\n"
        for i in range(3000)
    )
    (tmp_path / "many.srt").write_text(cues)
    (tmp_path / "few.srt").write_text("1\n00:00:00,000 --> 00:00:02,000\nhello\n\n")
    manifest = write_manifest(
        tmp_path / "m.jsonl",
        [
            {"id": "ok", "video": "ok.mp4", "captions": "few.srt"},
            {"id": "long", "video": "long.mp4"},
            {"id": "big", "video": "big.mp4"},
            {"id": "cues", "video": "ok.mp4", "captions": "many.srt"},
        ],
    )
    out = tmp_path / "out"
    limits = ["--max-video-seconds", "10", "--max-video-pixels", "100000"]
    run_build(manifest, out, *limits, "--max-caption-cues", "2000", "--asr", "none")
    failures = pd.read_parquet(out / "failures.parquet").set_index("video_id")
    assert "12.8s long, over the limit of 10s" in failures.loc["long", "error"]
    assert "640x480 frames, over the limit of 100000 pixels" in failures.loc["big", "error"]
    assert failures.loc["cues", "stage"] == "captions"
    assert "3000 caption cues, over the limit of 2000" in failures.loc["cues", "error"]
    index = pd.read_parquet(out / "index.parquet")
    # the video with too many cues is still cut, without text; the ordinary one is untouched
    assert sorted(index.key) == ["cues_00000", "cues_00001", "ok_00000", "ok_00001"]
    shard = out / index.shard.iloc[0]
    with tarfile.open(shard) as t:
        meta = json.loads(t.extractfile("ok_00000.json").read())
    assert [s["text"] for s in meta["segments"]] == ["hello"]
