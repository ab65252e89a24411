"""Attention, relative position bias, positional tables and DropToken against references."""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers.models.t5.modeling_t5 import T5Attention

from model import VattModel, get_config
from model.config import TowerSize
from model.droptoken import kept_count, kept_indices
from model.positions import FactorizedPositions, relative_position_bucket, resize_table
from model.transformer import Attention, Transformer


def manual_attention(
    attn: Attention, x: torch.Tensor, additive: torch.Tensor | None
) -> torch.Tensor:
    """softmax(q k^T / sqrt(d) + mask) v, written out."""
    b, length, dim = x.shape
    h = attn.heads
    q, k, v = attn.qkv(x).view(b, length, 3, h, dim // h).permute(2, 0, 3, 1, 4)
    scores = q @ k.transpose(-1, -2) / math.sqrt(dim // h)
    if additive is not None:
        scores = scores + additive
    y = scores.softmax(-1) @ v  # (B, H, L, Dh)
    return attn.out(y.transpose(1, 2).reshape(b, length, dim))


def test_attention_with_padding_mask_and_bias_matches_manual() -> None:
    torch.manual_seed(0)
    attn = Attention(dim=16, heads=4, bias=True, dropout=0.0)
    x = torch.randn(2, 5, 16)
    valid = torch.tensor([[True] * 5, [True, True, True, False, False]])
    padding = torch.zeros(2, 1, 1, 5).masked_fill(~valid[:, None, None, :], float("-inf"))
    torch.testing.assert_close(
        attn(x, valid[:, None, None, :]), manual_attention(attn, x, padding), atol=1e-5, rtol=1e-5
    )
    bias = torch.randn(1, 4, 5, 5)
    torch.testing.assert_close(
        attn(x, bias + padding), manual_attention(attn, x, bias + padding), atol=1e-5, rtol=1e-5
    )


def test_t5_style_transformer_masks_padded_keys_and_adds_one_shared_bias() -> None:
    torch.manual_seed(0)
    size = TowerSize(layers=2, hidden=16, mlp=32, heads=4)
    t5 = Transformer(size, dropout=0.0, attention_dropout=0.0, eps=1e-6, t5_style=True)
    x = torch.randn(2, 6, 16)
    valid = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    mask = t5.attention_mask(x, valid)
    assert mask.shape == (2, 4, 6, 6)
    assert torch.isinf(mask[1, :, :, 4:]).all() and torch.isfinite(mask[0]).all()
    # Real tokens do not see the padded ones: changing them changes no real output.
    changed = x.clone()
    changed[1, 4:] = torch.randn(2, 16)
    torch.testing.assert_close(t5(changed, valid)[:, :4], t5(x, valid)[:, :4])
    assert not any(isinstance(m, torch.nn.LayerNorm) for m in t5.modules())  # RMS norms only
    assert all(lin.bias is None for lin in t5.modules() if isinstance(lin, torch.nn.Linear))


def test_relative_buckets_match_hugging_face_t5() -> None:
    position = torch.arange(80)  # distances beyond max_distance reach the last bucket
    relative = position[None, :] - position[:, None]
    ours = relative_position_bucket(relative, num_buckets=32, max_distance=64)
    theirs = T5Attention._relative_position_bucket(
        relative, bidirectional=True, num_buckets=32, max_distance=64
    )
    assert torch.equal(ours, theirs)
    assert ours.min() == 0 and ours.max() == 31


def test_resize_table_interpolates_linearly() -> None:
    table = torch.tensor([[0.0], [1.0]])
    assert resize_table(table, 2) is table
    torch.testing.assert_close(resize_table(table, 4), torch.tensor([[0.0], [0.25], [0.75], [1.0]]))


def test_factorized_positions_sum_the_three_tables() -> None:
    torch.manual_seed(0)
    positions = FactorizedPositions((2, 3, 4), dim=8, eps=1e-6)
    for table in (positions.temporal, positions.vertical, positions.horizontal):
        torch.nn.init.normal_(table)
    grid = positions((2, 3, 4))  # (24, 8), time-major
    t, h, w = 1, 2, 3
    expected = positions.norm(
        positions.temporal[t] + positions.vertical[h] + positions.horizontal[w]
    )
    torch.testing.assert_close(grid[t * 12 + h * 4 + w], expected)


def test_kept_counts_and_indices() -> None:
    assert kept_count(1568, 0.5) == 784 and kept_count(1200, 0.5) == 600
    assert kept_count(1568, 0.0) == 1568 and kept_count(3, 0.9) == 1
    with pytest.raises(ValueError, match="drop_rate"):
        kept_count(10, 1.0)
    keep = kept_indices(1568, 0.5, torch.device("cpu"))
    assert keep.shape == (784,) and keep.unique().numel() == 784
    assert bool((keep.diff() > 0).all()) and 0 <= keep.min() and keep.max() < 1568


def test_droptoken_halves_the_flops_of_the_video_tower() -> None:
    cfg = get_config("tiny")
    with torch.device("meta"):
        model = VattModel(cfg)
    video = torch.zeros(2, 3, cfg.video_frames, cfg.video_size, cfg.video_size, device="meta")
    flops = {}
    for training in (False, True):
        model.train(training)
        with FlopCounterMode(display=False) as counter:
            model.encode_video(video)
        flops[training] = counter.get_total_flops()
    # 196 -> 98 tokens: every per-token matmul halves, attention falls about 4x.
    assert flops[False] / flops[True] > 2.0
