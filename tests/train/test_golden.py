"""The golden loss curve: 20 steps of `tiny` on the test shards reproduce the checked-in losses.

A change to the model, the losses, the optimizer, the schedule or the data path moves the
curve (a layer of the heads, the temperature, mil_nce_weight or a permute of the patch
reshape all fail it). When a change is meant to change the maths, regenerate the file and
say why in the commit:

    .venv/bin/python -m tests.train.golden --write

The run and the tolerance (measured across processes, thread counts and CPU code paths) are
described in tests/train/golden.py and docs/training.md.
"""

from __future__ import annotations

from pathlib import Path

from tests.train.golden import ATOL, GOLDEN, RTOL, STEPS, differences, read_curve, run_steps


def test_the_golden_file_is_a_falling_curve_of_all_steps() -> None:
    golden = read_curve(GOLDEN)
    assert [s.step for s in golden] == list(range(1, STEPS + 1))
    first, last = golden[:5], golden[-5:]
    assert sum(s.losses["loss"] for s in last) < sum(s.losses["loss"] for s in first)
    for s in golden:  # the total is the paper's sum of the two terms (mil_nce_weight 1)
        assert abs(s.losses["loss"] - s.losses["nce_loss"] - s.losses["mil_nce_loss"]) < 1e-5


def test_tiny_run_reproduces_the_golden_loss_curve(synthetic_root: Path, tokenizer) -> None:
    fresh = run_steps(synthetic_root, tokenizer)
    problems = differences(fresh, read_curve(GOLDEN))
    assert not problems, (
        f"the loss curve left the golden one ({GOLDEN.name}, tolerance {ATOL:g} + {RTOL:g} x "
        "|golden|):\n" + "\n".join(problems) + "\nif the maths is meant to change: "
        ".venv/bin/python -m tests.train.golden --write"
    )
