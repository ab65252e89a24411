"""Training metrics: per-step accumulation, averaging over ranks, TensorBoard, progress line,
and PNG curves at the end."""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict

import torch
import torch.distributed as dist

logger = logging.getLogger(__name__)

LOSS_TAGS = ("loss", "nce_loss", "mil_nce_loss")
FROM = "samples_from_"  # + source name: clips drawn from each dataset of a mixture
COUNTS = ("corrupt_", FROM)  # metrics summed (over steps and ranks), not averaged


class StepMeter:
    """Sums over the steps since the last `flush`: loss terms, time waiting for data, time in
    total, samples and skipped data."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._sums: dict[str, float | torch.Tensor] = defaultdict(float)
        self._steps = 0
        self._samples = 0
        self._wait = 0.0
        self._start = time.perf_counter()

    def add(self, losses: dict[str, float], samples: int, data_wait: float, skips: dict) -> None:
        """One step of this rank: its loss terms, its samples, seconds it waited for the batch,
        and the skip counts that came with the batch. A value on the GPU is summed there:
        `float()` of it would make the CPU wait for the step, every step."""
        for name, value in {**losses, **skips}.items():
            on_device = isinstance(value, torch.Tensor) and value.device.type != "cpu"
            self._sums[name] = self._sums[name] + (value.detach() if on_device else float(value))
        self._steps += 1
        self._samples += samples
        self._wait += data_wait

    def flush(self, device: torch.device) -> dict[str, float]:
        """Metrics since the last flush, losses averaged and counts summed over all ranks
        (a collective: every rank calls it at the same step)."""
        elapsed = time.perf_counter() - self._start
        names = sorted(self._sums)
        values = [self._sums[n] for n in names] + [self._steps, self._samples, self._wait, elapsed]
        local = torch.stack(
            [torch.as_tensor(v, dtype=torch.float64, device=device).reshape(()) for v in values]
        )
        world = 1
        if dist.is_available() and dist.is_initialized():
            world = dist.get_world_size()
            dist.all_reduce(local)
        values = local.tolist()
        steps = max(1.0, values[len(names)] / world)
        samples, wait, elapsed = values[len(names) + 1 :]
        out: dict[str, float] = {}
        for name, value in zip(names, values):
            # Loss terms: mean over steps and ranks; skip and source counters: totals.
            out[name] = value if name.startswith(COUNTS) else value / (steps * world)
        out["samples_per_s"] = samples / max(1e-9, elapsed / world)
        out["data_wait_share"] = wait / max(1e-9, elapsed)
        out["step_time_s"] = elapsed / world / steps
        self._reset()
        return out


def progress_line(step: int, max_steps: int, metrics: dict[str, float]) -> str:
    terms = " ".join(f"{t} {metrics[t]:.4f}" for t in LOSS_TAGS if t in metrics)
    drawn = {k[len(FROM) :]: int(v) for k, v in metrics.items() if k.startswith(FROM)}
    mix = ""
    if drawn:
        total = max(1, sum(drawn.values()))
        mix = " | from " + ", ".join(f"{n} {c} ({100 * c / total:.0f}%)" for n, c in drawn.items())
    return (
        f"step {step}/{max_steps} | {terms} | lr {metrics.get('lr', 0):.2e} | "
        f"{metrics['samples_per_s']:.1f} samples/s | {metrics['step_time_s']:.2f} s/step | "
        f"data wait {100 * metrics['data_wait_share']:.0f}% | "
        f"skipped {int(metrics.get('corrupt_samples', 0))} samples "
        f"{int(metrics.get('corrupt_shards', 0))} shards{mix}"
    )


class MetricsWriter:
    """TensorBoard event files in `logdir` (local), written by rank 0."""

    def __init__(self, logdir: str) -> None:
        from torch.utils.tensorboard import SummaryWriter

        os.makedirs(logdir, exist_ok=True)
        self.logdir = logdir
        self._writer = SummaryWriter(logdir)

    def write(self, step: int, metrics: dict[str, float]) -> None:
        for name, value in metrics.items():
            group = "loss" if name in LOSS_TAGS else "train"
            self._writer.add_scalar(f"{group}/{name}", value, step)
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


def read_scalars(logdir: str) -> dict[str, list[tuple[int, float]]]:
    """Every scalar series in the event files of `logdir`, as sorted (step, value) lists.

    After a restart from a checkpoint the steps past it are logged twice; the later run wins
    (TensorBoard's accumulator purges the orphaned points)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(logdir, size_guidance={"scalars": 0})
    acc.Reload()
    return {
        tag: sorted((e.step, e.value) for e in acc.Scalars(tag)) for tag in acc.Tags()["scalars"]
    }


def plot_curves(logdir: str, png_path: str) -> str:
    """Loss terms, learning rate, throughput and data-wait share against step, as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = read_scalars(logdir)
    panels = [
        ("loss", [f"loss/{t}" for t in LOSS_TAGS]),
        ("learning rate", ["train/lr"]),
        ("samples/s", ["train/samples_per_s"]),
        ("data-wait share", ["train/data_wait_share"]),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for ax, (title, tags) in zip(axes.flat, panels):
        for tag in tags:
            if series.get(tag):
                steps, values = zip(*series[tag])
                ax.plot(steps, values, label=tag.split("/", 1)[1])
        ax.set_title(title)
        ax.set_xlabel("step")
        if len(tags) > 1:
            ax.legend()
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return png_path
