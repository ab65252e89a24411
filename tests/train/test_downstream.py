"""Downstream without Ray: labelled vatt-clips/2 through the data path, the tie-aware scores,
the linear / few-shot probe, zero-shot, video-level retrieval, t-SNE, one-line errors.

The labelled fixture plants the video's colour as its class (8 classes; 14 train and 7 val
videos with video, 2 clips each; its tone is the class's too) and writes three videos as
audio-only samples; the model is an untrained tiny VATT saved as a run's checkpoint. Random
features of planted colours are linearly separable (the issue measured it), so the probe must
learn them; zero-shot cannot without pretraining.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from model import VattForClassification, VattModel, get_config, resize_positions
from tests.train.conftest import TEST_MODEL
from tests.train.shardgen import LABELLED, is_audio_only, label_names, video_labels
from train import evaluate, finetune, linear_probe, zero_shot
from train.augment import spatial_crop
from train.features import extract
from train.linear_probe import few_shot_rows
from train.scores import (
    average_precision,
    map_chance,
    mean_average_precision,
    multi_hot,
    topk_accuracy,
    topk_chance,
)
from train.zero_shot import class_phrase
from vattclips.dataset import list_shards

VAL_VIDEOS = [v for v in range(16, 24) if not is_audio_only(LABELLED, v)]  # 7 with video


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_labels_and_audio_only_samples_come_through_the_data_path(
    labelled_root: Path,
    multi_label_root: Path,
    synthetic_root: Path,
    random_checkpoint: Path,
    labelled_tokenizer,
) -> None:
    shards = list_shards(str(labelled_root), "val")
    assert shards.labels == tuple(label_names(LABELLED)) and not shards.multi_label
    assert list_shards(str(multi_label_root), "train").multi_label
    assert list_shards(str(synthetic_root), "train").labels is None  # vatt-clips/1: no labels

    model = VattModel.from_pretrained(str(random_checkpoint / "model")).eval()
    multi = dataclasses.replace(LABELLED, labels="multi", audio_only_every=0)
    for root, spec in ((labelled_root, LABELLED), (multi_label_root, multi)):
        names = list_shards(str(root), "train").labels
        feats = extract(model, labelled_tokenizer, str(root), "val", batch_size=8)
        assert len(feats) == 16 and feats.skipped_samples == 0
        for vid, labels, has_video, has_audio in zip(
            feats.video_ids, feats.labels, feats.has_video, feats.has_audio
        ):
            v = int(vid[3:])
            assert [names[i] for i in labels] == video_labels(spec, v), (vid, labels)
            assert bool(has_video) == (not is_audio_only(spec, v)), vid
            if not has_video:
                assert has_audio  # the audio tower still reads it
    # An audio-only clip is black video that is never scored; its audio features are real.
    feats = extract(model, labelled_tokenizer, str(labelled_root), "val", batch_size=8)
    audio_only = ~feats.has_video
    assert audio_only.sum() == 2 and np.abs(feats.arrays["audio"][audio_only]).sum() > 0


def test_scores_give_a_degenerate_model_chance_never_index_luck() -> None:
    classes, n = 8, 40
    labels = np.zeros(n, np.int64)  # every true class is index 0: argmax of ties would pick it
    tied = np.zeros((n, classes))
    assert topk_accuracy(tied, labels, 1) == 12.5
    assert topk_accuracy(tied, labels, 5) == 62.5
    assert topk_chance(classes) == {"top1": 12.5, "top5": 62.5}
    perfect = np.eye(classes)[labels]
    assert topk_accuracy(perfect, labels, 1) == 100.0
    # The true class tied with one other at the top: half a hit at top-1, a full one at top-2.
    half = perfect.copy()
    half[:, 3] = 1.0
    assert topk_accuracy(half, labels, 1) == 50.0 and topk_accuracy(half, labels, 2) == 100.0

    rng = np.random.default_rng(0)
    targets = (rng.random((30, 5)) < 0.3).astype(np.int64)
    targets[0] = 1  # every class has a positive
    collapsed = mean_average_precision(np.zeros((30, 5)), targets)["mAP"]
    assert collapsed == pytest.approx(100 * targets.mean(axis=0).mean(), abs=0.01)
    assert collapsed <= map_chance(targets)  # ties never beat a random ranking
    assert mean_average_precision(targets.astype(float), targets)["mAP"] == 100.0
    # sklearn agrees on untied scores; chance is the mean AP of random rankings.
    from sklearn.metrics import average_precision_score

    scores = rng.random(30)
    assert average_precision(scores, targets[:, 1]) == pytest.approx(
        average_precision_score(targets[:, 1], scores)
    )
    draws = [average_precision(rng.random(30), targets[:, 2]) for _ in range(4000)]
    chance = map_chance(targets[:, 2:3])
    assert 100 * np.mean(draws) == pytest.approx(chance, abs=1.0)


def test_linear_probe_learns_the_planted_label(
    labelled_root: Path, multi_label_root: Path, random_checkpoint: Path, capsys
) -> None:
    args = ["--checkpoint", str(random_checkpoint), "--data", str(labelled_root), "--json"]
    assert linear_probe.main(args) == 0
    result = _json(capsys)
    assert result["classes"] == 8 and result["n_train"] == 14 and result["n_test"] == 7
    assert result["chance"] == {"top1": 12.5, "top5": 62.5}
    for tower in ("video", "audio"):
        m = result[tower]
        assert m["top1"] >= 85.0 and m["top5"] >= m["top1"], (tower, m)
        assert m["C"] in linear_probe.C_GRID or m["C"] == linear_probe.DEFAULT_C
    assert result["audio"]["n_train"] == 13  # 16 train videos less 3 without sound

    assert linear_probe.main([*args, "--random-init", "--per", "clip"]) == 0
    clips = _json(capsys)
    assert clips["n_train"] == 28 and clips["n_test"] == 14 and clips["video"]["top1"] >= 85.0

    assert linear_probe.main([*args, "--shots", "1", "--draws", "2"]) == 0
    few = _json(capsys)
    assert few["shots"] == 1 and few["draws"] == 2 and few["n_train"] == 8.0
    assert {"top1", "top1_std", "top5", "top5_std"} <= set(few["video"])

    multi = ["--checkpoint", str(random_checkpoint), "--data", str(multi_label_root), "--json"]
    assert linear_probe.main(multi) == 0
    m = _json(capsys)
    assert m["multi_label"] and m["classes"] == 12
    assert m["video"]["mAP"] > m["chance"]["mAP"] + 20, m


def _collapsed(checkpoint: Path, folder: Path) -> Path:
    """The checkpoint with the final LayerNorm of every tower zeroed: every clip's features
    and every text's embedding are the same."""
    shutil.copytree(checkpoint, folder)
    model = VattModel.from_pretrained(str(folder / "model"))
    with torch.no_grad():
        for tower in ("video", "audio", "text"):
            for p in model.transformer(tower).norm.parameters():
                p.zero_()
    model.save_pretrained(str(folder / "model"))
    return folder


def test_a_collapsed_model_probes_and_classifies_at_chance(
    labelled_root: Path, random_checkpoint: Path, tmp_path: Path, capsys
) -> None:
    collapsed = _collapsed(random_checkpoint, tmp_path / "collapsed")
    data = ["--checkpoint", str(collapsed), "--data", str(labelled_root), "--json"]
    assert zero_shot.main(data) == 0
    z = _json(capsys)
    assert z["n"] == 7 and z["top1"] == 12.5 and z["top5"] == 62.5  # exactly chance
    assert linear_probe.main(data) == 0
    p = _json(capsys)
    # Identical features: one prediction for every val video, right for at most one of the 7
    # (each val class has one video), whatever the train class counts make it.
    for tower in ("video", "audio"):
        assert p[tower]["top1"] <= 100 / 7 + 0.01 and p[tower]["top5"] <= 500 / 7 + 0.01


def test_zero_shot_names_unknown_words(
    labelled_root: Path, random_checkpoint: Path, capsys, caplog
) -> None:
    assert class_phrase("ApplyEyeMakeup") == "apply eye makeup"
    assert class_phrase("playing_guitar") == "playing guitar"
    args = ["--checkpoint", str(random_checkpoint), "--data", str(labelled_root), "--json"]
    with caplog.at_level(logging.WARNING, logger="train.zero_shot"):
        assert zero_shot.main([*args, "--template", "a {} zzqx", "--per", "clip"]) == 0
    result = _json(capsys)
    assert set(result) >= {"top1", "top5", "classes", "n", "chance", "unknown_words"}
    assert result["classes"] == 8 and result["n"] == 14 and result["unknown_words"] == ["zzqx"]
    assert "zzqx" in caplog.text
    assert 0 <= result["top1"] <= result["top5"] <= 100


def test_downstream_commands_fail_in_one_line(
    labelled_root: Path, synthetic_root: Path, random_checkpoint: Path, tmp_path: Path, capsys
) -> None:
    ckpt = ["--checkpoint", str(random_checkpoint)]
    for command in (linear_probe.main, zero_shot.main):
        assert command([*ckpt, "--data", str(synthetic_root)]) == 2
        assert f"{synthetic_root} has no labels" in _one_error_line(capsys)
        assert command(["--checkpoint", str(tmp_path), "--data", str(labelled_root)]) == 2
        assert f"no complete checkpoint (a folder with state.json) at {tmp_path}" in (
            _one_error_line(capsys)
        )
    one_class = tmp_path / "one-class"
    shutil.copytree(labelled_root, one_class)
    summary = json.loads((one_class / "dataset.json").read_text())
    (one_class / "dataset.json").write_text(json.dumps({**summary, "labels": ["red"]}))
    assert linear_probe.main([*ckpt, "--data", str(one_class)]) == 2
    assert "has 1 class (['red']); need at least 2" in _one_error_line(capsys)
    assert zero_shot.main([*ckpt, "--data", str(labelled_root), "--template", "a video"]) == 2
    assert "has no {} for the class name" in _one_error_line(capsys)
    assert zero_shot.main([*ckpt, "--data", str(labelled_root), "--crops", "0"]) == 2
    assert "--crops must be at least 1" in _one_error_line(capsys)

    # train.finetune checks the same before Ray starts.
    import ray

    out = ["--output", str(tmp_path / "ft")]
    assert finetune.main([*ckpt, "--data", str(synthetic_root), *out]) == 2
    assert f"{synthetic_root} has no labels" in _one_error_line(capsys)
    assert finetune.main(["--checkpoint", str(tmp_path), "--data", str(labelled_root), *out]) == 2
    assert "no complete checkpoint" in _one_error_line(capsys)
    assert finetune.main([*ckpt, "--data", str(one_class), *out]) == 2
    assert "need at least 2" in _one_error_line(capsys)
    assert not ray.is_initialized()


def test_evaluate_ranks_videos_on_a_benchmarks_terms_and_draws_a_tsne(
    labelled_root: Path, random_checkpoint: Path, tmp_path: Path, capsys
) -> None:
    png = tmp_path / "tsne.png"
    args = ["--checkpoint", str(random_checkpoint), "--data", str(labelled_root), "--json"]
    assert evaluate.main([*args, "--protocol", "video", "--tsne", str(png)]) == 0
    result = _json(capsys)
    assert result["protocol"] == "video" and result["n"] == len(VAL_VIDEOS)
    for direction in ("video_to_text", "text_to_video"):
        m = result[direction]
        assert m["n"] == 7 and 1 <= m["MedR"] <= 7, m
        assert m["chance"]["R@1"] == pytest.approx(100 / 7, abs=0.01)  # one caption per video
    assert result["video_to_audio"]["n"] == 6  # vid019 has no sound
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert evaluate.main(args) == 0  # clip protocol: audio-only clips read, left out of vt
    clips = _json(capsys)
    assert clips["n"] == 16 and clips["video_to_text"]["n"] == 14


def test_positional_tables_interpolate_and_a_classifier_keeps_the_towers(
    random_checkpoint: Path, tmp_path: Path
) -> None:
    model = VattForClassification.from_pretrained(
        str(random_checkpoint / "model"), id2label={0: "a", 1: "b", 2: "c"}
    ).eval()
    pretrained = VattModel.from_pretrained(str(random_checkpoint / "model"))
    for name, tensor in pretrained.state_dict().items():
        assert torch.equal(model.vatt.state_dict()[name], tensor), name
    old = model.vatt.video_embed.positions.vertical.detach().clone()  # (2, D): 32 / 16
    resize_positions(model.vatt, video_frames=8, video_size=64, audio_samples=25_600)
    vertical = model.vatt.video_embed.positions.vertical
    assert vertical.shape[0] == 4 and model.config.video_size == 64
    # Linear interpolation keeps the table's ends' mean and lies between its values.
    assert torch.all(vertical <= old.max(0).values + 1e-6)
    assert model.vatt.audio_embed.positions.table.shape[0] == 200
    logits = model(video=torch.rand(2, 3, 8, 64, 64) * 2 - 1)
    assert logits.shape == (2, 3)
    model.save_pretrained(str(tmp_path / "ft"))
    again = VattForClassification.from_pretrained(str(tmp_path / "ft")).eval()
    video = torch.rand(1, 3, 8, 64, 64) * 2 - 1
    assert torch.allclose(again(video=video), model(video=video), atol=1e-5)
    # And a fine-tuned checkpoint still gives the downstream commands its towers.
    towers = VattModel.from_pretrained(str(tmp_path / "ft"))
    assert towers.config.video_size == 64
    assert get_config("tiny", **TEST_MODEL).video_size == 32


def test_crops_and_few_shot_draws() -> None:
    assert [spatial_crop(160, 90, i, 3).x for i in range(3)] == [0, 35, 70]
    assert spatial_crop(160, 90, 0, 1).x == 35 and spatial_crop(90, 160, 2, 3).y == 70
    y = [[0], [0], [0], [1], [1], [2]]
    rows = few_shot_rows(y, 3, 2, np.random.default_rng(0))
    counts = np.bincount([y[i][0] for i in rows], minlength=3)
    assert counts.tolist() == [2, 2, 1]  # class 2 has a single row: all of it
    assert multi_hot([[0, 2], []], 3).tolist() == [[1, 0, 1], [0, 0, 0]]
