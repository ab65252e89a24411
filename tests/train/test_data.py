"""The data path on real tars, real H.264 and real FLAC: shapes, ranges, masks, splitting,
corrupt data, clip spreading."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections import Counter
from pathlib import Path

import fsspec
import numpy as np
import pytest
import torch
import webdataset as wds

from tests.train.conftest import SPEC
from tests.train.shardgen import (
    FixtureSpec,
    make_sample,
    truncate,
    write_layout_dataset,
    write_tar,
)
from train.augment import (
    AugmentConfig,
    augment_preset,
    center_crop,
    color_jitter_affine,
    finalize_video,
    identity_affine,
    random_resized_crop,
)
from train.data import (
    ClipStream,
    LoaderConfig,
    Source,
    batches_per_worker,
    expected_pairs_uniform,
    make_loader,
    same_video_pairs,
)
from train.sample import SubWindow, decode_sample, sub_window
from train.stream import NoReadableDataError
from train.text import neighbor_texts, tokenize_bag
from vattclips.audio import decode_waveform
from vattclips.dataset import list_shards
from vattclips.video import decode_clip


def _batches(root: str, spec, tokenizer, train: bool, n: int | None = None, **cfg):
    urls = list_shards(root, "train" if train else "val").urls
    stream = ClipStream(urls, spec, tokenizer, LoaderConfig(**cfg), train=train)
    return list(make_loader(stream, n if train else None))


def test_random_resized_crop_stays_in_the_frame_and_in_range() -> None:
    rng = np.random.default_rng(0)
    cfg = AugmentConfig()
    areas, aspects = [], []
    for _ in range(500):
        box = random_resized_crop(342, 256, rng, cfg)
        assert 0 <= box.x and box.x + box.width <= 342
        assert 0 <= box.y and box.y + box.height <= 256
        areas.append(box.width * box.height / (342 * 256))
        aspects.append(box.width / box.height)
    assert 0.07 <= min(areas) and max(areas) <= 1.0
    assert 0.45 <= min(aspects) and max(aspects) <= 2.2
    assert np.std(areas) > 0.1  # really random


def test_color_jitter_keeps_grey_grey_under_hue_and_saturation() -> None:
    cfg = AugmentConfig(brightness=0.0, contrast=0.0, saturation=0.4, hue=0.2)
    rng = np.random.default_rng(1)
    grey = np.array([0.5, 0.5, 0.5])
    for _ in range(20):
        affine = color_jitter_affine(grey, rng, cfg)
        out = affine[:, :3] @ grey + affine[:, 3]
        np.testing.assert_allclose(out, grey, atol=1e-5)
    red = np.array([0.9, 0.1, 0.1])
    changed = color_jitter_affine(grey, rng, cfg)[:, :3] @ red
    assert not np.allclose(changed, red, atol=1e-3)


def test_finalize_video_scales_to_minus_one_one() -> None:
    video = torch.tensor([0, 255, 128], dtype=torch.uint8).repeat(1, 3, 1, 1, 1)  # (1, 3, 1, 1, 3)
    out = finalize_video(video, torch.from_numpy(identity_affine())[None])
    assert torch.allclose(out[0, 0, 0, 0], torch.tensor([-1.0, 1.0, 128 / 127.5 - 1]), atol=1e-6)
    bright = torch.from_numpy(identity_affine())[None].clone()
    bright[:, :, 3] = 0.5
    assert finalize_video(video, bright).max() == 1.0  # clipped, never above


def test_training_batches_have_the_model_geometry(any_root: str, spec, tokenizer) -> None:
    batches = _batches(any_root, spec, tokenizer, True, 6, batch_size=4, num_workers=0)
    assert len(batches) == 6
    assert sum(b["corrupt_samples"] + b["corrupt_shards"] for b in batches) == 0
    b = batches[0]
    t, s, k, n = spec.video_frames, spec.video_size, spec.num_neighbors, spec.text_max_tokens
    assert b["video"].shape == (4, 3, t, s, s) and b["video"].dtype == torch.uint8
    assert b["video_affine"].shape == (4, 3, 4)
    assert b["audio"].shape == (4, spec.audio_samples) and b["audio"].dtype == torch.float32
    assert b["text_ids"].shape == (4, k, n) and b["text_ids"].dtype == torch.int64
    assert b["text_mask"].shape == (4, k) and b["audio_mask"].shape == (4,)
    video = finalize_video(b["video"], b["video_affine"])
    assert video.min() >= -1.0 and video.max() <= 1.0 and video.std() > 0.05
    assert torch.isfinite(b["audio"]).all() and b["audio"].abs().max() <= 1.1
    assert torch.equal(b["text_mask"], (b["text_ids"] != 0).any(-1))
    assert (b["text_ids"] < len(tokenizer)).all()
    assert b["audio"][~b["audio_mask"]].abs().sum() == 0


def test_absent_audio_is_zeros_with_a_false_mask(synthetic_root: Path, spec, tokenizer) -> None:
    clips = {}
    for b in _batches(str(synthetic_root), spec, tokenizer, False, batch_size=4, num_workers=0):
        for i, key in enumerate(b["key"]):
            clips[key] = (b["audio"][i], bool(b["audio_mask"][i]))
    metas = {k: json.loads(make_sample(SPEC, int(k[3:6]), int(k[-5:]))["json"]) for k in clips}
    assert any(not m["has_audio"] for m in metas.values())
    for key, (audio, mask) in clips.items():
        assert mask == metas[key]["has_audio"]
        assert (audio.abs().max() > 0.1) if mask else (audio.abs().max() == 0)


def test_evaluation_reads_each_clip_once_with_a_fixed_transform(
    synthetic_root: Path, spec, tokenizer
) -> None:
    first = _batches(str(synthetic_root), spec, tokenizer, False, batch_size=5, num_workers=0)
    again = _batches(str(synthetic_root), spec, tokenizer, False, batch_size=5, num_workers=0)
    keys = [k for b in first for k in b["key"]]
    assert len(keys) == len(set(keys)) == SPEC.val_videos * SPEC.clips_per_video
    assert [len(b["key"]) for b in first][-1] == len(keys) % 5 or 5  # partial last batch kept
    for a, b in zip(first, again):
        assert torch.equal(a["video"], b["video"]) and torch.equal(a["audio"], b["audio"])
        assert torch.equal(
            a["video_affine"], torch.from_numpy(identity_affine()).expand(len(a["key"]), 3, 4)
        )


@pytest.mark.parametrize("loader_workers", [0, 2])
def test_every_rank_yields_the_same_number_of_batches(
    synthetic_root: Path, spec, tokenizer, monkeypatch: pytest.MonkeyPatch, loader_workers: int
) -> None:
    shards = list_shards(str(synthetic_root), "train")
    world, batch = 2, 4
    per_worker = batches_per_worker(shards.total_samples, batch, world, loader_workers)
    seen: dict[int, set[str]] = {}
    for rank in range(world):
        # What Ray's torch backend sets in each training worker (read by split-by-node).
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", str(world))
        stream = ClipStream(shards.urls, spec, tokenizer, LoaderConfig(batch, loader_workers))
        loader = make_loader(stream, per_worker)
        batches = list(loader)
        assert len(batches) == max(1, loader_workers) * per_worker
        assert len(list(loader)) == len(batches)  # the next epoch: same count, same workers
        assert all(len(b["key"]) == batch for b in batches)
        seen[rank] = {k for b in batches for k in b["key"]}
    # Ranks read disjoint shards (6 shards, 3 per rank), so never the same clip.
    assert seen[0] and seen[1] and not seen[0] & seen[1]


def _corrupt_dataset(root: Path) -> Path:
    """Three shards listed: one with 3 good and 4 broken samples, one cut short mid-way, and
    one deleted after the build."""
    good = [make_sample(SPEC, v, 0) for v in range(3)]
    bad_mp4 = {**make_sample(SPEC, 3, 0), "mp4": b"\x00\x00\x00 not an mp4"}
    bad_flac = {**make_sample(SPEC, 4, 0), "flac": b"fLaC garbage"}
    no_mp4 = {k: v for k, v in make_sample(SPEC, 5, 0).items() if k != "mp4"}
    bad_json = {**make_sample(SPEC, 6, 0), "json": b"{not json"}
    write_tar(root / "shards/train-000000.tar", good + [bad_mp4, bad_flac, no_mp4, bad_json])
    cut = root / "shards/train-000001.tar"
    write_tar(cut, [make_sample(SPEC, 7, c) for c in range(4)])
    truncate(cut, 0.6)
    (root / "dataset.json").write_text(
        json.dumps(
            {
                "schema": "vatt-clips/1",
                "shards": [
                    {"name": "shards/train-000000.tar", "split": "train", "samples": 7},
                    {"name": "shards/train-000001.tar", "split": "train", "samples": 4},
                    {"name": "shards/train-000002.tar", "split": "train", "samples": 4},
                    {"name": "shards/val-000000.tar", "split": "val", "samples": 0},
                ],
            }
        )
    )
    return root


def test_corrupt_samples_and_shards_are_skipped_and_counted(
    tmp_path: Path, spec, tokenizer
) -> None:
    root = _corrupt_dataset(tmp_path)
    urls = list_shards(str(root), "train").urls
    stream = ClipStream(urls, spec, tokenizer, LoaderConfig(4, 0), train=False)
    batches = list(make_loader(stream))
    keys = [k for b in batches for k in b["key"]]
    assert {"vid000_00000", "vid001_00000", "vid002_00000"} <= set(keys)
    assert not {"vid003_00000", "vid004_00000", "vid005_00000", "vid006_00000"} & set(keys)
    assert sum(b["corrupt_samples"] for b in batches) == 4
    assert sum(b["corrupt_shards"] for b in batches) == 2  # the truncated and the deleted
    # The endless training stream keeps going over the same data, counting as it goes.
    train = ClipStream(urls, spec, tokenizer, LoaderConfig(4, 0, shuffle_buffer=4))
    batches = list(make_loader(train, 6))
    assert len(batches) == 6 and all(len(b["key"]) == 4 for b in batches)
    assert sum(b["corrupt_samples"] for b in batches) > 0


def test_no_readable_shard_at_all_is_an_error(tmp_path: Path, spec, tokenizer) -> None:
    for n in range(2):
        path = tmp_path / f"train-{n}.tar"
        path.write_bytes(b"this is not a tar file" * 100)
    urls = [str(p) for p in sorted(tmp_path.glob("*.tar"))]
    stream = ClipStream(urls, spec, tokenizer, LoaderConfig(2, 0))
    with pytest.raises(NoReadableDataError, match="no readable sample"):
        list(make_loader(stream, 1))


@pytest.mark.parametrize(("batch", "batches"), [(16, 200), (64, 50)])
def test_clips_of_one_video_are_spread_over_batches(
    tmp_path_factory: pytest.TempPathFactory, spec, tokenizer, batch: int, batches: int
) -> None:
    # HowTo100M's ~120 clips per video: 60 train videos, 7,200 clips in shards of 500
    videos, clips = 60, 120
    uniform = expected_pairs_uniform([clips] * videos, batch)

    def pairs(spread: bool) -> float:
        root = write_layout_dataset(
            tmp_path_factory.mktemp("layout"), videos, clips, 500, spread=spread
        )
        shards = list_shards(str(root), "train")
        cfg = LoaderConfig(batch, 0)  # the training defaults: 4 shards open, 512-sample buffer
        stream = ClipStream(shards.urls, spec, tokenizer, cfg, shard_samples=shards.samples)
        return float(np.mean([same_video_pairs(b) for b in stream.video_id_batches(batches)]))

    # Clips spread by the shard builder: the loader's batches are about as mixed as uniform
    # draws from the whole split. Packed side by side (as shards were), the same loader gives
    # several times the near-duplicate negatives.
    assert pairs(spread=True) < 1.5 * uniform
    assert pairs(spread=False) > 3 * uniform


def test_neighbor_texts_and_bag_mask(tokenizer) -> None:
    meta = {"neighbors": [{"text": f"red circle {i}"} for i in range(7)]}
    assert neighbor_texts(meta, "ignored", 5) == [f"red circle {i}" for i in range(5)]
    assert neighbor_texts({"neighbors": []}, "blue square", 3) == ["blue square", "", ""]
    assert neighbor_texts({}, "  ", 2) == ["", ""]
    ids, mask = tokenize_bag(tokenizer, ["red circle", "", "a blue square moving left"], 16)
    assert ids.shape == (3, 16) and mask.tolist() == [True, False, True]
    assert (ids[1] == 0).all() and (ids[2, :5] != 0).all()


def test_shards_are_read_through_fsspec_uris(synthetic_root: Path, spec, tokenizer) -> None:
    # An object-store-like filesystem without a local path: fsspec's in-memory one.
    fs = fsspec.filesystem("memory")
    for path in synthetic_root.rglob("*"):
        if path.is_file():
            fs.pipe(f"/bucket/ds/{path.relative_to(synthetic_root)}", path.read_bytes())
    shards = list_shards("memory://bucket/ds", "val")
    assert all(u.startswith("memory://bucket/ds/shards/val-") for u in shards.urls)
    batches = _batches("memory://bucket/ds", spec, tokenizer, False, batch_size=6, num_workers=0)
    assert sum(len(b["key"]) for b in batches) == shards.total_samples
    fs.rm("/bucket", recursive=True)


def test_a_clip_longer_than_the_model_gives_one_aligned_sub_window(spec, tokenizer) -> None:
    # 1.6 s stored (16 frames at 10 fps, 16 kHz) for a model that sees 0.8 s (8 frames).
    raw = make_sample(FixtureSpec(frames=16), 0, 1)
    meta = json.loads(raw["json"])
    assert sub_window(meta, spec, None) == SubWindow(4, 8, 10.0)  # evaluation: the centre
    rng = np.random.default_rng(0)
    assert {sub_window(meta, spec, rng).first_frame for _ in range(300)} == set(range(9))
    assert sub_window(json.loads(make_sample(SPEC, 0, 1)["json"]), spec, rng) is None
    full = decode_clip(raw["mp4"], 16, 32)
    assert np.array_equal(decode_clip(raw["mp4"], 8, 32, span=(4, 8)), full[:, 4:12])

    plain = dataclasses.replace(spec, augment=augment_preset("none"))
    wave = decode_waveform(raw["flac"], spec.audio_sample_rate)
    whole = decode_clip(raw["mp4"], 16, spec.video_size, lambda w, h: center_crop(w, h, 0.875))
    firsts = set()
    for train in (False,) + (True,) * 12:
        out = decode_sample(raw, plain, tokenizer, rng, train=train)
        # Which 8 frames did it take? Then its audio must start at the same time.
        first = next(f for f in range(9) if np.array_equal(out["video"], whole[:, f : f + 8]))
        start = first * spec.audio_sample_rate // 10
        assert np.array_equal(out["audio"], wave[start : start + spec.audio_samples])
        firsts.add(first)
        if not train:
            assert first == 4
    assert len(firsts) > 3  # training jitters
    still = dataclasses.replace(plain, temporal_jitter=False)
    for _ in range(4):
        out = decode_sample(raw, still, tokenizer, rng, train=True)
        assert np.array_equal(out["video"], whole[:, 4:12])


def _textless_copy(root: Path, into: Path) -> Path:
    """The dataset with every caption removed (an AudioSet-like source: video and audio)."""
    shutil.copytree(root, into)
    for shard in (into / "shards").glob("*.tar"):
        samples = list(wds.WebDataset(str(shard), shardshuffle=False))
        for s in samples:
            meta = json.loads(s["json"])
            meta.update(segments=[], neighbors=[])
            s["json"], s["txt"] = json.dumps(meta).encode(), b""
        write_tar(shard, [{k: v for k, v in s.items() if k != "__url__"} for s in samples])
    return into


def test_a_mixture_draws_by_weight_and_textless_clips_sit_out_of_mil_nce(
    synthetic_root: Path, tmp_path: Path, spec, tokenizer
) -> None:
    silent = _textless_copy(synthetic_root, tmp_path / "audioset")
    sources = []
    for name, root, weight in (("howto", synthetic_root, 0.8), ("audioset", silent, 0.2)):
        shards = list_shards(str(root), "train")
        sources.append(Source(name, shards.urls, shards.samples, weight))
    stream = ClipStream(sources, spec, tokenizer, LoaderConfig(8, 0, shuffle_buffer=16))
    assert stream.weights == pytest.approx([0.8, 0.2])
    batches = list(make_loader(stream, 25))
    drawn = Counter(i for b in batches for i in b["source"])
    assert sum(drawn.values()) == 200 and 0.7 < drawn[0] / 200 < 0.9  # 0.8 +- 3.5 sd
    for b in batches:
        textless = torch.tensor([i == 1 for i in b["source"]])
        assert not b["text_mask"][textless].any()  # no positive: no MIL-NCE term
        assert b["text_mask"][~textless].any(dim=1).all()
    # Without weights: in proportion to the clips (36 each here).
    even = ClipStream(
        [dataclasses.replace(s, weight=None) for s in sources], spec, tokenizer, LoaderConfig(8, 0)
    )
    assert even.weights == pytest.approx([0.5, 0.5])
