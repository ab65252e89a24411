"""NCE / MIL-NCE against a hand-computed example and a brute-force loop implementation."""

from __future__ import annotations

import math

import pytest
import torch

from model.losses import mil_nce_loss, nce_loss, vatt_loss


def brute_force_mil_nce(
    video: torch.Tensor, text: torch.Tensor, mask: torch.Tensor, temperature: float
) -> float:
    """The loss written as the issue states it, one clip and one term at a time, in float64."""
    v = [x / x.norm() for x in video.double()]
    t = [[x / x.norm() for x in bag] for bag in text.double()]
    b, k = mask.shape

    def s(vi: torch.Tensor, tj: torch.Tensor) -> float:
        return float(vi @ tj) / temperature

    losses = []
    for i in range(b):
        positives = [s(v[i], t[i][p]) for p in range(k) if mask[i, p]]
        if not positives:
            continue  # a clip without captions adds no term
        denominator = [s(v[i], t[j][q]) for j in range(b) for q in range(k) if mask[j, q]]
        denominator += [s(v[j], t[i][p]) for j in range(b) for p in range(k) if mask[i, p]]
        lse_all = math.log(sum(math.exp(x) for x in denominator))
        lse_pos = math.log(sum(math.exp(x) for x in positives))
        losses.append(lse_all - lse_pos)
    return sum(losses) / len(losses) if losses else 0.0


def test_mil_nce_matches_hand_computed_example() -> None:
    # Unit vectors e1, e2 (scaled by 3: the loss must normalise). Temperature 0.5: s = 2 * dot.
    e1, e2 = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 3.0])
    video = torch.stack([e1, e2])
    text = torch.stack([torch.stack([e1, e2]), torch.stack([e2, e1])])  # (2, 2, 2)
    mask = torch.tensor([[True, False], [True, True]])
    e = math.exp(2.0)
    # Clip 1: captions in batch {t11=e1, t21=e2, t22=e1} -> exps {e, 1, e}; videos vs t11 -> {e, 1};
    # positive {e}.  Clip 2: vs all captions {1, e, 1}; videos vs t21, t22 -> {1, e, e, 1};
    # positives {e, 1}.
    loss1 = math.log(3 * e + 2) - 2.0
    loss2 = math.log(3 * e + 4) - math.log(e + 1)
    got = mil_nce_loss(video, text, mask, temperature=0.5)
    assert got.item() == pytest.approx((loss1 + loss2) / 2, rel=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_mil_nce_matches_brute_force(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    b = int(torch.randint(1, 7, (1,), generator=gen))
    k = int(torch.randint(1, 6, (1,), generator=gen))
    d = int(torch.randint(2, 9, (1,), generator=gen))
    temperature = float(torch.empty(1).uniform_(0.03, 1.0, generator=gen))
    video = torch.randn(b, d, generator=gen)
    text = torch.randn(b, k, d, generator=gen)
    mask = torch.rand(b, k, generator=gen) < 0.6
    mask[0] = False  # always one clip with an empty bag
    got = mil_nce_loss(video, text, mask, temperature)
    assert got.item() == pytest.approx(
        brute_force_mil_nce(video, text, mask, temperature), abs=1e-4
    )


@pytest.mark.parametrize("seed", range(3))
def test_nce_is_mil_nce_with_one_positive_and_masks_missing_audio(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    video, audio = torch.randn(5, 8, generator=gen), torch.randn(5, 8, generator=gen)
    has_audio = torch.tensor([True, False, True, True, False])
    got = nce_loss(video, audio, 0.07, mask=has_audio)
    expected = brute_force_mil_nce(video, audio[:, None], has_audio[:, None], 0.07)
    assert got.item() == pytest.approx(expected, abs=1e-4)
    # Audio of the masked clips takes no part: changing it changes nothing.
    audio[~has_audio] = torch.randn(2, 8, generator=gen)
    assert nce_loss(video, audio, 0.07, mask=has_audio).item() == pytest.approx(got.item())


def test_masked_captions_take_no_part_and_all_empty_is_zero() -> None:
    video = torch.randn(4, 6, requires_grad=True)
    text = torch.randn(4, 3, 6, requires_grad=True)
    mask = torch.tensor([[True, False, False], [False] * 3, [True, True, False], [True] * 3])
    loss = mil_nce_loss(video, text, mask)
    changed = text.detach().clone()
    changed[~mask] = 100 * torch.randn(int((~mask).sum()), 6)
    assert mil_nce_loss(video, changed, mask).item() == pytest.approx(loss.item())
    loss.backward()
    assert torch.isfinite(video.grad).all() and torch.isfinite(text.grad).all()
    assert (text.grad[~mask] == 0).all() and (text.grad[mask].abs().sum(-1) > 0).all()
    # No caption anywhere: 0, not NaN, and zero gradients.
    video.grad = None
    empty = mil_nce_loss(video, text, torch.zeros(4, 3, dtype=torch.bool))
    empty.backward()
    assert empty.item() == 0.0 and (video.grad == 0).all()


def test_vatt_loss_sums_terms_with_weight_and_runs_in_fp32_under_autocast() -> None:
    gen = torch.Generator().manual_seed(0)
    out = {
        "video_va": torch.randn(4, 8, generator=gen),
        "audio_va": torch.randn(4, 8, generator=gen),
        "video_vt": torch.randn(4, 6, generator=gen),
        "text_vt": torch.randn(4, 2, 6, generator=gen),
    }
    text_mask = torch.tensor([[True, True], [True, False], [False, False], [True, True]])
    audio_mask = torch.tensor([True, True, False, True])
    terms = vatt_loss(out, text_mask, audio_mask, temperature=0.1, mil_nce_weight=0.5)
    nce = nce_loss(out["video_va"], out["audio_va"], 0.1, mask=audio_mask)
    mil = mil_nce_loss(out["video_vt"], out["text_vt"], text_mask, 0.1)
    assert terms["nce_loss"].item() == pytest.approx(nce.item())
    assert terms["mil_nce_loss"].item() == pytest.approx(mil.item())
    assert terms["loss"].item() == pytest.approx(nce.item() + 0.5 * mil.item())
    # The reference code's average of the two terms.
    mean = vatt_loss(out, text_mask, audio_mask, 0.1, mil_nce_weight=1.0, reduction="mean")
    assert mean["loss"].item() == pytest.approx((nce.item() + mil.item()) / 2)
    with pytest.raises(ValueError, match="reduction"):
        vatt_loss(out, text_mask, audio_mask, reduction="max")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        half = vatt_loss({k: v.bfloat16() for k, v in out.items()}, text_mask, audio_mask, 0.1)
    assert half["loss"].dtype == torch.float32
    # Only the bf16 rounding of the inputs differs, not the arithmetic of the loss.
    assert half["loss"].item() == pytest.approx(
        vatt_loss(out, text_mask, audio_mask, 0.1)["loss"].item(), rel=2e-2
    )
    # Without text the MIL-NCE term is 0 and the total is the NCE term.
    no_text = vatt_loss({k: out[k] for k in ("video_va", "audio_va", "video_vt")})
    assert no_text["mil_nce_loss"].item() == 0.0
    assert no_text["loss"].item() == pytest.approx(no_text["nce_loss"].item())


def test_losses_reject_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="audio shape"):
        nce_loss(torch.randn(3, 4), torch.randn(3, 5))
    with pytest.raises(ValueError, match="mask shape"):
        mil_nce_loss(torch.randn(3, 4), torch.randn(3, 2, 4), torch.ones(3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="temperature"):
        mil_nce_loss(torch.randn(3, 4), torch.randn(3, 2, 4), torch.ones(3, 2, dtype=torch.bool), 0)
