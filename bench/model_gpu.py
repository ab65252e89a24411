"""GPU benchmark: one VATT-BBS training step (forward, NCE + MIL-NCE, backward, Adam) in bf16
autocast at batch 64 with DropToken 0.5: samples/s and model FLOPs utilisation (MFU).

    python bench/model_gpu.py                                  # cuda, bbs, batch 64, compiled
    python bench/model_gpu.py --device cpu --batch 2 --steps 1 # smoke check anywhere

Model FLOPs per step are counted by torch.utils.flop_counter on one eager step (forward and
backward matmuls and attention; a multiply-add = 2 FLOPs); MFU = achieved FLOP/s / the GPU's
dense bf16 peak (looked up by device name, or --peak-tflops). Inputs are random tensors at the
paper's geometry (32 x 224 x 224 video, 153,600 audio samples, K = 5 captions of 16 tokens),
made once on the device, so no data loading is timed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.config import VattConfig, get_config  # noqa: E402
from model.losses import vatt_loss  # noqa: E402
from model.vatt import VattModel  # noqa: E402

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


def peak_tflops(device: torch.device, override: float | None) -> float | None:
    """The device's dense bf16 peak in TFLOP/s; None when unknown (CPU without --peak-tflops)."""
    if override is not None:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_BF16_TFLOPS if key in name), None)


def make_batch(config: VattConfig, batch: int, device: torch.device) -> dict[str, torch.Tensor]:
    gen = torch.Generator(device=device).manual_seed(0)
    size, k, length = config.video_size, config.num_neighbors, config.text_max_tokens
    video = torch.rand(batch, 3, config.video_frames, size, size, device=device, generator=gen)
    text = torch.randint(1, config.vocab_size, (batch, k, length), device=device, generator=gen)
    text[:, :, 10:] = 0  # padded captions, as real ASR text is
    text[: batch // 4, 3:] = 0  # some clips with fewer than K captions
    return {
        "video": video * 2 - 1,
        "audio": torch.randn(batch, config.audio_samples, device=device, generator=gen),
        "text_ids": text,
        "text_mask": (text != 0).any(dim=-1),
    }


def train_step(
    model: VattModel, optimizer: torch.optim.Optimizer, batch: dict[str, torch.Tensor]
) -> torch.Tensor:
    device_type = batch["video"].device.type
    with torch.autocast(device_type, dtype=torch.bfloat16):
        out = model(video=batch["video"], audio=batch["audio"], text_ids=batch["text_ids"])
    loss = vatt_loss(out, text_mask=batch["text_mask"])["loss"]
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.detach()


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="bbs")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--drop", type=float, default=0.5, help="DropToken rate, video and audio")
    parser.add_argument("--steps", type=int, default=10, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps after compiling")
    parser.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="torch.compile the embeddings and Transformers (default: on for cuda)",
    )
    parser.add_argument("--peak-tflops", type=float, default=None, help="override the peak")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    use_compile = device.type == "cuda" if args.compile is None else args.compile
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(0)
    config = get_config(args.config, video_drop_rate=args.drop, audio_drop_rate=args.drop)
    model = VattModel(config).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, fused=device.type == "cuda")
    batch = make_batch(config, args.batch, device)

    # One eager step under the FLOP counter: forward + backward FLOPs of a training step.
    with FlopCounterMode(display=False) as counter:
        train_step(model, optimizer, batch)
    flops_per_step = counter.get_total_flops()

    if use_compile:
        modules = [model.video_embed, model.audio_embed, model.text_embed]
        modules += [model.transformer(m) for m in ("video", "audio", "text")]
        for module in dict.fromkeys(modules):  # the shared backbone of VATT-MA only once
            module.compile()
    for _ in range(args.warmup if use_compile else min(args.warmup, 1)):
        train_step(model, optimizer, batch)
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    start = time.perf_counter()
    for _ in range(args.steps):
        loss = train_step(model, optimizer, batch)
    synchronize(device)
    elapsed = time.perf_counter() - start

    achieved = flops_per_step * args.steps / elapsed
    peak = peak_tflops(device, args.peak_tflops)
    result = {
        "config": args.config,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "batch": args.batch,
        "drop": args.drop,
        "compiled": use_compile,
        "step_s": round(elapsed / args.steps, 4),
        "samples_per_s": round(args.batch * args.steps / elapsed, 2),
        "train_tflops_per_step": round(flops_per_step / 1e12, 3),
        "achieved_tflops": round(achieved / 1e12, 2),
        "peak_tflops": peak,
        "mfu": None if peak is None else round(achieved / (peak * 1e12), 4),
        "max_memory_gib": (
            round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
            if device.type == "cuda"
            else None
        ),
        "loss": round(float(loss), 4),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>22}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
