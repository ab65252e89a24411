"""The pieces of a run that need no Ray: schedule, checkpoint round trip, metrics, retrieval
maths, CLI argument handling."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from model import VattModel, get_config
from tests.conftest import environ
from tests.train.conftest import TEST_MODEL
from train.checkpoint import (
    RAY_SNAPSHOT,
    REQUIRED_FILES,
    CheckpointNotFoundError,
    TrainState,
    find_checkpoint,
    load_for_inference,
    restore_training,
    save_checkpoint,
)
from train.config import TrainConfig
from train.evaluate import rank_metrics
from train.metrics import FROM, StepMeter, plot_curves, progress_line, read_scalars
from train.pretrain import build_parser, config_from_args, parse_overrides
from train.pretrain import main as pretrain_main
from train.schedule import ScheduleConfig, lr_at, make_scheduler


def test_warmup_then_quarter_cosine_to_the_end_rate() -> None:
    cfg = ScheduleConfig(peak_lr=1e-4, end_lr=5e-5, warmup_steps=10_000, total_steps=500_000)
    assert lr_at(0, cfg) == pytest.approx(1e-8)
    assert lr_at(9_999, cfg) == pytest.approx(1e-4)
    assert lr_at(10_000, cfg) == pytest.approx(1e-4)
    # Quarter period: half-way through the decay the rate is end + (peak - end) cos(pi/4).
    assert lr_at(255_000, cfg) == pytest.approx(5e-5 + 5e-5 * math.cos(math.pi / 4))
    assert lr_at(500_000, cfg) == pytest.approx(5e-5)
    decay = [lr_at(s, cfg) for s in range(10_000, 500_001, 10_000)]
    assert all(a >= b for a, b in zip(decay, decay[1:]))
    short = ScheduleConfig(warmup_steps=10_000, total_steps=300)
    assert short.effective_warmup() == 30  # a short run warms up for a tenth of it


def _model_and_optimizer(steps: int):
    model = VattModel(get_config("tiny", **TEST_MODEL)).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = make_scheduler(optimizer, ScheduleConfig(peak_lr=1e-3, total_steps=20))
    for _ in range(steps):
        out = model(text_ids=torch.randint(1, 20, (4, 2, 5)))
        out["text_vt"].pow(2).mean().backward()
        optimizer.step()
        optimizer.zero_grad()
        scheduler.step()
    return model, optimizer, scheduler


def test_checkpoint_restores_identical_optimizer_and_schedule(tmp_path: Path, tokenizer) -> None:
    model, optimizer, scheduler = _model_and_optimizer(3)
    state = TrainState(step=3, epoch=1, samples=12)
    save_checkpoint(str(tmp_path), model, tokenizer, optimizer, scheduler, state, {"x": 1})

    fresh, fresh_opt, fresh_sched = _model_and_optimizer(0)
    restored = restore_training(str(tmp_path), fresh_opt, fresh_sched)
    assert restored == state
    saved, loaded = optimizer.state_dict(), fresh_opt.state_dict()
    assert saved["param_groups"] == loaded["param_groups"]
    for key, slots in saved["state"].items():
        for name, value in slots.items():
            assert torch.equal(value, loaded["state"][key][name]), (key, name)
    assert fresh_sched.state_dict()["last_epoch"] == 3
    assert fresh_sched.get_last_lr() == scheduler.get_last_lr()

    again, tok, st = load_for_inference(str(tmp_path))
    assert not again.training and st.step == 3 and tok.get_vocab() == tokenizer.get_vocab()
    for name, tensor in model.state_dict().items():
        assert torch.equal(again.state_dict()[name], tensor), name


def _checkpoint_folder(folder: Path, missing: str = "") -> Path:
    for name in REQUIRED_FILES:
        if name != missing:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text("{}")
    return folder


def test_find_checkpoint_takes_the_latest_or_names_the_folder(tmp_path: Path) -> None:
    for step in (5, 40, 12):
        _checkpoint_folder(tmp_path / f"checkpoint_{step:08d}")
    # A later folder a killed upload left half-written (no weights) is not a checkpoint.
    _checkpoint_folder(tmp_path / "checkpoint_00000044", missing="model/model.safetensors")
    assert find_checkpoint(str(tmp_path)).endswith("checkpoint_00000040")
    assert find_checkpoint(str(tmp_path / "checkpoint_00000005")).endswith("checkpoint_00000005")
    with pytest.raises(CheckpointNotFoundError, match="empty"):
        find_checkpoint(str(tmp_path / "empty"))
    # With Ray Train's record, the checkpoint it registered last wins, whatever else is there.
    (tmp_path / RAY_SNAPSHOT).write_text(
        json.dumps({"latest_checkpoint_result": {"checkpoint_dir_name": "checkpoint_00000012"}})
    )
    assert find_checkpoint(str(tmp_path)).endswith("checkpoint_00000012")


def test_step_meter_means_losses_and_sums_skips(tmp_path: Path) -> None:
    meter = StepMeter()
    meter.add({"loss": 4.0, "nce_loss": 2.0}, 8, 0.1, {"corrupt_samples": 1, "corrupt_shards": 0})
    meter.add({"loss": 2.0, "nce_loss": 1.0}, 8, 0.3, {"corrupt_samples": 2, "corrupt_shards": 1})
    out = meter.flush(torch.device("cpu"))
    assert out["loss"] == 3.0 and out["nce_loss"] == 1.5
    assert out["corrupt_samples"] == 3 and out["corrupt_shards"] == 1
    assert out["data_wait_share"] > 0 and out["samples_per_s"] > 0
    assert "step 2/10" in progress_line(2, 10, {**out, "lr": 1e-4})
    assert meter.flush(torch.device("cpu"))["samples_per_s"] == 0  # reset after a flush

    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path)) as writer:
        for step in range(1, 4):
            writer.add_scalar("loss/loss", 5.0 - step, step)
            writer.add_scalar("train/lr", 1e-4, step)
    assert read_scalars(str(tmp_path))["loss/loss"] == [(1, 4.0), (2, 3.0), (3, 2.0)]
    png = plot_curves(str(tmp_path), str(tmp_path / "curves.png"))
    assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_per_source_counts_are_summed_and_shown() -> None:
    meter = StepMeter()
    for howto, audioset in ((13, 3), (12, 4)):
        skips = {"corrupt_samples": 0, f"{FROM}howto": howto, f"{FROM}audioset": audioset}
        meter.add({"loss": 1.0}, 16, 0.0, skips)
    out = meter.flush(torch.device("cpu"))
    assert out[f"{FROM}howto"] == 25 and out[f"{FROM}audioset"] == 7  # totals, not means
    assert "from audioset 7 (22%), howto 25 (78%)" in progress_line(2, 10, {**out, "lr": 1e-4})


def test_paper_configs_train_without_clipping_by_default(capsys, synthetic_root: Path) -> None:
    assert TrainConfig(data="d", config="bbs").grad_clip == 0.0  # the paper's recipe
    assert TrainConfig(data="d", config="ma-medium").grad_clip == 0.0
    assert TrainConfig(data="d", config="tiny").grad_clip == 1.0  # the demo's settings
    assert TrainConfig(data="d", config="bbs", grad_clip=2.0).grad_clip == 2.0
    # A run config saved with one root (a string) still loads.
    assert TrainConfig.from_dict(TrainConfig(data="d").to_dict()).data == ["d"]
    with pytest.raises(ValueError, match="2 data weights for 1 dataset roots"):
        TrainConfig(data="d", data_weights=[0.8, 0.2])
    root = str(synthetic_root)
    args = config_from_args(
        build_parser().parse_args(
            ["--data", root, "--data", root, "--data-weights", "0.8,0.2", "--config", "mbs"]
        )
    )
    assert args.data == [root, root] and args.data_weights == [0.8, 0.2]
    assert args.grad_clip == 0.0 and args.temporal_jitter
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--data", root, "--data-weights", "0.8;0.2"])
    assert "expected numbers separated by commas" in capsys.readouterr().err


def test_retrieval_ranks() -> None:
    def ranks(q, i, same=None):
        m = rank_metrics(q, i, same)
        return {k: m[k] for k in ("R@1", "R@5", "R@10", "MedR", "n")}

    items = torch.eye(6)
    assert ranks(items, items) == {"R@1": 100.0, "R@5": 100.0, "R@10": 100.0, "MedR": 1.0, "n": 6}
    # Query i matches item i + 1 exactly; its own item (i) is orthogonal, tied with 4 others:
    # rank 2..6 with equal odds.
    shifted = ranks(items, items.roll(1, dims=0))
    assert shifted == {"R@1": 0.0, "R@5": 80.0, "R@10": 100.0, "MedR": 4.0, "n": 6}
    # Everything tied (a collapsed model, or zero embeddings): chance, k / n, not 100%.
    for collapsed in (torch.ones(8, 3), torch.zeros(8, 3)):
        m = rank_metrics(collapsed, collapsed)
        assert {k: m[k] for k in ("R@1", "R@5", "R@10", "MedR")} == {
            "R@1": 12.5,
            "R@5": 62.5,
            "R@10": 100.0,
            "MedR": 4.5,
        }
        assert m["chance"] == {"R@1": 12.5, "R@5": 62.5, "R@10": 100.0}
    # Items 0 and 1 are one answer (identical captions): query 0 finding item 1 first is a hit,
    # and the other answer does not count against it; chance is over 5 answers, not 6.
    same = torch.zeros(6, 6, dtype=torch.bool)
    same[0, 1] = same[1, 0] = True
    swapped = items[[1, 0, 2, 3, 4, 5]]
    assert ranks(items, swapped)["R@1"] == 66.67  # queries 0 and 1 miss without `same`
    assert ranks(items, swapped, same)["R@1"] == 100.0
    # queries 0, 1: one answer of 5; the others: one of 6
    expected = round(100 * (2 / 5 + 4 / 6) / 6, 2)
    assert rank_metrics(torch.ones(6, 2), torch.ones(6, 2), same)["chance"]["R@1"] == expected
    assert rank_metrics(torch.zeros(0, 3), torch.zeros(0, 3))["R@1"] is None


def test_cli_rejects_bad_arguments(capsys, synthetic_root: Path, tmp_path: Path) -> None:
    assert parse_overrides(["video_frames=8", "dropout=0.0", "video_backbone=tiny"]) == {
        "video_frames": 8,
        "dropout": 0.0,
        "video_backbone": "tiny",
    }
    with pytest.raises(SystemExit):
        pretrain_main(["--data", str(synthetic_root), "--config", "huge"])
    assert "invalid choice" in capsys.readouterr().err
    args = ["--data", str(synthetic_root), "--output", str(tmp_path / "r")]
    assert pretrain_main([*args, "--set", "no_such_field=1"]) == 2
    assert "no_such_field" in capsys.readouterr().err
    assert pretrain_main(["--data", str(tmp_path / "nowhere"), "--output", str(tmp_path)]) == 2
    assert "nowhere" in capsys.readouterr().err


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_bad_configurations_are_one_line_errors_before_ray(
    capsys, synthetic_root: Path, tmp_path: Path, s3_server
) -> None:
    """Each a one-line `error:` naming the problem, exit 2, and no Ray started (cheap checks)."""
    import ray

    out = ["--output", str(tmp_path / "run")]
    data = ["--data", str(synthetic_root)]
    assert pretrain_main([*data, *out, "--global-batch-size", "10", "--num-workers", "4"]) == 2
    assert "--global-batch-size 10 is not divisible by --num-workers 4" in _one_error_line(capsys)
    assert pretrain_main([*data, *out, "--batch-size", "0"]) == 2
    assert "batch_size must be at least 1" in _one_error_line(capsys)

    # A folder that is not a dataset (no dataset.json, no shards): named.
    (tmp_path / "videos").mkdir()
    assert pretrain_main(["--data", str(tmp_path / "videos"), *out]) == 2
    assert f"no 'train' shards under {tmp_path / 'videos'}" in _one_error_line(capsys)

    # A dataset of another schema version: both versions named.
    other = tmp_path / "v9"
    (other / "shards").mkdir(parents=True)
    (other / "dataset.json").write_text(json.dumps({"schema": "vatt-clips/9", "shards": []}))
    assert pretrain_main(["--data", str(other), *out]) == 2
    line = _one_error_line(capsys)
    assert "schema 'vatt-clips/9', expected 'vatt-clips/1' or 'vatt-clips/2'" in line
    assert str(other) in line

    # A bucket without credentials: the URI and the store's reason, no traceback.
    nocreds = {
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    with environ(nocreds):
        import s3fs

        s3fs.S3FileSystem.clear_instance_cache()
        for args in (
            ["--data", "s3://vatt-test/some-dataset", *out],
            [*data, "--output", "s3://vatt-test/some-run"],
        ):
            assert pretrain_main(args) == 2
            line = _one_error_line(capsys)
            assert "s3://vatt-test/some-" in line and "credentials" in line.lower(), line
    s3fs.S3FileSystem.clear_instance_cache()
    assert not ray.is_initialized()


def test_examples_png_shows_each_clips_top_five_captions(tmp_path: Path) -> None:
    from train.evaluate import SplitEmbeddings, write_examples_png

    torch.manual_seed(0)
    n, d = 7, 16
    video = torch.randn(n, d)
    text = video + 0.01 * torch.randn(n, d)  # every clip's own caption is its nearest
    emb = SplitEmbeddings(
        video_va=[video],
        video_vt=[video],
        audio_va=[video],
        text_vt=[text],
        has_audio=[torch.ones(n, dtype=torch.bool)],
        has_text=[torch.tensor([True, False, True, True, True, True, True])],
        captions=[f"caption {i}" for i in range(n)],
        thumbs=[np.full((32, 32, 3), 40 * i, dtype=np.uint8) for i in range(4)],
    )
    out = tmp_path / "examples.png"
    rows = write_examples_png(emb, str(out), n=3)
    assert [r["clip"] for r in rows] == [0, 2, 3]  # clip 1 has no text
    for r in rows:
        assert len(r["top"]) == 5
        assert r["top"][0][0] == r["caption"] and r["top"][0][2]  # the own caption first
        assert all(cap != "caption 1" for cap, _, _ in r["top"])  # captionless clip never listed
    png = out.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_examples_list_identical_texts_once_as_the_clips_own() -> None:
    """Another clip with the same caption text is the same answer (as in the metrics): listed
    once, at its best score, marked as a hit."""
    from train.evaluate import SplitEmbeddings, top_texts

    torch.manual_seed(0)
    n, d = 6, 8
    video = torch.randn(n, d)
    text = torch.randn(n, d)
    text[4] = video[0]  # clip 4's text scores highest for clip 0's video...
    text[0] = video[0] + 0.5 * torch.randn(d)
    captions = [f"caption {i}" for i in range(n)]
    captions[4] = captions[0] = "a red ball rolls"  # ...and it is the same text as clip 0's
    emb = SplitEmbeddings(
        video_vt=[video],
        text_vt=[text],
        has_text=[torch.ones(n, dtype=torch.bool)],
        captions=captions,
        thumbs=[np.zeros((8, 8, 3), np.uint8)],
    )
    (row,) = top_texts(emb, n=1)
    listed = [t for t, _, _ in row["top"]]
    assert listed[0] == "a red ball rolls" and row["top"][0][2]
    assert row["top"][0][1] == pytest.approx(1.0, abs=1e-5)  # the best of the two clips
    assert len(listed) == len(set(listed)) == 5 and sum(hit for _, _, hit in row["top"]) == 1
