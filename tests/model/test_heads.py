"""The common-space heads, layer by layer, against the paper's order computed by hand.

    video -> va: Linear(no bias) -> BN -> ReLU -> Linear(no bias) -> BN   = z_v,va
    va -> vt:    ReLU -> Linear(no bias) -> BN, applied to z_v,va         = z_v,vt
    audio -> va: Linear;  text -> vt: Linear

Every parameter and BatchNorm statistic is random, so that a swapped, added or missing layer
changes the numbers (in training mode a bias before a BN cancels, so eval mode is checked
too), and the hand computation must read every parameter of the module.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from model.heads import CommonSpaceHeads

DIMS = {"video_dim": 24, "audio_dim": 20, "text_dim": 16, "va_dim": 12, "vt_dim": 8}


@pytest.fixture()
def heads() -> CommonSpaceHeads:
    torch.manual_seed(0)
    module = CommonSpaceHeads(**DIMS, sync=True).double()  # one process: plain BN
    with torch.no_grad():
        for p in module.parameters():
            p.normal_()
        for m in module.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
    return module


class HandHeads:
    """The heads' maths from the module's parameters, recording which parameters it read."""

    def __init__(self, heads: CommonSpaceHeads, training: bool) -> None:
        self.heads, self.training = heads, training
        self.read: set[int] = set()

    def param(self, layer: nn.Module, name: str) -> torch.Tensor:
        tensor = getattr(layer, name)
        self.read.add(id(tensor))
        return tensor

    def linear(self, layer: nn.Linear, x: torch.Tensor, bias: bool) -> torch.Tensor:
        y = x @ self.param(layer, "weight").T
        return y + self.param(layer, "bias") if bias else y

    def bn(self, layer: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
        if self.training:  # batch statistics, biased variance
            mean, var = x.mean(0), x.var(0, unbiased=False)
        else:
            mean, var = layer.running_mean, layer.running_var
        normed = (x - mean) / torch.sqrt(var + layer.eps)
        return normed * self.param(layer, "weight") + self.param(layer, "bias")

    def video(self, pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.heads
        hidden = self.linear(h.video_to_hidden, pooled, bias=False)
        hidden = torch.relu(self.bn(h.video_hidden_bn, hidden))
        va = self.bn(h.video_va_bn, self.linear(h.video_to_va, hidden, bias=False))
        vt = self.bn(h.video_vt_bn, self.linear(h.va_to_vt, torch.relu(va), bias=False))
        return va, vt

    def audio(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.linear(self.heads.audio_to_va, pooled, bias=True)

    def text(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.linear(self.heads.text_to_vt, pooled, bias=True)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_heads_apply_the_paper_layers_in_order(heads: CommonSpaceHeads, training: bool) -> None:
    gen = torch.Generator().manual_seed(1)
    video = torch.randn(6, DIMS["video_dim"], generator=gen).double()
    audio = torch.randn(6, DIMS["audio_dim"], generator=gen).double()
    text = torch.randn(10, DIMS["text_dim"], generator=gen).double()
    heads.train(training)
    hand = HandHeads(heads, training)
    with torch.no_grad():
        want_va, want_vt = hand.video(video)
        got_va, got_vt = heads.video(video)
        got_audio, got_text = heads.audio(audio), heads.text(text)
    assert got_va.shape == (6, DIMS["va_dim"]) and got_vt.shape == (6, DIMS["vt_dim"])
    torch.testing.assert_close(got_va, want_va, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(got_vt, want_vt, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(got_audio, hand.audio(audio), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(got_text, hand.text(text), rtol=1e-10, atol=1e-10)
    # Nothing else: no parameter of the heads is left out of the maths above.
    unread = [name for name, p in heads.named_parameters() if id(p) not in hand.read]
    assert not unread, f"parameters outside the paper's head layers: {unread}"


def test_video_linears_have_no_bias_and_audio_text_have_one(heads: CommonSpaceHeads) -> None:
    for name in ("video_to_hidden", "video_to_va", "va_to_vt"):
        assert getattr(heads, name).bias is None, name
    for name in ("audio_to_va", "text_to_vt"):
        assert getattr(heads, name).bias is not None, name
