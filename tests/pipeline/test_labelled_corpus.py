"""The labelled demo corpus: every label is planted in the pixels and the sound of its video."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from pipeline.synth.demo_corpus import COLOUR_BY_NAME, DIRECTIONS, SHAPES
from pipeline.synth.labelled_corpus import ATTRIBUTES, plan_labelled
from tests.pipeline.conftest import ROOT
from tests.pipeline.test_demo_corpus import (
    colour_centroid,
    colour_fractions,
    decode_audio,
    decode_frames,
    dominant_frequency,
)


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> tuple[Path, list[dict]]:
    """A small labelled corpus through the CLI: 6 colours x 3 videos, 1 of them val."""
    root = tmp_path_factory.mktemp("labelled") / "corpus"
    cmd = [sys.executable, "-m", "pipeline", "demo-corpus", str(root), "--labelled"]
    cmd += ["--per-class", "3", "--val-per-class", "1"]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "labelled demo corpus written" in res.stdout
    rows = [json.loads(x) for x in (root / "manifest.jsonl").read_text().splitlines()]
    return root, rows


def test_manifest_has_labels_and_splits_per_class(labelled):
    root, rows = labelled
    assert len(rows) == 18 and len({r["id"] for r in rows}) == 18
    assert {r["label"] for r in rows} == set(ATTRIBUTES["colour"])
    per_split = Counter((r["label"], r["split"]) for r in rows)
    assert all(per_split[c, "train"] == 2 and per_split[c, "val"] == 1 for c in COLOUR_BY_NAME)
    for r in rows:
        assert r["label"] == r["colour"] and r["shape"] in SHAPES and r["direction"] in DIRECTIONS
        assert "captions" not in r and (root / r["video"]).stat().st_size > 10_000
    concepts = json.loads((root / "concepts.json").read_text())
    assert concepts["label_by"] == "colour" and concepts["classes"] == list(COLOUR_BY_NAME)


def test_each_video_shows_and_sounds_its_label(labelled):
    root, rows = labelled
    moves = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
    for r in rows:
        frames = decode_frames(root / r["video"])  # (T, 64, 64, 3) at 10 fps
        assert len(frames) == 64, r["id"]  # 6.4 s: two clips
        early, late = frames[8], frames[56]
        for img in (early, late):
            fractions = colour_fractions(img)
            assert max(fractions, key=fractions.get) == r["label"], (r["id"], fractions)
        shift = colour_centroid(late, r["colour"]) - colour_centroid(early, r["colour"])
        assert shift @ np.array(moves[r["direction"]]) > 7, (r["id"], shift)
        audio = decode_audio(root / r["video"])
        tone = COLOUR_BY_NAME[r["colour"]].tone_hz
        assert abs(dominant_frequency(audio[4000:96000], 16000) - tone) < 0.03 * tone, r["id"]


def test_same_seed_writes_the_same_bytes(labelled, tmp_path):
    from pipeline.synth.labelled_corpus import write_labelled_corpus

    first, _ = labelled
    second = write_labelled_corpus(tmp_path, per_class=3, val_per_class=1, workers=1).parent
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert len(files) == 20  # manifest, concepts, 18 videos
    for rel in files:
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel


def test_the_other_attributes_vary_within_a_class():
    videos = plan_labelled(per_class=12, val_per_class=4, label_by="colour")
    red = [v.spec.scenes[0] for v in videos if v.label == "red"]
    assert len({(s.shape, s.direction) for s in red}) == 12  # every shape x direction once
    by_shape = plan_labelled(per_class=6, val_per_class=2, label_by="shape")
    assert {v.label for v in by_shape} == set(SHAPES)
    circles = [v.spec.scenes[0] for v in by_shape if v.label == "circle"]
    assert {s.shape for s in circles} == {"circle"} and len({s.colour for s in circles}) == 6
    assert [v.split for v in by_shape[:6]] == ["train"] * 4 + ["val"] * 2
    # planned from the seed alone, apart from the pretraining corpus's videos
    again = plan_labelled(per_class=6, val_per_class=2, label_by="shape")
    assert again == by_shape and plan_labelled(6, 2, "shape", seed=1) != by_shape


def test_bad_sizes_and_attributes_are_refused():
    with pytest.raises(ValueError, match="label_by"):
        plan_labelled(label_by="size")
    with pytest.raises(ValueError, match="val_per_class"):
        plan_labelled(per_class=4, val_per_class=4)
