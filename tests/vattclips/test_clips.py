"""The public API (`vattclips.iter_clips`) on real pipeline output and on the synthetic train
shards: decoded frames and waveforms that match their source times, the MIL-NCE bag by the
builder's rule, labels, audio-only and silent samples, shares per worker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import vattclips
from tests.pipeline.conftest import dominant_hz, level_at, tone_at
from tests.train.shardgen import SMALL as SPEC
from vattclips.captions import nearest_captions
from vattclips.clips import Clip, ClipError

ROOT = Path(__file__).resolve().parents[2]


def _all(root: Path, split: str, **kw) -> dict[str, vattclips.Clip]:
    return {c.key: c for c in vattclips.iter_clips(str(root), split, **kw)}


def test_clips_of_a_real_build_show_their_source_times(built_root: Path) -> None:
    clips = _all(built_root, "train")
    assert sorted(clips) == [f"clock_{i:05d}" for i in range(4)]
    for c in clips.values():
        assert (c.video_id, c.key) == ("clock", f"clock_{c.clip:05d}")
        assert c.start == pytest.approx(3.2 * c.clip) and c.end == pytest.approx(c.start + 3.2)
        # 32 frames at 10 fps, the short side 256 (160x120 source: 342x256)
        assert c.frames.shape == (32, 256, 342, 3) and c.frames.dtype == np.uint8
        assert c.fps == 10.0 and c.has_video
        for i in (0, 15, 31):  # grey level steps every 0.8 s of the source
            t = c.start + (i + 0.5) / c.fps
            assert abs(float(c.frames[i].mean()) - level_at(t)) < 4, (c.key, i)
        assert c.waveform.dtype == np.float32 and c.waveform.shape == (153600,)
        assert c.sample_rate == 48000 and np.abs(c.waveform).max() <= 1.0
        block = c.waveform[48000 // 10 : 48000 // 10 + 4800]  # 0.1-0.2 s into the clip
        assert abs(dominant_hz(block, 48000) - tone_at(c.start + 0.15)) < 20
        # texts: the captions overlapping the window, and the K = 5 nearest as the bag
        assert c.text == " ".join(s.text for s in c.segments) != ""
        assert [n.text for n in c.neighbors] == [n["text"] for n in c.meta["neighbors"]]
        assert c.texts == [n.text for n in c.neighbors] and len(c.texts) == 5
        assert c.label == "tick" and c.label_index == 1  # labels: ["hush", "tick"]
        assert c.url.startswith(str(built_root / "shards" / "train-"))


def test_fewer_neighbours_are_the_nearest_and_frames_can_be_fewer(built_root: Path) -> None:
    c = next(vattclips.iter_clips(str(built_root), "train", neighbors=2, frames=8, audio=False))
    assert c.texts == [n["text"] for n in nearest_captions(c.meta, 2)]
    assert c.frames.shape == (8, 256, 342, 3) and c.waveform is None
    full = _all(built_root, "train")[c.key]
    assert np.array_equal(c.frames, full.frames[2::4])  # spread evenly over the clip


def test_silent_and_audio_only_samples(built_root: Path) -> None:
    clips = _all(built_root, "val")
    assert sorted(clips) == ["silent_00000", "tone_00000", "tone_00001"]
    silent = clips["silent_00000"]
    assert silent.waveform is None and silent.frames.shape[0] == 32
    assert silent.label == "hush" and silent.label_index == 0 and silent.texts == []
    tone = clips["tone_00001"]
    assert tone.frames is None and not tone.has_video and tone.meta["has_video"] is False
    assert abs(dominant_hz(tone.waveform[:9600], tone.sample_rate) - 660.0) < 20
    summary = vattclips.read_summary(str(built_root))
    assert summary["counts"]["samples_by_split"] == {"train": 4, "val": 3}


def test_worker_shares_cover_the_split_once(built_root: Path) -> None:
    shards = vattclips.list_shards(str(built_root), "train")
    assert len(shards.urls) == 2  # --shard-samples 2
    keys = [
        c.key
        for w in range(3)
        for c in vattclips.iter_clips(str(built_root), "train", video=False, worker=(w, 3))
    ]
    assert sorted(keys) == [f"clock_{i:05d}" for i in range(4)]
    with pytest.raises(ValueError, match="worker must be"):
        next(vattclips.iter_clips(str(built_root), "train", worker=(3, 3)))
    with pytest.raises(vattclips.DatasetRootError, match="no 'train' shards"):
        next(vattclips.iter_clips(str(built_root / "shards"), "train"))


def test_synthetic_shards_of_another_writer(synthetic_root: Path, labelled_root: Path) -> None:
    clips = _all(synthetic_root, "val")
    assert len(clips) == 12  # 3 val videos x 4 clips
    for c in clips.values():
        assert c.frames.shape == (SPEC.frames, SPEC.short_side, SPEC.width, 3)
        assert c.texts == [n.text for n in c.neighbors] and c.label is None
        assert (c.waveform is None) == (not c.meta["has_audio"])
        if c.waveform is not None:
            assert c.sample_rate == SPEC.sample_rate and len(c.waveform) == SPEC.samples
    assert any(c.waveform is None for c in clips.values())  # every 5th video has no audio
    labelled = _all(labelled_root, "train", video=False)
    names = json.loads((labelled_root / "dataset.json").read_text())["labels"]
    for c in labelled.values():
        assert isinstance(c.label_index, int) and names[c.label_index] == c.label
        assert c.frames is None
    assert any(not c.meta["has_video"] for c in labelled.values())  # audio-only samples


def test_a_sample_that_cannot_be_decoded_is_named() -> None:
    sample = {"__key__": "v_00001", "__url__": "s.tar", "json": b"{}", "mp4": b"garbage"}
    with pytest.raises(ClipError, match="sample 'v_00001' of s.tar: VideoDecodeError"):
        Clip.from_sample(sample)
    bare = Clip.from_sample({"__key__": "hand_made", "txt": b"a caption"})
    assert (bare.video_id, bare.clip, bare.texts, bare.frames) == ("hand", 0, ["a caption"], None)


def test_the_package_loads_no_beam_ray_torch_or_project_job() -> None:
    code = (
        "import sys, pkgutil, importlib, vattclips\n"
        "for m in pkgutil.iter_modules(vattclips.__path__): importlib.import_module('vattclips.' + m.name)\n"
        "bad = ('apache_beam', 'ray', 'torch', 'webdataset', 'pipeline', 'train', 'model')\n"
        "print(','.join(m for m in bad if m in sys.modules))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == ""


def test_the_documented_example_runs(built_root: Path) -> None:
    doc = (ROOT / "docs" / "shard-format.md").read_text()
    section = doc.split("## Reading with `vattclips`", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    code = code.replace('"gs://bucket/ds"', "root")
    scope = {"root": str(built_root), "rank": 0, "world_size": 1}
    exec(compile(code, "docs/shard-format.md", "exec"), scope)  # noqa: S102 - our own doc
    assert scope["clip"].video_id == "clock"  # the loop ran over the split
    assert next(scope["clips"]).frames.shape == (16, 256, 342, 3)
