"""Ray Train runs on CPU: 2 DDP workers with falling loss, resume, a killed worker, evaluation.

One local Ray (no dashboard) serves the whole module. Real data (synthetic shards written as the
pipeline writes them), the real model at a small input geometry.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import threading
import time
from pathlib import Path

import psutil
import pytest
import torch

from model import VattModel
from tests.train.conftest import SPEC, TEST_MODEL, registered_step
from tests.train.shardgen import truncate
from train import evaluate
from train.checkpoint import find_checkpoint, read_state
from train.config import TrainConfig
from train.loop import CURVES_PNG
from train.metrics import read_scalars
from train.pretrain import RunExistsError, run

pytestmark = pytest.mark.slow


def _config(root: Path, output: Path, **changes) -> TrainConfig:
    values = dict(
        data=str(root),
        output=str(output),
        overrides=dict(TEST_MODEL),
        batch_size=6,
        num_workers=2,
        loader_workers=0,  # decode inline: fewer processes on 2 cores
        lr=2e-3,
        end_lr=1e-3,
        warmup_steps=2,
        log_every=2,
        shuffle_buffer=24,
        max_failures=2,
    )
    values.update(changes)
    return TrainConfig(**values)


@pytest.fixture(scope="module")
def trained(ray_cluster, synthetic_root: Path, tmp_path_factory) -> TrainConfig:
    tc = _config(
        synthetic_root, tmp_path_factory.mktemp("runs") / "two", max_steps=24, checkpoint_every=12
    )
    run(tc)
    return tc


def test_two_workers_train_with_falling_loss(trained: TrainConfig) -> None:
    out = Path(trained.output)
    assert sorted(p.name for p in out.glob("checkpoint_*") if p.is_dir()) == [
        "checkpoint_00000012",
        "checkpoint_00000024",
    ]
    scalars = read_scalars(str(out / "tensorboard"))
    loss = [v for _, v in scalars["loss/loss"]]
    assert len(loss) == 12  # one point per log step (every 2 of 24 steps)
    assert sum(loss[-3:]) / 3 < 0.85 * sum(loss[:3]) / 3, loss
    for term in (
        "loss/nce_loss",
        "loss/mil_nce_loss",
        "train/lr",
        "train/samples_per_s",
        "train/data_wait_share",
    ):
        assert term in scalars
    assert (out / "tensorboard" / CURVES_PNG).stat().st_size > 10_000
    # The saved model loads with from_pretrained and embeds.
    model = VattModel.from_pretrained(str(out / "checkpoint_00000024" / "model")).eval()
    emb = model(text_ids=torch.ones(2, 1, 4, dtype=torch.long))
    assert emb["text_vt"].shape[0] == 2
    assert read_state(str(out / "checkpoint_00000024")).step == 24


def test_evaluate_prints_retrieval_json(trained: TrainConfig, synthetic_root: Path, capsys) -> None:
    assert (
        evaluate.main(
            [
                "--checkpoint",
                trained.output,
                "--data",
                str(synthetic_root),
                "--split",
                "val",
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    n = SPEC.val_videos * SPEC.clips_per_video
    assert set(result) == {
        "n",
        "video_to_text",
        "text_to_video",
        "video_to_audio",
        "audio_to_video",
        "unreadable",
    }
    assert result["unreadable"] == {"clips": 0, "shards": 0}
    assert result["n"] == n
    for direction in ("video_to_text", "text_to_video", "video_to_audio", "audio_to_video"):
        m = result[direction]
        assert set(m) == {"R@1", "R@5", "R@10", "MedR", "n", "chance"}
        assert 0 <= m["R@1"] <= m["R@5"] <= m["R@10"] <= 100
        assert 1 <= m["MedR"] <= n


def test_a_collapsed_checkpoint_retrieves_at_chance(
    trained: TrainConfig, synthetic_root: Path, tmp_path: Path, capsys
) -> None:
    """The trained checkpoint with its common-space head weights zeroed embeds every clip, audio
    and text alike: every rank is a tie, and ties must not count in the query's favour."""
    collapsed = tmp_path / "collapsed"
    shutil.copytree(find_checkpoint(trained.output), collapsed)
    model = VattModel.from_pretrained(str(collapsed / "model"))
    with torch.no_grad():
        for name, param in model.heads.named_parameters():
            if name.endswith("weight") and "bn" not in name:
                param.zero_()
    model.save_pretrained(str(collapsed / "model"))
    args = ["--checkpoint", str(collapsed), "--data", str(synthetic_root), "--json"]
    assert evaluate.main(args) == 0
    result = json.loads(capsys.readouterr().out)
    for direction in ("video_to_text", "text_to_video", "video_to_audio", "audio_to_video"):
        m = result[direction]
        n = m["n"]
        assert n >= 6, (direction, m)
        for k in (1, 5, 10):
            assert m[f"R@{k}"] == pytest.approx(m["chance"][f"R@{k}"], abs=0.01), (direction, m)
            if "audio" in direction:  # one answer per query: chance is exactly k / n
                assert m[f"R@{k}"] == pytest.approx(100.0 * min(k, n) / n, abs=0.01)
        assert m["R@1"] < 50.0, (direction, m)


def test_resume_continues_at_the_saved_step_with_its_optimizer_state(
    trained: TrainConfig,
) -> None:
    with pytest.raises(RunExistsError):
        run(trained)  # a second run into the same folder needs --resume or --overwrite
    saved = torch.load(Path(trained.output) / "checkpoint_00000024" / "optimizer.pt")
    longer = TrainConfig(**{**trained.to_dict(), "max_steps": 28, "checkpoint_every": 4})
    result = run(longer, resume=True)
    assert result.metrics["step"] == 28
    final = Path(find_checkpoint(longer.output))
    assert final.name == "checkpoint_00000028"
    assert read_state(str(final)).resumed_at == [24]
    # Adam's per-parameter step counters continued from the checkpoint: 24 + 4, not 4.
    state = torch.load(final / "optimizer.pt")["state"]
    assert {int(s["step"]) for s in state.values()} == {28}
    assert {int(s["step"]) for s in saved["state"].values()} == {24}
    sched = torch.load(final / "scheduler.pt")
    assert sched["last_epoch"] == 28


def _training_workers() -> list[psutil.Process]:
    # Ray started by this test process: its workers are our descendants.
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if "RayTrainWorker" in " ".join(proc.cmdline()):
                found.append(proc)
        except psutil.NoSuchProcess:
            continue
    return found


def test_killed_worker_restarts_from_the_last_checkpoint(
    ray_cluster, synthetic_root: Path, tmp_path: Path
) -> None:
    tc = _config(synthetic_root, tmp_path / "killed", max_steps=60, checkpoint_every=4)
    # Kill once the Ray Train controller has registered a checkpoint: its snapshot file then
    # names it. (A checkpoint folder on disk is not enough: the controller polls the workers'
    # reports every couple of seconds, so under load it may not have taken one in yet.)
    killed: list[int] = []

    def kill_one_worker_mid_run() -> None:
        deadline = time.time() + 300
        while time.time() < deadline and registered_step(tmp_path / "killed") is None:
            time.sleep(0.05)
        workers = _training_workers()
        if workers:
            killed.append(workers[-1].pid)
            workers[-1].kill()  # SIGKILL: no chance to clean up, as when a node dies

    killer = threading.Thread(target=kill_one_worker_mid_run, daemon=True)
    killer.start()
    result = run(tc)
    killer.join(timeout=10)
    assert killed, "no training worker found to kill"
    assert result.metrics["step"] == 60
    state = read_state(find_checkpoint(tc.output))
    assert state.step == 60
    # Restarted once, from a registered checkpoint (whichever was the last when it died), not 0.
    assert len(state.resumed_at) == 1 and state.resumed_at[0] in range(4, 60, 4)


def _flip_mp4_bytes(shard: Path, nth: int = 0) -> str:
    """Invert the first 256 bytes of the `nth` mp4 member's payload in place; its key."""
    with tarfile.open(shard) as t:
        member = [m for m in t.getmembers() if m.name.endswith(".mp4")][nth]
    with open(shard, "r+b") as f:
        f.seek(member.offset_data)
        data = f.read(256)
        f.seek(member.offset_data)
        f.write(bytes(b ^ 0xFF for b in data))
    return member.name.rsplit(".", 1)[0]


def test_training_and_evaluation_go_on_over_corrupt_and_missing_shards(
    ray_cluster, synthetic_root: Path, tmp_path: Path, capsys
) -> None:
    """Bytes flipped in a tar, a shard cut short, a shard listed in dataset.json but deleted:
    training skips them, counts them in its metrics and finishes; evaluation says how many
    clips it could not read."""
    data = tmp_path / "data"
    shutil.copytree(synthetic_root, data)
    shards = data / "shards"
    _flip_mp4_bytes(shards / "train-000000.tar")
    truncate(shards / "train-000001.tar", 0.5)
    (shards / "train-000002.tar").unlink()
    _flip_mp4_bytes(shards / "val-000000.tar", nth=1)
    (shards / "val-000001.tar").unlink()

    tc = _config(data, tmp_path / "run", max_steps=6, checkpoint_every=6, log_every=1)
    assert run(tc).metrics["step"] == 6
    scalars = read_scalars(str(tmp_path / "run" / "tensorboard"))
    skipped_shards = sum(v for _, v in scalars["train/corrupt_shards"])
    skipped_samples = sum(v for _, v in scalars["train/corrupt_samples"])
    # 6 steps x 12 clips = 2 passes over what is left: the deleted and the cut shard each time.
    assert skipped_shards >= 2 and skipped_samples >= 1, (skipped_shards, skipped_samples)

    args = ["--checkpoint", tc.output, "--data", str(data), "--split", "val", "--json"]
    assert evaluate.main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["unreadable"] == {"clips": 1, "shards": 1}
    assert result["n"] == SPEC.samples_per_shard - 1
