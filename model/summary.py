"""Parameter counts per part, tokens per modality and forward GFLOPs of a named config.

    python -m model.summary bbs [--json]

Models are built on the `meta` device (no memory, no compute), so even VATT-LBS is summarised in
seconds. FLOPs are counted by `torch.utils.flop_counter` (a multiply-add = 2 FLOPs; matmuls and
attention, not elementwise ops), per sample, with one 16-token caption per clip.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from model.config import CONFIG_NAMES, VattConfig, get_config
from model.vatt import MODALITIES, VattModel

# The batch the FLOPs are counted on: BatchNorm in train() mode needs more than one sample.
_FLOP_BATCH = 2


def parameter_counts(model: VattModel) -> dict[str, int]:
    """Parameters per part: video, audio, text, heads (and shared for VATT-MA), word_embeddings
    (the vocabulary table, counted apart) and total (every part but the word embeddings)."""
    counts = dict.fromkeys((*MODALITIES, "heads"), 0)
    if model.config.modality_agnostic:
        counts["shared"] = 0
    word_table = model.text_embed.words.weight
    for name, param in model.named_parameters():
        if param is word_table:
            continue
        part = name.split("_", 1)[0] if not name.startswith("heads.") else "heads"
        if part not in counts:
            raise KeyError(f"parameter {name!r} belongs to no known part")
        counts[part] += param.numel()
    counts["word_embeddings"] = word_table.numel()
    counts["total"] = sum(v for k, v in counts.items() if k != "word_embeddings")
    return counts


def meta_model(config: VattConfig) -> VattModel:
    """The model on the meta device: shapes only."""
    with torch.device("meta"):
        return VattModel(config)


def example_inputs(config: VattConfig, batch: int, device: str | torch.device) -> dict[str, Any]:
    """Inputs at the config's geometry: video, audio and one full-length caption per clip."""
    return {
        "video": torch.zeros(
            batch, 3, config.video_frames, config.video_size, config.video_size, device=device
        ),
        "audio": torch.zeros(batch, config.audio_samples, device=device),
        "text_ids": torch.ones(batch, 1, config.text_max_tokens, dtype=torch.long, device=device),
    }


def forward_gflops(model: VattModel, drop_rate: float) -> float:
    """Forward GFLOPs per sample with DropToken at `drop_rate` on video and audio."""
    config = model.config
    device = next(model.parameters()).device
    saved = (model.video_embed.drop_rate, model.audio_embed.drop_rate, model.training)
    model.video_embed.drop_rate = model.audio_embed.drop_rate = drop_rate
    model.train(drop_rate > 0)  # DropToken runs in train() mode only
    try:
        # Not under no_grad: FlopCounterMode's module tracker trips over views of parameters
        # made in no_grad mode (the text positions of VATT-MA); meta tensors cost nothing.
        with FlopCounterMode(display=False) as counter:
            model(**example_inputs(config, _FLOP_BATCH, device))
    finally:
        model.video_embed.drop_rate, model.audio_embed.drop_rate = saved[:2]
        model.train(saved[2])
    return counter.get_total_flops() / _FLOP_BATCH / 1e9


def summarize(name: str) -> dict[str, Any]:
    """The summary of config `name`: parameter counts at the top level, then tokens and gflops."""
    config = get_config(name)
    model = meta_model(config)
    summary: dict[str, Any] = {"config": name, **parameter_counts(model)}
    summary["tokens"] = {
        "video": config.video_tokens,
        "audio": config.audio_tokens,
        "text": config.text_max_tokens,
    }
    summary["gflops"] = {
        "drop0": round(forward_gflops(model, 0.0), 2),
        "drop50": round(forward_gflops(model, 0.5), 2),
    }
    return summary


def _table(summary: dict[str, Any]) -> str:
    lines = [f"VATT config {summary['config']}", "parameters (M):"]
    for part in ("video", "audio", "text", "shared", "heads", "total", "word_embeddings"):
        if part in summary:
            lines.append(f"  {part:<16} {summary[part] / 1e6:9.2f}")
    tokens = summary["tokens"]
    lines.append(f"tokens: video {tokens['video']}, audio {tokens['audio']}, text {tokens['text']}")
    gflops = summary["gflops"]
    lines.append(
        f"forward GFLOPs per sample: drop 0 {gflops['drop0']:.1f}, drop 0.5 {gflops['drop50']:.1f}"
        f" (ratio {gflops['drop0'] / gflops['drop50']:.2f})"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model.summary", description="Parameter counts and GFLOPs of a config."
    )
    parser.add_argument("config", choices=CONFIG_NAMES)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    summary = summarize(args.config)
    print(json.dumps(summary) if args.json else _table(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
