"""Contrastive losses of VATT: NCE (video-audio) and MIL-NCE (video-text).

The reference code's form, for clip i with bag of positive captions P_i:

    loss_i = logsumexp( [s(v_i, t) for every caption t in the batch]
                        ++ [s(v, t) for every video v, every caption t in P_i] )
             - logsumexp( [s(v_i, t) for t in P_i] )

with s(v, t) = <v/|v|, t/|t|> / temperature. Masked captions are excluded everywhere, a clip
with an empty bag adds no term, and the loss is the mean over clips with at least one caption.
NCE is the same with a bag of exactly one positive (the clip's audio); clips without audio are
excluded like empty bags.

`gather=True` takes negatives from every data-parallel rank (gradients kept). The value returned
is then the loss of the global batch on every rank, and its gradient is scaled so that DDP's
averaging of parameter gradients yields exactly the gradient of the global-batch loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from model.collectives import gather_no_grad, gather_with_grad, sum_with_grad, world_size
from model.config import LOSS_REDUCTIONS

# Replaces masked similarities / temperature: finite, so that no inf - inf can make a NaN, and
# far below any real one (|similarity| <= 1, so for any temperature above 1e-9).
_MASKED = -1e9


def _bag_loss(
    video: torch.Tensor,
    bags: torch.Tensor,
    mask: torch.Tensor,
    temperature: float,
    gather: bool,
) -> torch.Tensor:
    """The loss above for video (B, D) and bags (B, K, D) with mask (B, K) bool."""
    if video.dim() != 2 or bags.dim() != 3 or bags.shape[:1] != video.shape[:1]:
        raise ValueError(
            f"expected video (B, D) and bags (B, K, D); got {tuple(video.shape)} and "
            f"{tuple(bags.shape)}"
        )
    if mask.shape != bags.shape[:2]:
        raise ValueError(f"mask shape {tuple(mask.shape)} != bags (B, K) {tuple(bags.shape[:2])}")
    if temperature <= 0:
        raise ValueError(f"temperature={temperature} must be positive")
    # Similarities in fp32 whatever the autocast dtype: logsumexp over thousands of terms.
    with torch.autocast(video.device.type, enabled=False):
        return _bag_loss_fp32(video.float(), bags.float(), mask.bool(), temperature, gather)


def _bag_loss_fp32(
    video: torch.Tensor, bags: torch.Tensor, mask: torch.Tensor, temperature: float, gather: bool
) -> torch.Tensor:
    video = F.normalize(video, dim=-1)  # (B, D)
    bags = F.normalize(bags, dim=-1)  # (B, K, D)
    b, k = mask.shape
    if gather:
        all_video = gather_with_grad(video)  # (G, D), G = world * B
        all_bags = gather_with_grad(bags)  # (G, K, D)
        all_mask = gather_no_grad(mask)  # (G, K)
    else:
        all_video, all_bags, all_mask = video, bags, mask
    g = all_video.shape[0]
    # s(v_i, every caption): (B, G * K); s(every video, captions of clip i): (B, G * K).
    v_to_t = (video @ all_bags.reshape(g * k, -1).T) / temperature
    v_to_t = v_to_t.masked_fill(~all_mask.reshape(1, g * k), _MASKED)
    t_to_v = torch.einsum("bkd,gd->bgk", bags, all_video) / temperature  # (B, G, K)
    t_to_v = t_to_v.masked_fill(~mask[:, None, :], _MASKED).reshape(b, g * k)
    positives = torch.einsum("bd,bkd->bk", video, bags) / temperature  # (B, K)
    positives = positives.masked_fill(~mask, _MASKED)
    per_clip = torch.logsumexp(torch.cat([v_to_t, t_to_v], dim=1), dim=1) - torch.logsumexp(
        positives, dim=1
    )  # (B,)
    valid = mask.any(dim=1)  # (B,) clips with at least one positive
    local_sum = (per_clip * valid).sum()
    if not gather or world_size() == 1:
        return local_sum / valid.sum().clamp(min=1)
    # Every rank holds B of the G anchors. Rank r returns W * (its sum) / N_valid_global, whose
    # mean over ranks (what DDP's gradient averaging differentiates) is the global loss; the
    # value is then replaced by the global loss itself, identical on every rank.
    count = all_mask.any(dim=1).sum().clamp(min=1)
    local = world_size() * local_sum / count
    global_loss = sum_with_grad(local_sum.detach()) / count
    return local + (global_loss - local).detach()


def nce_loss(
    video: torch.Tensor,
    audio: torch.Tensor,
    temperature: float = 0.07,
    *,
    mask: torch.Tensor | None = None,
    gather: bool = False,
) -> torch.Tensor:
    """NCE between video (B, D) and audio (B, D) embeddings (unnormalized).

    mask (B,) bool: True = the clip has audio (None = all). Returns a scalar.
    """
    if audio.shape != video.shape:
        raise ValueError(f"audio shape {tuple(audio.shape)} != video shape {tuple(video.shape)}")
    if mask is None:
        mask = torch.ones(video.shape[0], dtype=torch.bool, device=video.device)
    return _bag_loss(video, audio[:, None, :], mask.reshape(-1, 1), temperature, gather)


def mil_nce_loss(
    video: torch.Tensor,
    text: torch.Tensor,
    text_mask: torch.Tensor,
    temperature: float = 0.07,
    *,
    gather: bool = False,
) -> torch.Tensor:
    """MIL-NCE between video (B, D) and the bags of K captions text (B, K, D).

    text_mask (B, K) bool: True = a real caption. Returns a scalar (0 when no clip has one).
    """
    return _bag_loss(video, text, text_mask, temperature, gather)


def vatt_loss(
    out: dict[str, torch.Tensor],
    text_mask: torch.Tensor | None = None,
    audio_mask: torch.Tensor | None = None,
    temperature: float = 0.07,
    mil_nce_weight: float = 1.0,
    gather: bool = False,
    reduction: str = "sum",
) -> dict[str, torch.Tensor]:
    """VATT's objective on the output of `VattModel`: NCE(va) + mil_nce_weight * MIL-NCE(vt)
    (`reduction` "sum", the paper's), or that divided by 1 + mil_nce_weight ("mean", the
    reference code's average of the two terms).

    out: "video_va", "audio_va" (NCE) and "video_vt", "text_vt" (MIL-NCE); a term whose inputs
    are absent is 0. text_mask (B, K) bool (None = all captions real); audio_mask (B,) bool.
    Returns {"nce_loss", "mil_nce_loss", "loss"}.
    """
    anchor = out.get("video_va", out.get("video_vt"))
    if anchor is None:
        raise ValueError(f"vatt_loss needs the video embeddings; got keys {sorted(out)}")
    zero = anchor.new_zeros((), dtype=torch.float32)
    nce = zero
    if "audio_va" in out:
        nce = nce_loss(
            out["video_va"], out["audio_va"], temperature, mask=audio_mask, gather=gather
        )
    mil_nce = zero
    if "text_vt" in out:
        text = out["text_vt"]
        if text_mask is None:
            text_mask = torch.ones(text.shape[:2], dtype=torch.bool, device=text.device)
        mil_nce = mil_nce_loss(out["video_vt"], text, text_mask, temperature, gather=gather)
    if reduction not in LOSS_REDUCTIONS:
        raise ValueError(f"reduction={reduction!r} must be one of {LOSS_REDUCTIONS}")
    total = nce + mil_nce_weight * mil_nce
    if reduction == "mean":
        total = total / (1.0 + mil_nce_weight)
    return {"nce_loss": nce, "mil_nce_loss": mil_nce, "loss": total}
