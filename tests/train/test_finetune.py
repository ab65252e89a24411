"""Fine-tuning through Ray Train (one local Ray for the module): a few steps from a run with a
larger input (positional tables interpolated), checkpoints, resume, the multi-clip x
multi-crop test; then `train.downstream`'s table, whose from-scratch fine-tune and multi-label
scores (mAP) run on the multi-label fixture.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from model import VattForClassification
from tests.train.shardgen import label_names
from train import downstream
from train.checkpoint import find_checkpoint, read_state
from train.finetune import EVAL_FILE, run, score_checkpoint
from train.finetune_config import FinetuneConfig
from train.ray_fit import RunExistsError, last_checkpoint

pytestmark = pytest.mark.slow


def test_finetune_runs_checkpoints_resumes_and_tests(
    ray_cluster, labelled_root: Path, random_checkpoint: Path, tmp_path: Path
) -> None:
    from tests.train.shardgen import LABELLED

    fc = FinetuneConfig(
        data=str(labelled_root),
        output=str(tmp_path / "ft"),
        init=str(random_checkpoint),
        overrides={"video_size": 48},  # pretrained at 32: 2x2 -> 3x3 spatial positions
        labels=label_names(LABELLED),
        max_steps=4,
        checkpoint_every=2,
        batch_size=4,
        loader_workers=0,
        log_every=1,
        augment="light",
        mixup=5.0,  # the AudioSet recipe's mixup, on a video set: the step mixes pairs
    )
    result = run(fc)
    out = Path(fc.output)
    assert sorted(p.name for p in out.glob("checkpoint_*") if p.is_dir()) == [
        "checkpoint_00000002",
        "checkpoint_00000004",
    ]
    model = VattForClassification.from_pretrained(str(out / "checkpoint_00000004" / "model"))
    assert model.config.num_labels == 8 and model.config.video_size == 48
    assert model.vatt.video_embed.positions.vertical.shape[0] == 3
    assert model.vatt.config.video_drop_rate == 0.0  # DropToken is pretraining's
    # Only the video tower and the head trained: the audio tower is the pretrained one.
    start = VattForClassification.from_pretrained(str(random_checkpoint / "model"))
    for name, tensor in start.vatt.audio_transformer.state_dict().items():
        assert torch.equal(model.vatt.audio_transformer.state_dict()[name], tensor), name
    assert not torch.equal(
        model.vatt.video_transformer.norm.weight, start.vatt.video_transformer.norm.weight
    )

    with pytest.raises(RunExistsError):
        run(fc)
    longer = FinetuneConfig(**{**fc.to_dict(), "max_steps": 6})
    assert run(longer, resume=True).metrics["step"] == 6
    final = find_checkpoint(longer.output)
    assert read_state(final).resumed_at == [4]
    sgd = torch.load(Path(final) / "optimizer.pt")
    assert sgd["param_groups"][0]["momentum"] == 0.9
    assert all("momentum_buffer" in s for s in sgd["state"].values())

    scores = score_checkpoint(longer, last_checkpoint(longer, result) or final)
    assert scores["classes"] == 8 and scores["n"] == 7 and scores["crops"] == 3
    assert scores["chance"] == {"top1": 12.5, "top5": 62.5}
    assert 0 <= scores["top1"] <= scores["top5"] <= 100
    assert json.loads((out / EVAL_FILE).read_text())["n"] == 7


def test_downstream_prints_pretrained_against_random_init(
    ray_cluster, multi_label_root: Path, random_checkpoint: Path, tmp_path: Path, capsys
) -> None:
    args = [
        *("--checkpoint", str(random_checkpoint), "--data", str(multi_label_root)),
        *("--output", str(tmp_path / "down"), "--finetune-steps", "2"),
        *("--finetune-batch-size", "4", "--loader-workers", "0", "--shots", "1", "--draws", "2"),
    ]
    assert downstream.main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["multi_label"] and result["classes"] == 12
    for init in ("pretrained", "random_init"):
        r = result[init]
        assert set(r) == {"zero_shot", "linear_probe", "few_shot", "fine_tune"}, init
        assert 0 <= r["zero_shot"]["mAP"] <= 100
        assert r["linear_probe"]["video"]["mAP"] > r["linear_probe"]["chance"]["mAP"]
        assert r["few_shot"]["shots"] == 1
        assert r["fine_tune"]["step"] == 2 and "mAP" in r["fine_tune"]
    assert not result["pretrained"]["fine_tune"]["from_scratch"]
    assert result["random_init"]["fine_tune"]["from_scratch"]
    # The from-scratch model has the run's geometry, not the named config's default.
    scratch = find_checkpoint(str(tmp_path / "down" / "from_scratch"))
    assert VattForClassification.from_pretrained(f"{scratch}/model").config.video_size == 32
