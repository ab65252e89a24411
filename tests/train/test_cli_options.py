"""The training CLIs are built from TrainConfig / FinetuneConfig fields; the loader's and the
schedule's settings are declared once, in LoaderConfig / ScheduleConfig; named runs."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import subprocess
from pathlib import Path

import pytest

from clifields import cli_fields
from train import downstream, evaluate, finetune, linear_probe, pretrain, zero_shot
from train.config import TrainConfig
from train.finetune_config import FinetuneConfig
from train.loader_config import LoaderConfig
from train.runs import RUNS, demo, paper, paper_bbs
from train.schedule import ScheduleConfig

ROOT = Path(__file__).resolve().parents[2]
# What the Makefile's PRETRAIN_ARGS held before `make pretrain` called the named run `demo`.
FORMER_DEMO_ARGS = (
    "--config tiny --max-steps 900 --batch-size 16 --num-workers 1 --cpus-per-worker 2 "
    "--loader-workers 1 --log-every 50 --checkpoint-every 300 --lr 5e-4 --augment light "
    "--set dropout=0.0 --set attention_dropout=0.0"
)
WHERE = ["--data", "data/demo/shards", "--output", "runs/demo"]


def _config(argv: list[str]) -> TrainConfig:
    return pretrain.config_from_args(pretrain.parse_args(argv))


def _flat_help(parser: argparse.ArgumentParser, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COLUMNS", "1000")
    return " ".join(parser.format_help().split())


@pytest.mark.parametrize(
    ("module", "cls", "skip"),
    [(pretrain, TrainConfig, ()), (finetune, FinetuneConfig, finetune.NOT_OFFERED)],
)
def test_every_setting_is_explained_with_its_default(monkeypatch, module, cls, skip):
    text = _flat_help(module.build_parser(), monkeypatch)
    settings = list(cli_fields(cls, skip))
    assert len(settings) >= 20
    for f in settings:
        help_text = " ".join(f.metadata["help"].split())
        assert help_text in text, f.name
        if f.name != "data":
            assert f"{help_text} (default: " in text, f.name


@pytest.mark.parametrize(
    "module", [pretrain, finetune, evaluate, linear_probe, zero_shot, downstream]
)
def test_every_option_has_help(module):
    for action in module.build_parser()._actions:
        assert action.help, f"{module.__name__} {action.option_strings}"


# the flags before the parsers were built from the fields (README, docs/, tests use them)
FORMER_FLAGS = {
    pretrain: "--data --data-weights --config --output --max-steps --batch-size "
    "--global-batch-size --num-workers --cpus-per-worker --loader-workers --use-gpu --compile "
    "--resume --overwrite --lr --end-lr --warmup-steps --grad-clip --temporal-jitter "
    "--no-temporal-jitter --log-every --checkpoint-every --keep-checkpoints --max-failures "
    "--augment --shuffle-buffer --seed --set",
    finetune: "--checkpoint --from-scratch --data --output --modality --max-steps --batch-size "
    "--num-workers --cpus-per-worker --loader-workers --lr --end-lr --warmup-steps --grad-clip "
    "--momentum --weight-decay --label-smoothing --classifier-dropout --test-crops --log-every "
    "--checkpoint-every --keep-checkpoints --max-failures --augment --shuffle-buffer --seed "
    "--use-gpu --resume --overwrite --set --json",
}


@pytest.mark.parametrize("module", list(FORMER_FLAGS))
def test_the_former_flags_keep_their_names(module):
    former = set(FORMER_FLAGS[module].split())
    flags = {s for a in module.build_parser()._actions for s in a.option_strings}
    assert former <= flags, former - flags


def test_loader_and_schedule_settings_are_theirs_under_the_cli_names():
    # TrainConfig's defaults are LoaderConfig's and ScheduleConfig's (max_steps: a short run)
    tc = TrainConfig(data="d")
    assert tc.loader() == LoaderConfig()
    assert tc.schedule() == ScheduleConfig(total_steps=1000)
    tc = TrainConfig(
        data="d", batch_size=3, loader_workers=0, shuffle_buffer=5, interleave=2, seed=4
    )
    assert tc.loader() == LoaderConfig(3, 0, 5, 2, 4)
    tc = TrainConfig(data="d", lr=0.1, end_lr=0.01, warmup_steps=2, max_steps=20)
    assert tc.schedule() == ScheduleConfig(0.1, 0.01, 2, 20)
    fc = FinetuneConfig(data="d", lr=0.2)  # the fine-tuning recipe's schedule
    assert fc.schedule() == ScheduleConfig(0.2, 0.0, 2500, 1000, half_cosine=True)


def test_the_demo_run_is_the_makefiles_former_settings():
    assert _config([*WHERE, "--run", "demo"]) == _config([*WHERE, *FORMER_DEMO_ARGS.split()])
    assert demo(data=["d"]) == TrainConfig(
        data=["d"],
        config="tiny",
        max_steps=900,
        batch_size=16,
        num_workers=1,
        cpus_per_worker=2,
        loader_workers=1,
        log_every=50,
        checkpoint_every=300,
        lr=5e-4,
        augment="light",
        overrides={"dropout": 0.0, "attention_dropout": 0.0},
    )


def test_make_pretrain_calls_the_demo_run():
    dry = subprocess.run(
        ["make", "-n", "--no-print-directory", "pretrain"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(s for s in dry.stdout.splitlines() if "-m train.pretrain" in s)
    argv = shlex.split(line.split("-m train.pretrain", 1)[1])
    assert "--run" in argv and "demo" in argv
    former = [*WHERE, "--overwrite", *FORMER_DEMO_ARGS.split()]
    assert _config(argv) == _config(former)
    assert pretrain.command_from_args(pretrain.parse_args(argv)).overwrite


def test_options_given_change_the_named_run():
    tc = _config([*WHERE, "--run", "demo", "--max-steps", "10", "--set", "video_frames=8"])
    assert tc.max_steps == 10 and tc.lr == 5e-4  # the rest is the demo's
    assert tc.overrides == {"dropout": 0.0, "attention_dropout": 0.0, "video_frames": 8}
    # the recipe's clipping follows the model config the run ends up with
    assert _config([*WHERE, "--run", "demo"]).grad_clip == 1.0
    assert _config([*WHERE, "--run", "demo", "--config", "bbs"]).grad_clip == 0.0
    tc = _config(
        [*WHERE, "--run", "paper_bbs", "--num-workers", "128", "--global-batch-size", "2048"]
    )
    assert (tc.num_workers, tc.batch_size, tc.max_steps) == (128, 16, 500_000)


def test_the_paper_runs_are_the_papers_recipe():
    tc = paper_bbs(data=["d"])
    assert tc.config == "bbs" and tc.batch_size * tc.num_workers == 2048
    assert (tc.max_steps, tc.lr, tc.end_lr, tc.warmup_steps) == (500_000, 1e-4, 5e-5, 10_000)
    assert tc.grad_clip == 0.0 and tc.augment == "paper" and tc.use_gpu
    for name, run in RUNS.items():
        if name.startswith("paper_"):
            config = run(data=["d"]).config
            assert dataclasses.replace(run(data=["d"]), config="bbs") == paper(data=["d"])
            assert config.replace("-", "_") == name.removeprefix("paper_")


def test_run_and_batch_errors_are_argument_errors(capsys):
    for argv in (
        [*WHERE, "--run", "nope"],
        [*WHERE, "--batch-size", "4", "--global-batch-size", "8"],
    ):
        with pytest.raises(SystemExit) as exit_:
            pretrain.parse_args(argv)
        assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'nope'" in err
    assert "--global-batch-size: not allowed with argument --batch-size" in err
