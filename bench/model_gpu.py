"""GPU benchmark of VATT training: step time, samples/s, MFU, memory, eval rate, a profile.

One self-contained command for a GPU machine (it needs torch and transformers only: no Ray,
Beam or data files), writing its results to a folder:

    python bench/model_gpu.py --out results/           # the whole sweep, < 5 min on an H200
    python bench/model_gpu.py --device cpu --steps 1 --configs tiny --batches 2 --out /tmp/r

What it runs, in this order, each part skipped (and recorded so) when the time budget
(`--budget-s`) would be passed:
1. the training step of `train/step.py` (the code `train/loop.py` runs: bf16 autocast,
   NCE + MIL-NCE, backward, the fused Adam of `make_optimizer`) for every config x DropToken
   rate x batch, eager; a config that does not fit the memory is recorded as "oom";
2. a torch.profiler table of one configuration (top kernels by device time), which names the
   attention kernels that ran (flash / cuDNN / memory-efficient / math), and the count of
   host synchronisations in one step (`torch.cuda.set_sync_debug_mode`);
3. the same step with the loss's gather path (`gather=True`) in a one-rank process group
   against the plain loss, as a 1-GPU DDP run takes it;
4. the forward-only evaluation rate (no DropToken, no gradients) per config and batch;
5. the training step again with `torch.compile` for the first configurations.

FLOPs: torch.utils.flop_counter on one eager step, as `python -m model.summary` counts them
(matmuls, convolutions and attention; a multiply-add = 2 FLOPs), forward + backward. MFU =
those FLOPs per second / the dense bf16 peak of the device (989 TFLOP/s for an H100/H200 SXM,
by the datasheet; `--peak-tflops` to override). Inputs are random tensors at the config's
geometry (32 x 224 x 224 video, 153,600 audio samples, K = 5 captions of 16 tokens for the
paper configs) made once on the device: no data loading is timed. The loader's side is
`bench/loader.py` (clips/s per CPU core): `loader_cores_per_gpu` = samples/s of the step /
`--loader-clips-per-core` says how many cores one GPU needs at the measured rate.

Files in `--out`: train.jsonl, eval.jsonl, compile.jsonl (one JSON object per run), gather.json,
profile.txt, summary.json (everything, plus the environment); a table is printed last.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.config import VattConfig, get_config  # noqa: E402
from model.vatt import VattModel  # noqa: E402
from train.step import make_optimizer, train_step  # noqa: E402

# Dense bf16 peak TFLOP/s (no sparsity), matched against torch.cuda.get_device_name().
PEAK_BF16_TFLOPS = (
    ("H100 PCIe", 756.0),
    ("H100", 989.0),
    ("H200", 989.0),
    ("GH200", 989.0),
    ("B200", 2250.0),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L4", 121.0),
    ("A10", 125.0),
)
# Kernel-name fragments of the attention backends, as the profiler shows them.
ATTENTION_KERNELS = (
    ("flash", ("flash",)),
    ("cudnn", ("cudnn", "sdpa")),
    ("memory_efficient", ("fmha", "efficient", "cutlassF", "cutlassB")),
)
# Clips per second per CPU core of the loader at 32x224x224 + 48 kHz audio, measured by
# `bench/loader.py` on the development machine (docs/scaling.md).
LOADER_CLIPS_PER_CORE = 25.0


def peak_tflops(device: torch.device, override: float | None) -> float | None:
    """The device's dense bf16 peak in TFLOP/s; None when unknown (CPU without --peak-tflops)."""
    if override is not None:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_BF16_TFLOPS if key in name), None)


def make_batch(config: VattConfig, batch: int, device: torch.device) -> dict[str, torch.Tensor]:
    """Random inputs in the form `train.step.to_device` gives (video already in [-1, 1])."""
    gen = torch.Generator(device=device).manual_seed(0)
    size, k, length = config.video_size, config.num_neighbors, config.text_max_tokens
    video = torch.rand(batch, 3, config.video_frames, size, size, device=device, generator=gen)
    text = torch.randint(1, config.vocab_size, (batch, k, length), device=device, generator=gen)
    text[:, :, 10:] = 0  # padded captions, as real ASR text is
    text[: batch // 4, 3:] = 0  # some clips with fewer than K captions
    return {
        "video": video * 2 - 1,
        "audio": torch.randn(batch, config.audio_samples, device=device, generator=gen),
        "audio_mask": torch.ones(batch, dtype=torch.bool, device=device),
        "text_ids": text,
        "text_mask": (text != 0).any(dim=-1),
    }


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Bench:
    """Holds the options, the device, the clock of the budget and the results."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.device = torch.device(args.device)
        self.peak = peak_tflops(self.device, args.peak_tflops)
        self.t0 = time.monotonic()
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.results: dict[str, Any] = {"train": [], "eval": [], "compile": [], "skipped": []}

    # -- budget -------------------------------------------------------------------------------
    def left(self) -> float:
        return self.args.budget_s - (time.monotonic() - self.t0)

    def affordable(self, what: str, estimate_s: float) -> bool:
        if self.left() >= estimate_s:
            return True
        self.results["skipped"].append({"what": what, "estimate_s": round(estimate_s, 1)})
        print(f"skip {what}: ~{estimate_s:.0f} s needed, {self.left():.0f} s of budget left")
        return False

    def record(self, kind: str, row: dict[str, Any]) -> None:
        self.results[kind].append(row)
        with open(self.out / f"{kind}.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)

    # -- pieces -------------------------------------------------------------------------------
    def model(self, name: str, drop: float) -> tuple[VattModel, VattConfig]:
        torch.manual_seed(0)
        config = get_config(name, video_drop_rate=drop, audio_drop_rate=drop)
        return VattModel(config).to(self.device).train(), config

    def timed(self, fn: Callable[[], Any], steps: int, warmup: int) -> float:
        """Seconds per call of `fn` after `warmup` calls (device events on a GPU)."""
        for _ in range(warmup):
            fn()
        synchronize(self.device)
        if self.device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(steps):
                fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1000 / steps
        start_s = time.perf_counter()
        for _ in range(steps):
            fn()
        return (time.perf_counter() - start_s) / steps

    def step_fn(
        self, forward: torch.nn.Module, config: VattConfig, batch: dict, gather: bool = False
    ) -> Callable[[], dict[str, torch.Tensor]]:
        optimizer = make_optimizer(forward.parameters(), 1e-4, self.device)
        autocast = self.device.type == "cuda"

        def step() -> dict[str, torch.Tensor]:
            losses = train_step(forward, batch, config, autocast, gather)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            return losses

        return step

    def rates(self, seconds: float, batch: int, flops: float) -> dict[str, Any]:
        achieved = flops / seconds
        cores = batch / seconds / self.args.loader_clips_per_core
        return {
            "step_s": round(seconds, 4),
            "samples_per_s": round(batch / seconds, 2),
            "achieved_tflops": round(achieved / 1e12, 2),
            "mfu": None if self.peak is None else round(achieved / (self.peak * 1e12), 4),
            "loader_cores_per_gpu": round(cores, 1),
        }

    def peak_memory(self) -> float | None:
        if self.device.type != "cuda":
            return None
        return round(torch.cuda.max_memory_allocated(self.device) / 2**30, 2)

    def reset_memory(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)

    # -- 1. training steps (5. compiled) -------------------------------------------------------
    def train_run(
        self, name: str, drop: float, batch_size: int, compiled: bool = False
    ) -> dict[str, Any]:
        row: dict[str, Any] = {"config": name, "drop": drop, "batch": batch_size}
        self.reset_memory()
        try:
            model, config = self.model(name, drop)
            batch = make_batch(config, batch_size, self.device)
            step = self.step_fn(model, config, batch)
            with FlopCounterMode(display=False) as counter:
                step()
            flops = counter.get_total_flops()
            if compiled:
                row["compile_s"] = self.compile(model, step)
            seconds = self.timed(step, self.args.steps, self.args.warmup)
            loss = float(step()["loss"].detach())
        except torch.OutOfMemoryError:
            row["status"] = "oom"
            return row
        finally:
            model = batch = step = None  # noqa: F841 - free before the next configuration
        row.update(status="ok", train_flops_per_step=flops)
        row["train_tflops_per_step"] = round(flops / 1e12, 3)
        row.update(self.rates(seconds, batch_size, flops))
        row.update(max_memory_gib=self.peak_memory(), loss=round(loss, 4))
        return row

    def compile(self, model: VattModel, step: Callable[[], Any]) -> float:
        """torch.compile the tokenizers and backbones (as `train.pretrain --compile` compiles
        the model) and run the first, compiling, step; returns its seconds."""
        modules = [model.video_embed, model.audio_embed, model.text_embed]
        modules += [model.transformer(m) for m in ("video", "audio", "text")]
        for module in dict.fromkeys(modules):  # the shared backbone of VATT-MA once
            module.compile(dynamic=False)
        start = time.monotonic()
        step()
        synchronize(self.device)
        return round(time.monotonic() - start, 1)

    # -- 2. profile ------------------------------------------------------------------------------
    def profile(self, name: str, drop: float, batch_size: int) -> dict[str, Any]:
        from torch.profiler import ProfilerActivity, profile

        model, config = self.model(name, drop)
        batch = make_batch(config, batch_size, self.device)
        step = self.step_fn(model, config, batch)
        for _ in range(2):
            step()
        synchronize(self.device)
        syncs = self.count_syncs(step)
        activities = [ProfilerActivity.CPU]
        if self.device.type == "cuda":
            activities.append(ProfilerActivity.CUDA)
        with profile(activities=activities) as prof:
            for _ in range(2):
                step()
            synchronize(self.device)
        sort = "self_device_time_total" if self.device.type == "cuda" else "self_cpu_time_total"
        try:
            table = prof.key_averages().table(sort_by=sort, row_limit=30)
        except (AttributeError, KeyError):  # older torch: "cuda" instead of "device"
            table = prof.key_averages().table(sort_by=sort.replace("device", "cuda"), row_limit=30)
        (self.out / "profile.txt").write_text(
            f"{name} drop {drop} batch {batch_size}, 2 training steps\n\n{table}\n"
        )
        names = [e.key for e in prof.key_averages()]
        backends = sorted(
            backend
            for backend, parts in ATTENTION_KERNELS
            if any(p.lower() in n.lower() for n in names for p in parts)
        )
        return {
            "config": name,
            "drop": drop,
            "batch": batch_size,
            "attention_backends": backends or ["math (no fused attention kernel seen)"],
            "host_syncs_per_step": syncs,
            "top_kernels": table.splitlines()[3:13],
        }

    def count_syncs(self, step: Callable[[], Any]) -> int | None:
        """Synchronising CUDA calls made by one step (each stalls the CPU on the GPU)."""
        if self.device.type != "cuda":
            return None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                step()
            finally:
                torch.cuda.set_sync_debug_mode("default")
        return sum("synchroniz" in str(w.message) for w in caught)

    # -- 3. the loss's gather path ------------------------------------------------------------
    def gather_cost(self, name: str, drop: float, batch_size: int) -> dict[str, Any]:
        import torch.distributed as dist

        backend = "nccl" if self.device.type == "cuda" else "gloo"
        store = dist.FileStore(str(self.out / ".gather-store"), 1)
        dist.init_process_group(backend, store=store, rank=0, world_size=1)
        try:
            model, config = self.model(name, drop)
            batch = make_batch(config, batch_size, self.device)
            out: dict[str, Any] = {"config": name, "drop": drop, "batch": batch_size}
            for gather in (False, True, False, True):  # interleaved: drift hits both alike
                step = self.step_fn(model, config, batch, gather=gather)
                seconds = self.timed(step, self.args.steps, self.args.warmup)
                out.setdefault(f"gather_{gather}_step_s", []).append(round(seconds, 4))
            plain = min(out["gather_False_step_s"])
            gathered = min(out["gather_True_step_s"])
            out["overhead"] = round(gathered / plain - 1, 4)
            return out
        finally:
            dist.destroy_process_group()

    # -- 4. evaluation forward -------------------------------------------------------------------
    def eval_run(self, name: str, batch_size: int) -> dict[str, Any]:
        row: dict[str, Any] = {"config": name, "batch": batch_size}
        self.reset_memory()
        try:
            model, config = self.model(name, 0.0)
            model.eval()
            batch = make_batch(config, batch_size, self.device)
            autocast = self.device.type == "cuda"

            @torch.no_grad()
            def forward() -> dict[str, torch.Tensor]:
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=autocast):
                    return model(
                        video=batch["video"], audio=batch["audio"], text_ids=batch["text_ids"]
                    )

            with FlopCounterMode(display=False) as counter:
                forward()
            flops = counter.get_total_flops()
            seconds = self.timed(forward, self.args.steps, self.args.warmup)
        except torch.OutOfMemoryError:
            row["status"] = "oom"
            return row
        finally:
            model = batch = None  # noqa: F841
        row.update(status="ok", forward_tflops=round(flops / 1e12, 3))
        row.update(self.rates(seconds, batch_size, flops))
        row["max_memory_gib"] = self.peak_memory()
        return row

    # -- the sweep ---------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        a = self.args
        grid = [(c, d, b) for c in a.configs for d in a.drops for b in a.batches]
        per_step = 1.5 if self.device.type == "cuda" else 60.0  # a first guess, then measured
        for name, drop, batch in grid:
            steps = a.steps + a.warmup + 2
            if self.affordable(f"train {name} drop {drop} batch {batch}", steps * per_step):
                row = self.train_run(name, drop, batch)
                self.record("train", row)
                if row["status"] == "ok":
                    per_step = max(per_step * 0.5, row["step_s"] * 1.5)
        first = grid[0]
        if a.profile and self.affordable(f"profile {first}", 6 * per_step + 10):
            self.results["profile"] = self.profile(*first)
            print(json.dumps({k: v for k, v in self.results["profile"].items()}), flush=True)
        if a.gather and self.affordable(f"gather {first}", 4 * (a.steps + a.warmup) * per_step):
            self.results["gather"] = self.gather_cost(*first)
            (self.out / "gather.json").write_text(json.dumps(self.results["gather"], indent=1))
            print(json.dumps(self.results["gather"]), flush=True)
        for name in a.configs:
            for batch in a.batches:
                if self.affordable(f"eval {name} batch {batch}", (a.steps + a.warmup) * per_step):
                    self.record("eval", self.eval_run(name, batch))
        for name, drop, batch in grid[: a.compile_runs]:
            estimate = a.compile_estimate_s + (a.steps + a.warmup) * per_step
            if self.affordable(f"compile {name} drop {drop} batch {batch}", estimate):
                self.record("compile", self.train_run(name, drop, batch, compiled=True))
        self.results["environment"] = environment(self.device, self.peak)
        self.results["wall_s"] = round(time.monotonic() - self.t0, 1)
        (self.out / "summary.json").write_text(json.dumps(self.results, indent=1))
        return self.results


def environment(device: torch.device, peak: float | None) -> dict[str, Any]:
    env: dict[str, Any] = {"torch": torch.__version__, "peak_tflops": peak, "device": str(device)}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env.update(
            name=props.name,
            memory_gib=round(props.total_memory / 2**30, 1),
            multiprocessors=props.multi_processor_count,
            cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version(),
        )
    env["cpus"] = os.cpu_count()
    return env


def table(results: dict[str, Any]) -> str:
    lines = [
        f"{'run':<8}{'config':<10}{'drop':>6}{'batch':>7}{'step s':>9}{'samples/s':>11}"
        f"{'TFLOP/s':>9}{'MFU':>7}{'GiB':>7}{'cores':>7}"
    ]
    for kind in ("train", "compile", "eval"):
        for r in results[kind]:
            if r["status"] != "ok":
                lines.append(
                    f"{kind:<8}{r['config']:<10}{r.get('drop', 0.0):>6}{r['batch']:>7}  oom"
                )
                continue
            mfu = f"{100 * r['mfu']:.1f}%" if r["mfu"] is not None else "-"
            mem = f"{r['max_memory_gib']:.1f}" if r["max_memory_gib"] is not None else "-"
            lines.append(
                f"{kind:<8}{r['config']:<10}{r.get('drop', 0.0):>6}{r['batch']:>7}"
                f"{r['step_s']:>9.3f}{r['samples_per_s']:>11.1f}{r['achieved_tflops']:>9.1f}"
                f"{mfu:>7}{mem:>7}{r['loader_cores_per_gpu']:>7}"
            )
    if "gather" in results:
        lines.append(
            f"gather path overhead (world size 1): {100 * results['gather']['overhead']:.1f}%"
        )
    if "profile" in results:
        p = results["profile"]
        lines.append(
            f"attention kernels: {', '.join(p['attention_backends'])}; "
            f"host syncs per step: {p['host_syncs_per_step']}"
        )
    for s in results["skipped"]:
        lines.append(f"skipped (budget): {s['what']}")
    return "\n".join(lines)


def csv_list(kind: type) -> Callable[[str], list]:
    return lambda text: [kind(x) for x in text.split(",") if x]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python bench/model_gpu.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", required=True, help="folder for the JSON results")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--configs", type=csv_list(str), default=["bbs", "mbs"])
    parser.add_argument("--drops", type=csv_list(float), default=[0.5, 0.0], help="DropToken")
    parser.add_argument("--batches", type=csv_list(int), default=[64, 128, 256])
    parser.add_argument("--steps", type=int, default=5, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps before timing")
    parser.add_argument("--compile-runs", type=int, default=2, help="first N grid points")
    parser.add_argument("--compile-estimate-s", type=float, default=90.0)
    parser.add_argument("--budget-s", type=float, default=280.0, help="stop starting new runs")
    parser.add_argument("--profile", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--gather", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--peak-tflops", type=float, default=None, help="override the peak")
    parser.add_argument("--loader-clips-per-core", type=float, default=LOADER_CLIPS_PER_CORE)
    args = parser.parse_args(argv)
    if args.device.startswith("cuda"):
        if not torch.cuda.is_available():
            print("error: --device cuda but torch sees no GPU (use --device cpu)", file=sys.stderr)
            return 2
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    results = Bench(args).run()
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
