"""The golden loss curve: 20 pretraining steps of the `tiny` config, run in-process.

What one worker of `python -m train.pretrain` does (the run's `TrainConfig` comes from the
CLI's own parser, the model, optimizer, input spec and step from `train.loop.PRETRAINING`, the
loader from `train.data`, the schedule from `train.schedule`), minus Ray and checkpoints, on
the generated test shards (`tests/train/conftest.py` SPEC, its tokenizer recipe), with no
augmentation and no dropout (DropToken stays, seeded), one torch thread and deterministic
algorithms. The per-step losses are checked in as tests/assets/losses/tiny_20steps.txt;
`tests/train/test_golden.py` compares a fresh run with it.

    .venv/bin/python -m tests.train.golden            # run, print the curve and its differences
    .venv/bin/python -m tests.train.golden --write    # run and rewrite the checked-in file
    .venv/bin/python -m tests.train.golden --threads 2  # on 2 torch threads (a spread check)

Rewrite the file only for a change that is meant to change the maths (say why in the commit);
a refactor must leave the curve within the tolerance.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import math
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import PreTrainedTokenizerFast

from tests.train.conftest import SPEC, TEST_MODEL, word_tokenizer
from tests.train.shardgen import write_dataset
from train.config import TrainConfig
from train.data import ClipStream, batches_per_worker, make_loader
from train.loop import PRETRAINING, training_sources
from train.pretrain import build_parser, config_from_args
from train.schedule import make_scheduler

GOLDEN = Path(__file__).resolve().parents[1] / "assets" / "losses" / "tiny_20steps.txt"
STEPS = 20
TERMS = ("loss", "nce_loss", "mil_nce_loss")
# The test geometry, batch 8, the tiny recipe's clipping at 1.0, DropToken on (seeded: part of
# the maths). lr 3e-5: at the paper's 1e-4 or the demo's 5e-4 a rounding difference (another
# thread count or CPU) grows ~10x per step through the heads' BatchNorm and Adam's first,
# sign-like updates, so 20 steps could not be compared across machines; at 3e-5 the spread stays
# at ~1e-5 over all 20 steps and the loss still falls.
FLAGS = (
    *("--config", "tiny", "--max-steps", str(STEPS), "--batch-size", "8"),
    *("--num-workers", "1", "--cpus-per-worker", "1", "--loader-workers", "0"),
    *("--lr", "3e-5", "--end-lr", "1.5e-5", "--augment", "none", "--no-temporal-jitter"),
    *("--seed", "0"),
    *(f"--set={k}={v}" for k, v in {**TEST_MODEL, "attention_dropout": 0.0}.items()),
)
# |fresh - golden| <= ATOL + RTOL * |golden| for each loss term of each step: 7x the largest
# deviation measured (3.1e-5, relative 1e-5) over reruns, 1-4 threads and other CPU code paths
# (ATen, MKL, oneDNN, FFmpeg), 1/50 of the smallest planted change measured (Adam's beta2):
# docs/training.md "The golden loss curve".
RTOL = 1e-4
ATOL = 1e-5


@dataclass(frozen=True)
class Step:
    step: int
    lr: float
    losses: dict[str, float]
    batch: str  # digest of the step's batch (keys and input tensors): names a data-path change

    def line(self) -> str:
        terms = " ".join(f"{self.losses[t]:.9g}" for t in TERMS)
        return f"{self.step} {self.lr:.9g} {terms} {self.batch}"


def golden_config(root: Path) -> TrainConfig:
    """The run as `train.pretrain` parses it from FLAGS (the output folder is never written)."""
    return config_from_args(build_parser().parse_args(["--data", str(root), *FLAGS]))


def batch_digest(batch: dict) -> str:
    digest = hashlib.sha1("\n".join(batch["key"]).encode())
    for name in ("video", "audio", "text_ids", "text_mask", "audio_mask"):
        digest.update(batch[name].contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


@contextlib.contextmanager
def deterministic(threads: int) -> Iterator[None]:
    """One process's torch settings for the run, restored afterwards (the RNG too)."""
    before = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        with torch.random.fork_rng():
            yield
    finally:
        torch.set_num_threads(before[0])
        torch.use_deterministic_algorithms(before[1])


def run_steps(root: Path, tokenizer: PreTrainedTokenizerFast, threads: int = 1) -> list[Step]:
    """The first STEPS steps of the golden run: as `train.loop.run_worker` runs them on one
    rank (epochs of `batches_per_worker` batches from one endless stream)."""
    tc, task, device = golden_config(root), PRETRAINING, torch.device("cpu")
    with deterministic(threads):
        model = task.build_model(tc, None).to(device).train()  # seeds torch with tc.seed
        optimizer = task.optimizer(model, tc)
        scheduler = make_scheduler(optimizer, tc.schedule())
        cfg = model.config
        sources = training_sources(tc)
        stream = ClipStream(sources, task.spec(cfg, tc), tokenizer, tc.loader())
        total = sum(sum(s.samples) for s in sources)
        loader = make_loader(stream, batches_per_worker(total, tc.batch_size, 1, 0))
        steps: list[Step] = []
        while len(steps) < tc.max_steps:
            for batch in loader:
                lr = scheduler.get_last_lr()[0]
                losses = task.step(model, batch, device, cfg, tc, False)
                torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip or math.inf)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                scheduler.step()
                terms = {t: float(losses[t].detach()) for t in TERMS}
                steps.append(Step(len(steps) + 1, lr, terms, batch_digest(batch)))
                if len(steps) == tc.max_steps:
                    break
    return steps


def write_curve(path: Path, steps: list[Step]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = [
        "# Golden loss curve: tests/train/golden.py (20 steps of `tiny`, one worker, no Ray).",
        "# Regenerate: .venv/bin/python -m tests.train.golden --write",
        f"# step lr {' '.join(TERMS)} batch",
    ]
    path.write_text("\n".join([*header, *(s.line() for s in steps)]) + "\n")


def read_curve(path: Path) -> list[Step]:
    steps = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            step, lr, *terms, batch = line.split()
            values = dict(zip(TERMS, map(float, terms), strict=True))
            steps.append(Step(int(step), float(lr), values, batch))
    return steps


def differences(fresh: list[Step], golden: list[Step]) -> list[str]:
    """One line per step whose lr or a loss term is outside the tolerance; empty = match."""
    if [s.step for s in fresh] != [s.step for s in golden]:
        return [f"steps {[s.step for s in fresh]} != golden steps {[s.step for s in golden]}"]
    out = []
    for new, old in zip(fresh, golden):
        bad = [
            f"{t} {new.losses[t]:.7g} (golden {old.losses[t]:.7g}, "
            f"diff {new.losses[t] - old.losses[t]:+.2e})"
            for t in TERMS
            if abs(new.losses[t] - old.losses[t]) > ATOL + RTOL * abs(old.losses[t])
        ]
        if not math.isclose(new.lr, old.lr, rel_tol=1e-8):
            bad.append(f"lr {new.lr:.9g} (golden {old.lr:.9g})")
        if bad:
            data = "same batch" if new.batch == old.batch else "OTHER BATCH (data path changed)"
            out.append(f"step {new.step}: {'; '.join(bad)} [{data}]")
    return out


def max_deviation(fresh: list[Step], golden: list[Step]) -> tuple[float, float]:
    """Largest |diff| and largest |diff| / |golden| over all steps and terms."""
    diffs = [
        (abs(n.losses[t] - o.losses[t]), abs(n.losses[t] - o.losses[t]) / abs(o.losses[t]))
        for n, o in zip(fresh, golden)
        for t in TERMS
    ]
    return max(d for d, _ in diffs), max(r for _, r in diffs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite {GOLDEN.name}")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vatt-golden-") as tmp:
        root = write_dataset(Path(tmp), SPEC)
        steps = run_steps(root, word_tokenizer(root), args.threads)
    for s in steps:
        print(s.line())
    if args.write:
        write_curve(GOLDEN, steps)
        print(f"wrote {GOLDEN}")
        return 0
    golden = read_curve(GOLDEN)
    absolute, relative = max_deviation(steps, golden)
    print(f"max |diff| {absolute:.3e}, max |diff|/|golden| {relative:.3e} (tolerance: ", end="")
    print(f"{ATOL:g} + {RTOL:g} x |golden|)")
    problems = differences(steps, golden)
    print("\n".join(problems) or "matches the golden curve")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
