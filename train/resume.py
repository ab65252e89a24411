"""`--resume` with settings that differ from the run's: refused, or applied and said.

The checkpoint carries the model (its config and weights), the optimizer and the schedule's
state, so a resume with another model config, other data or another optimisation would either
be ignored silently (the model comes from the checkpoint) or mix two runs in one curve. Those
are refused, naming every field. What only decides how the run proceeds from here is applied,
and each difference is logged.
"""

from __future__ import annotations

import json
from typing import Any

from train.checkpoint import STATE_FILE, find_checkpoint
from train.config import TrainConfig
from vattclips import storage

# Applied on resume (logged): how long to go on, how often to log and checkpoint, how many
# restarts, and the machines (the same global batch on other workers is the same run).
APPLIED = (
    "max_steps",
    "log_every",
    "checkpoint_every",
    "keep_checkpoints",
    "max_failures",
    "num_workers",
    "cpus_per_worker",
    "loader_workers",
    "use_gpu",
    "compile",
    "shuffle_buffer",
    "interleave",
    "tokenizer_samples",
)
WHY = {
    "max_steps": "the learning-rate schedule now ends there",
    "num_workers": "the global batch is unchanged",
    "batch_size": "per worker; the global batch is unchanged",
}


class ResumeConflictError(ValueError):
    """--resume with a setting the run cannot take (another model, data or optimisation)."""


def _show(value: Any) -> str:
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        return value[0]  # one dataset root, as the user typed it
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value)


def run_config(output: str) -> dict[str, Any] | None:
    """The TrainConfig (as a dict) the run's latest checkpoint was written with."""
    checkpoint = find_checkpoint(output)
    state = json.loads(storage.read_bytes(storage.join(checkpoint, STATE_FILE)))
    return state.get("config")


def check_resume(tc: TrainConfig, previous: dict[str, Any]) -> list[str]:
    """The applied differences, as lines; ResumeConflictError naming every refused one."""
    now = tc.to_dict()
    try:  # a run saved by an older version: today's form of its values, defaults for new fields
        previous = type(tc).from_dict(previous).to_dict()
    except (TypeError, ValueError):
        pass  # fields this version does not know: compared as saved, each difference named
    differ = sorted(k for k in set(now) | set(previous) if now.get(k) != previous.get(k))
    differ = [k for k in differ if k != "output"]
    refused = [k for k in differ if k not in (*APPLIED, "batch_size")]
    old_batch = previous.get("batch_size", 0) * previous.get("num_workers", 0)
    if old_batch != tc.batch_size * tc.num_workers:
        refused.append("batch_size x num_workers")
    if refused:
        parts = []
        for k in refused:
            if k == "batch_size x num_workers":
                parts.append(f"global batch {old_batch} -> {tc.batch_size * tc.num_workers}")
            else:
                parts.append(f"{k} {_show(previous.get(k))} -> {_show(now.get(k))}")
        raise ResumeConflictError(
            f"--resume: {tc.output} was trained with other settings ({'; '.join(parts)}); "
            "resume with the run's settings, or start a new run in another --output"
        )
    return [
        f"{k} {_show(previous.get(k))} -> {_show(now.get(k))}"
        + (f" ({WHY[k]})" if k in WHY else "")
        for k in differ
    ]
