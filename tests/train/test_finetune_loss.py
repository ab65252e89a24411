"""The fine-tuning loss and mixup (train/finetune_loop.py), without Ray: dense targets give the
losses of class indices, rows without the modality or a label sit out, mixup mixes labelled
rows in pairs with one weight and leaves the others alone."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from train.finetune_config import FinetuneConfig
from train.finetune_loop import classification_loss, dense_targets, mix, mixup_pairs


def _config(**fields) -> FinetuneConfig:
    return FinetuneConfig(data=["/data"], output="/run", labels=list("abcd"), **fields)


def test_single_label_loss_is_smoothed_cross_entropy_over_labelled_valid_rows():
    torch.manual_seed(0)
    logits = torch.randn(5, 4, requires_grad=True)
    labels = [[2], [0], [], [3], [1]]  # row 2 has no label
    valid = torch.tensor([True, True, True, False, True])  # row 3 lacks the modality
    loss = classification_loss(logits, dense_targets(labels, 4, logits.device), valid, _config())
    rows = [0, 1, 4]
    want = F.cross_entropy(logits[rows], torch.tensor([2, 0, 1]), label_smoothing=0.1)
    assert loss.item() == pytest.approx(want.item(), rel=1e-6)
    loss.backward()
    assert logits.grad[[2, 3]].abs().sum() == 0 and logits.grad[rows].abs().sum() > 0


def test_multi_label_loss_is_binary_cross_entropy_of_every_class():
    logits = torch.randn(3, 4)
    labels = [[0, 2], [1], [3, 1, 0]]
    target = dense_targets(labels, 4, logits.device)
    assert target.tolist() == [[1, 0, 1, 0], [0, 1, 0, 0], [1, 1, 0, 1]]
    valid = torch.ones(3, dtype=torch.bool)
    loss = classification_loss(logits, target, valid, _config(multi_label=True))
    assert loss.item() == pytest.approx(F.binary_cross_entropy_with_logits(logits, target).item())


def test_no_labelled_row_gives_zero_with_a_graph():
    logits = torch.randn(2, 4, requires_grad=True)
    target = dense_targets([[], []], 4, logits.device)
    loss = classification_loss(logits, target, torch.ones(2, dtype=torch.bool), _config())
    assert loss.item() == 0.0 and loss.requires_grad


def test_mixup_pairs_labelled_rows_among_themselves_with_one_weight():
    torch.manual_seed(1)
    valid = torch.tensor([True, False, True, True, False, True])
    lams = []
    for _ in range(200):
        lam, partner = mixup_pairs(valid, alpha=5.0)
        lams.append(lam)
        assert partner[~valid].tolist() == torch.arange(6)[~valid].tolist()  # kept as they are
        assert sorted(partner[valid].tolist()) == [0, 2, 3, 5]  # a permutation of the valid
    # Beta(5, 5): mean 0.5, std 0.15; all draws inside (0, 1)
    assert 0 < min(lams) and max(lams) < 1
    assert sum(lams) / len(lams) == pytest.approx(0.5, abs=0.03)

    x = torch.arange(6.0).repeat(3, 1).T  # (6, 3): row i is all i
    target = dense_targets([[0], [], [1], [2], [], [3]], 4, x.device)
    lam, partner = 0.7, torch.tensor([2, 1, 5, 0, 4, 3])
    mixed, mixed_target = mix(x, lam, partner), mix(target, lam, partner)
    assert mixed[0].tolist() == pytest.approx([0.7 * 0 + 0.3 * 2] * 3)
    assert mixed[1].tolist() == x[1].tolist() and mixed[4].tolist() == x[4].tolist()
    assert mixed_target[0].tolist() == pytest.approx([0.7, 0.3, 0.0, 0.0])
    assert mixed_target.sum(1)[valid].tolist() == pytest.approx([1.0] * 4)


def test_mixup_is_on_for_multi_label_audio_sets_only_unless_asked():
    assert _config(multi_label=True, modality="audio").mixup_alpha == 5.0
    assert _config(multi_label=True).mixup_alpha == 0.0  # video tower
    assert _config(modality="audio").mixup_alpha == 0.0  # ESC-50: single-label
    assert _config(mixup=0.2).mixup_alpha == 0.2
    assert _config(multi_label=True, modality="audio", mixup=0).mixup_alpha == 0
    with pytest.raises(ValueError, match="mixup"):
        _config(mixup=-1)
