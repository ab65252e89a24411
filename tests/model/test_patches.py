"""The patch projections are exactly a Conv3d (video) and a Conv1d (audio) with kernel = stride.

`video_patches` cuts (B, 3, T, H, W) into vectors ordered (channel, frame, row, column) so that
one matmul with a (D, 3 * 4 * 16 * 16) weight is the Conv3d of the paper's linear projection. A
wrong permute there still yields the right shapes, a trainable model and a falling loss, so
only a comparison with the convolution itself catches it. The embeddings are taken from a
VattModel (not imported from their module, which may be renamed) and compared in float64 with
an nn.Conv3d / nn.Conv1d holding the same weights, with and without DropToken.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from model import VattModel, get_config
from model.droptoken import kept_indices

# Patches of the paper (4x16x16 voxels, 128 samples); a grid of 2 x 2 x 3 video tokens (not
# square, so a swap of rows and columns shows) and 12 audio tokens; no dropout, so train mode
# differs from eval mode by DropToken alone.
GEOMETRY = {"video_frames": 8, "video_size": 32, "audio_samples": 12 * 128, "dropout": 0.0}
VIDEO_SHAPE = (2, 3, 8, 32, 48)  # (B, 3, T, H, W)


@pytest.fixture(scope="module")
def model() -> VattModel:
    torch.manual_seed(0)
    vatt = VattModel(get_config("tiny", **GEOMETRY)).double()
    with torch.no_grad():  # the [AGG] token and positions are random already; so is the bias
        vatt.video_embed.proj.bias.normal_()
        vatt.audio_embed.proj.bias.normal_()
    return vatt


def video_conv(proj: nn.Linear, patch: tuple[int, int, int]) -> nn.Conv3d:
    """An nn.Conv3d with kernel = stride = `patch` and the weights of `proj`."""
    conv = nn.Conv3d(3, proj.out_features, kernel_size=patch, stride=patch).double()
    with torch.no_grad():
        conv.weight.copy_(proj.weight.view(proj.out_features, 3, *patch))
        conv.bias.copy_(proj.bias)
    return conv


def audio_conv(proj: nn.Linear, samples: int) -> nn.Conv1d:
    conv = nn.Conv1d(1, proj.out_features, kernel_size=samples, stride=samples).double()
    with torch.no_grad():
        conv.weight.copy_(proj.weight.view(proj.out_features, 1, samples))
        conv.bias.copy_(proj.bias)
    return conv


def conv_video_tokens(model: VattModel, video: torch.Tensor) -> torch.Tensor:
    """(B, N, D): the Conv3d's output, time-major (t, h, w), plus the positions of the grid."""
    embed = model.video_embed
    patch = (embed.patch_frames, embed.patch_size, embed.patch_size)
    with torch.no_grad():
        out = video_conv(embed.proj, patch)(video)  # (B, D, t, h, w)
        grid = tuple(out.shape[2:])
        return out.flatten(2).transpose(1, 2) + embed.positions(grid)


def conv_audio_tokens(model: VattModel, audio: torch.Tensor) -> torch.Tensor:
    embed = model.audio_embed
    with torch.no_grad():
        out = audio_conv(embed.proj, embed.patch_samples)(audio[:, None])  # (B, D, N)
        return out.transpose(1, 2) + embed.positions(out.shape[2])


def test_video_projection_is_a_conv3d_with_kernel_equal_to_stride(model: VattModel) -> None:
    video = torch.randn(*VIDEO_SHAPE, generator=torch.Generator().manual_seed(1)).double()
    embed = model.video_embed.eval()
    assert (embed.patch_frames, embed.patch_size) == (4, 16)
    with torch.no_grad():
        tokens = embed(video)  # (B, 1 + N, D)
    expected = conv_video_tokens(model, video)
    assert tokens.shape == (2, 1 + 2 * 2 * 3, 128)
    torch.testing.assert_close(tokens[:, 1:], expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(tokens[:, 0], embed.agg.expand(2, -1), rtol=0, atol=0)


def test_audio_projection_is_a_conv1d_with_kernel_equal_to_stride(model: VattModel) -> None:
    audio = torch.randn(2, 12 * 128, generator=torch.Generator().manual_seed(2)).double()
    embed = model.audio_embed.eval()
    assert embed.patch_samples == 128
    with torch.no_grad():
        tokens = embed(audio)
    assert tokens.shape == (2, 1 + 12, 128)
    torch.testing.assert_close(
        tokens[:, 1:], conv_audio_tokens(model, audio), rtol=1e-12, atol=1e-12
    )
    torch.testing.assert_close(tokens[:, 0], embed.agg.expand(2, -1), rtol=0, atol=0)


@pytest.mark.parametrize("modality", ["video", "audio"])
def test_droptoken_projects_the_kept_patches_with_their_positions(
    model: VattModel, modality: str
) -> None:
    """Train mode drops half the tokens before the projection: each kept token is still the
    convolution's output at that patch plus that patch's position, in the original order."""
    gen = torch.Generator().manual_seed(3)
    if modality == "video":
        x = torch.randn(*VIDEO_SHAPE, generator=gen).double()
        embed, expected = model.video_embed, conv_video_tokens(model, x)
    else:
        x = torch.randn(2, 12 * 128, generator=gen).double()
        embed, expected = model.audio_embed, conv_audio_tokens(model, x)
    assert embed.drop_rate == 0.5  # the tiny config's (the paper's) rate
    tokens_in = expected.shape[1]
    embed.train()
    try:
        with torch.random.fork_rng(), torch.no_grad():
            torch.manual_seed(4)
            keep = kept_indices(tokens_in, embed.drop_rate, x.device)  # what the layer draws
            torch.manual_seed(4)
            tokens = embed(x)
    finally:
        embed.eval()
    assert len(keep) == tokens_in // 2 and torch.equal(keep, keep.sort().values)
    assert tokens.shape == (2, 1 + len(keep), 128)
    torch.testing.assert_close(tokens[:, 1:], expected[:, keep], rtol=1e-12, atol=1e-12)
