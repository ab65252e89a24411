"""Parameter counts against paper Table 7, GFLOPs against Table 5, and the summary CLI."""

from __future__ import annotations

import json

import pytest

from model import VattModel, get_config
from model.config import TowerSize, tower_size
from model.summary import forward_gflops, main, meta_model, parameter_counts, summarize

# Paper Table 7 video towers and model totals, millions.
PAPER_VIDEO = {"bbs": 87.9, "mbs": 155.0, "lbs": 306.1}
PAPER_TOTAL = {"bbs": 197.0, "mbs": 264.0, "lbs": 415.0}


def vit_tower_params(size: TowerSize, patch_dim: int, position_rows: int) -> int:
    """A ViT-style tower written out: patch projection, positions + their LayerNorm, [AGG],
    per block QKV/out/MLP with biases and two LayerNorms, final LayerNorm."""
    d, m = size.hidden, size.mlp
    block = (3 * d * d + 3 * d) + (d * d + d) + (d * m + m) + (m * d + d) + 2 * 2 * d
    return (patch_dim * d + d) + (position_rows * d + 2 * d) + d + size.layers * block + 2 * d


@pytest.mark.parametrize("name", ["bbs", "mbs", "lbs"])
def test_parameter_counts_match_the_paper(name: str) -> None:
    cfg = get_config(name)
    counts = parameter_counts(meta_model(cfg))
    video = tower_size(cfg.video_backbone)
    # The count is the architecture written out, nothing hidden: 3072-d patches, 8+14+14 rows.
    assert counts["video"] == vit_tower_params(video, 3 * 4 * 16 * 16, 8 + 14 + 14)
    assert counts["audio"] == vit_tower_params(tower_size("base"), 128, 1200)
    assert counts["video"] / 1e6 == pytest.approx(PAPER_VIDEO[name], rel=0.015)
    assert counts["total"] / 1e6 == pytest.approx(PAPER_TOTAL[name], rel=0.03)
    assert counts["word_embeddings"] == 2**16 * 300
    parts = sum(counts[p] for p in ("video", "audio", "text", "heads"))
    assert counts["total"] == parts


def test_meta_counts_equal_a_real_model() -> None:
    cfg = get_config("tiny", shared_backbone="tiny")
    real = VattModel(cfg)
    counts = parameter_counts(meta_model(cfg))
    assert counts == parameter_counts(real)
    assert counts["total"] + counts["word_embeddings"] == sum(p.numel() for p in real.parameters())
    assert counts["shared"] > 0


def test_droptoken_cuts_forward_flops_by_about_the_papers_factor() -> None:
    model = meta_model(get_config("mbs")).eval()
    drop0, drop50 = forward_gflops(model, 0.0), forward_gflops(model, 0.5)
    # Paper Table 5 (VATT-MBS): 784.8 / 375.4 = 2.09 GFLOPs.
    assert drop0 / drop50 == pytest.approx(784.8 / 375.4, rel=0.1)
    assert drop0 == pytest.approx(784.8, rel=0.15)
    assert not model.training  # the count leaves the model as it found it


def test_summary_cli_prints_the_json_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tiny", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    for key in ("video", "audio", "text", "heads", "total", "word_embeddings"):
        assert isinstance(summary[key], int) and summary[key] > 0
    assert summary["tokens"] == {"video": 196, "audio": 400, "text": 16}
    assert summary["gflops"]["drop0"] > 1.9 * summary["gflops"]["drop50"] > 0
    assert summary["total"] == sum(summary[k] for k in ("video", "audio", "text", "heads"))
    with pytest.raises(SystemExit):
        main(["huge"])


def test_modality_agnostic_summary_counts_the_shared_transformer() -> None:
    summary = summarize("ma-medium")
    # One Medium Transformer (12 x 12.6M) shared by the three modalities.
    assert summary["shared"] == 12 * 12_596_224 + 2 * 1024
    assert summary["total"] / 1e6 == pytest.approx(155.0, rel=0.03)
    assert summary["gflops"]["drop0"] / summary["gflops"]["drop50"] == pytest.approx(2.09, rel=0.1)
