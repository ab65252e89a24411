"""`python -m train.evaluate`: zero-shot retrieval on held-out clips.

Every clip of the split is embedded once (centre crop, no augmentation, no DropToken). The text
of a clip is its own `txt` (the captions overlapping its window), or, when that is empty, its
nearest caption in time. Four directions, each over the clips that have both modalities:
video->text and text->video (vt space), video->audio and audio->video (va space). The rank of
a query's answer counts the candidates scoring higher, and those tied with it are taken in
random order (in expectation), so a collapsed model, whose embeddings are all equal, scores
chance and not 100%. Another clip with the identical caption text is the same answer as the
clip's own (by the text, not by the embedding). R@k is the share of queries (in %) with
rank <= k, MedR the median rank (a tie's mean rank); chance R@k is reported beside them.

`--protocol video` scores a benchmark's test set of captioned videos (YouCook2 / MSR-VTT style:
one caption per test video or segment) on its own terms: the clips of a video are averaged
into one video embedding (each L2-normalised first), the video's caption is its clips'
distinct caption texts in reading order (the one caption of a segment), and every direction
ranks videos, not clips. `--tsne out.png` draws a 2-D t-SNE of the clips' video-text
embeddings coloured by label (labelled datasets) or by video.
"""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m train.evaluate",
        description="Zero-shot retrieval (video<->text, video<->audio) on held-out clips.",
    )
    p.add_argument(
        "--checkpoint",
        required=True,
        help="checkpoint folder, or a run folder (its latest checkpoint)",
    )
    p.add_argument("--data", required=True, help="dataset root URI")
    p.add_argument(
        "--split", default="val", choices=("train", "val"), help="split scored (%(default)s)"
    )
    p.add_argument(
        "--batch-size", type=int, default=32, help="clips per forward pass (%(default)s)"
    )
    p.add_argument("--device", default="auto", help="auto (cuda when available), cpu, cuda:N")
    p.add_argument("--json", action="store_true", help="print one JSON object only")
    p.add_argument(
        "--protocol",
        default="clip",
        choices=("clip", "video"),
        help="rank clips (default), or videos: a benchmark's captioned test videos, clips "
        "averaged into one embedding per video, one caption per video",
    )
    p.add_argument(
        "--tsne",
        default=None,
        metavar="PNG",
        help="also write a t-SNE of the video-text embeddings, coloured by label or video",
    )
    p.add_argument(
        "--examples-png",
        default=None,
        help="also write a PNG of a few clips with their top-5 retrieved captions here",
    )
    return p


if __name__ == "__main__":
    # torch and transformers take ~7 s to import: --help and argument errors answer first
    build_parser().parse_args()

# ruff: noqa: E402 - the imports below come after the early parse above, on purpose
import json
import logging
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
import transformers

from model import VattModel, encode_texts
from train import logs
from train.augment import finalize_video
from train.checkpoint import CheckpointNotFoundError, load_for_inference
from train.data import ClipStream, LoaderConfig, make_loader
from train.sample import InputSpec
from train.stream import register_fsspec_schemes
from vattclips import storage
from vattclips.dataset import DatasetRootError, list_shards

logger = logging.getLogger("train.evaluate")

MAX_THUMBS = 8  # clips whose middle frame is kept for the examples picture
DIRECTIONS = ("video_to_text", "text_to_video", "video_to_audio", "audio_to_video")
KS = (1, 5, 10)
KS_NAMES = tuple(f"R@{k}" for k in KS)


@dataclass
class SplitEmbeddings:
    """Common-space embeddings of every readable clip of a split, in reading order."""

    video_va: list[torch.Tensor] = field(default_factory=list)  # (B, va)
    video_vt: list[torch.Tensor] = field(default_factory=list)  # (B, vt)
    audio_va: list[torch.Tensor] = field(default_factory=list)  # (B, va)
    text_vt: list[torch.Tensor] = field(default_factory=list)  # (B, vt)
    has_audio: list[torch.Tensor] = field(default_factory=list)  # (B,) bool
    has_text: list[torch.Tensor] = field(default_factory=list)  # (B,) bool
    has_video: list[torch.Tensor] = field(default_factory=list)  # (B,) bool
    captions: list[str] = field(default_factory=list)  # one per clip, reading order
    video_ids: list[str] = field(default_factory=list)  # one per clip, reading order
    labels: list[list[int]] = field(default_factory=list)  # class indices per clip
    thumbs: list[np.ndarray] = field(default_factory=list)  # (H, W, 3) uint8, first clips only
    skipped_samples: int = 0
    skipped_shards: int = 0

    def cat(self, name: str) -> torch.Tensor:
        return torch.cat(getattr(self, name))


@torch.no_grad()
def embed_split(
    model: VattModel,
    tokenizer: object,
    data: str,
    split: str,
    batch_size: int = 32,
    device: torch.device | None = None,
) -> SplitEmbeddings:
    """Embed each clip of `split` once; unreadable clips are counted, not fatal."""
    device = device or torch.device("cpu")
    cfg = model.config
    shards = list_shards(data, split)
    stream = ClipStream(
        shards.urls,
        InputSpec.from_model_config(cfg, need_video=False),  # audio-only samples: va only
        tokenizer,
        LoaderConfig(batch_size=batch_size, num_workers=0),
        train=False,
    )
    model = model.to(device).eval()
    out = SplitEmbeddings()
    for batch in make_loader(stream):
        video = finalize_video(batch["video"].to(device), batch["video_affine"].to(device))
        captions = batch["caption"]
        text_ids = encode_texts(tokenizer, captions, max_tokens=cfg.text_max_tokens)  # (B, L)
        emb = model(video=video, audio=batch["audio"].to(device), text_ids=text_ids.to(device))
        for name in ("video_va", "video_vt", "audio_va", "text_vt"):
            getattr(out, name).append(emb[name].float().cpu())
        out.captions.extend(captions)
        out.video_ids.extend(batch["video_id"])
        out.labels.extend(batch["labels"])
        out.has_video.append(batch["video_mask"])
        for clip in batch["video"][: max(0, MAX_THUMBS - len(out.thumbs))]:  # (3, T, H, W)
            out.thumbs.append(clip[:, clip.shape[1] // 2].permute(1, 2, 0).numpy())
        out.has_audio.append(batch["audio_mask"])
        out.has_text.append((text_ids != 0).any(dim=1))
        out.skipped_samples += batch["corrupt_samples"]
        out.skipped_shards += batch["corrupt_shards"]
    if not out.video_va:
        raise ValueError(f"no readable clip in the {split!r} split of {data}")
    return out


TIE_TOLERANCE = 1e-6  # cosine similarities closer than this count as equal (float noise)


def recall_at(above: torch.Tensor, tied: torch.Tensor, k: int) -> torch.Tensor:
    """P(rank <= k) per query when ties are broken at random: the answer is equally likely at
    each of ranks above+1 .. above+tied+1. A collapsed model (everything tied) thus scores
    chance, where counting ties in the query's favour would give it 100%."""
    return ((k - above) / (tied + 1)).clamp(0.0, 1.0)


def rank_metrics(
    queries: torch.Tensor, items: torch.Tensor, same: torch.Tensor | None = None
) -> dict[str, object]:
    """R@1/5/10 (%), median rank, n and chance R@k of item i for query i; queries, items (N, D).

    `same` (N, N) bool marks the items that are as good an answer as item i for query i (the
    identical caption text of another clip); by default only item i itself. The answer's rank
    is that of its best-scoring member, counted among the other items: 1 + those scoring above
    it, plus its place among those tied with it, broken at random in expectation. MedR takes a
    tie's mean rank. Chance is the same recall with every score tied.
    """
    n = queries.shape[0]
    if n == 0:
        return {"R@1": None, "R@5": None, "R@10": None, "MedR": None, "n": 0, "chance": {}}
    sim = F.normalize(queries.float(), dim=-1) @ F.normalize(items.float(), dim=-1).T  # (N, N)
    if same is None:
        same = torch.eye(n, dtype=torch.bool)
    same = same | torch.eye(n, dtype=torch.bool)
    best = sim.masked_fill(~same, float("-inf")).max(dim=1).values  # (N,)
    gap = sim - best[:, None]  # (N, N)
    others = ~same
    above = (others & (gap > TIE_TOLERANCE)).sum(dim=1).float()
    tied = (others & (gap.abs() <= TIE_TOLERANCE)).sum(dim=1).float()
    everything_tied = others.sum(dim=1).float()
    out: dict[str, object] = {
        f"R@{k}": round(100.0 * recall_at(above, tied, k).mean().item(), 2) for k in KS
    }
    out["MedR"] = float((1 + above + tied / 2).median().item())
    out["n"] = n
    out["chance"] = {
        f"R@{k}": round(100.0 * recall_at(torch.zeros(n), everything_tied, k).mean().item(), 2)
        for k in KS
    }
    return out


def same_text(captions: list[str]) -> torch.Tensor:
    """(N, N) bool: clips i and j have the identical caption text (one answer, not two)."""
    ids: dict[str, int] = {}
    codes = torch.tensor([ids.setdefault(c, len(ids)) for c in captions])
    return codes[:, None] == codes[None, :]


def retrieval(emb: SplitEmbeddings) -> dict[str, object]:
    """The four directions plus `n` (clips embedded)."""
    video = emb.cat("has_video")
    text, audio = emb.cat("has_text") & video, emb.cat("has_audio") & video
    vt_v, vt_t = emb.cat("video_vt")[text], emb.cat("text_vt")[text]
    va_v, va_a = emb.cat("video_va")[audio], emb.cat("audio_va")[audio]
    same = same_text([c for c, t in zip(emb.captions, text.tolist()) if t])
    return {
        "n": int(text.shape[0]),
        "video_to_text": rank_metrics(vt_v, vt_t, same),
        "text_to_video": rank_metrics(vt_t, vt_v, same),
        "video_to_audio": rank_metrics(va_v, va_a),
        "audio_to_video": rank_metrics(va_a, va_v),
    }


def _mean_by_group(x: torch.Tensor, groups: list[list[int]]) -> torch.Tensor:
    """(G, D): the mean of each group's L2-normalised rows."""
    x = F.normalize(x.float(), dim=-1)
    return torch.stack([x[g].mean(dim=0) for g in groups])


@torch.no_grad()
def video_retrieval(
    emb: SplitEmbeddings, model: VattModel, tokenizer: object, device: torch.device | None = None
) -> dict[str, object]:
    """The four directions over videos (`--protocol video`): each video's clips averaged into
    one embedding per modality, its caption (distinct clip texts joined) embedded once."""
    device = device or torch.device("cpu")
    video, text, audio = emb.cat("has_video"), emb.cat("has_text"), emb.cat("has_audio")
    clips: dict[str, list[int]] = {}
    for i, vid in enumerate(emb.video_ids):
        if video[i]:
            clips.setdefault(vid, []).append(i)
    groups = list(clips.values())
    captions = [" ".join(dict.fromkeys(emb.captions[i] for i in g if text[i])) for g in groups]
    ids = encode_texts(tokenizer, captions, max_tokens=model.config.text_max_tokens)
    text_vt = model.to(device).eval()(text_ids=ids.to(device))["text_vt"].float().cpu()
    with_text = [i for i, c in enumerate(captions) if c]
    with_audio = [i for i, g in enumerate(groups) if bool(audio[g].any())]
    v_vt = _mean_by_group(emb.cat("video_vt"), groups)
    v_va = _mean_by_group(emb.cat("video_va"), groups)
    a_groups = [[i for i in groups[j] if audio[i]] for j in with_audio]
    a_va = _mean_by_group(emb.cat("audio_va"), a_groups) if a_groups else v_va[:0]
    same = same_text([captions[i] for i in with_text])
    return {
        "n": len(groups),
        "protocol": "video",
        "video_to_text": rank_metrics(v_vt[with_text], text_vt[with_text], same),
        "text_to_video": rank_metrics(text_vt[with_text], v_vt[with_text], same),
        "video_to_audio": rank_metrics(v_va[with_audio], a_va),
        "audio_to_video": rank_metrics(a_va, v_va[with_audio]),
    }


def write_tsne_png(emb: SplitEmbeddings, path: str, label_names: tuple[str, ...] | None) -> int:
    """A 2-D t-SNE of the clips' video-text embeddings, one colour per label (the first of a
    multi-label clip) or, for an unlabelled split, per video; returns the points drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    video = emb.cat("has_video")
    x = F.normalize(emb.cat("video_vt")[video], dim=-1).numpy()
    n = x.shape[0]
    if n < 5:
        raise ValueError(f"t-SNE needs at least 5 clips with video, the split has {n}")
    rows = [i for i in range(len(emb.video_ids)) if video[i]]
    if label_names is not None and all(emb.labels[i] for i in rows):
        groups = [label_names[emb.labels[i][0]] for i in rows]
        what = "label"
    else:
        groups = [emb.video_ids[i] for i in rows]
        what = "video"
    points = TSNE(
        n_components=2, perplexity=min(30.0, (n - 1) / 3.0), init="pca", random_state=0
    ).fit_transform(x)
    fig, ax = plt.subplots(figsize=(7, 6))
    names = list(dict.fromkeys(groups))
    cmap = plt.get_cmap("tab20" if len(names) > 10 else "tab10")
    for k, name in enumerate(names):
        sel = [i for i, g in enumerate(groups) if g == name]
        ax.scatter(points[sel, 0], points[sel, 1], s=18, color=cmap(k % cmap.N), label=name)
    if len(names) <= 20:
        ax.legend(fontsize=7, loc="best", title=what)
    ax.set_title(f"t-SNE of {n} clips' video-text embeddings, coloured by {what}", fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    with storage.open_file(path, "wb") as f:
        fig.savefig(f, format="png", dpi=90)
    plt.close(fig)
    return n


def top_texts(emb: SplitEmbeddings, n: int = 4, k: int = 5) -> list[dict[str, object]]:
    """For the first n clips with text: the k captions of the split nearest to the video.

    As in the metrics, identical caption texts are one answer: each text is listed once, at
    the score of its best-scoring clip, and it is a hit when it is the clip's own text."""
    text = emb.cat("has_text")
    idx = [i for i in range(min(len(emb.thumbs), text.shape[0])) if bool(text[i])][:n]
    pool = [i for i in range(text.shape[0]) if bool(text[i])]
    if not idx:
        return []
    v = F.normalize(emb.cat("video_vt")[idx], dim=-1)  # (n, D)
    t = F.normalize(emb.cat("text_vt")[pool], dim=-1)  # (P, D)
    sim = v @ t.T  # (n, P)
    out = []
    for row, i in enumerate(idx):
        scores, order = sim[row].sort(descending=True)
        top: list[tuple[str, float, bool]] = []
        for score, j in zip(scores.tolist(), order.tolist()):
            text = emb.captions[pool[j]]
            if len(top) == k:
                break
            if all(text != t for t, _, _ in top):
                top.append((text, float(score), text == emb.captions[i]))
        out.append({"clip": i, "caption": emb.captions[i], "top": top})
    return out


def write_examples_png(emb: SplitEmbeddings, path: str, n: int = 4) -> list[dict[str, object]]:
    """A picture of a few held-out clips (middle frame) with their top-5 retrieved captions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = top_texts(emb, n)
    if not rows:
        return rows
    fig, axes = plt.subplots(len(rows), 2, figsize=(11, 2.2 * len(rows)), squeeze=False)
    for (ax_img, ax_txt), r in zip(axes, rows):
        ax_img.imshow(emb.thumbs[r["clip"]])
        ax_img.set_axis_off()
        ax_txt.set_axis_off()
        ax_txt.text(0, 1, f"clip {r['clip']}: {r['caption']}", va="top", fontsize=9, weight="bold")
        for j, (cap, score, hit) in enumerate(r["top"]):
            mark = "*" if hit else " "
            ax_txt.text(
                0,
                0.8 - 0.17 * j,
                f"{mark} {j + 1}. {score:+.2f}  {cap[:70]}",
                va="top",
                fontsize=9,
                family="monospace",
                color="green" if hit else "black",
            )
    fig.suptitle(
        "video -> text: the top-5 distinct captions of the split (* = the clip's own text)",
        fontsize=10,
    )
    fig.tight_layout()
    with storage.open_file(path, "wb") as f:
        fig.savefig(f, format="png", dpi=90)
    plt.close(fig)
    return rows


def format_table(result: dict[str, object], emb: SplitEmbeddings) -> str:
    n_text = int(emb.cat("has_text").sum())
    n_audio = int(emb.cat("has_audio").sum())
    unit = "videos" if result.get("protocol") == "video" else "clips"
    lines = [
        f"zero-shot retrieval on {result['n']} {unit} "
        f"({n_text} with text, {n_audio} with audio; "
        f"unreadable: {emb.skipped_samples} clips, {emb.skipped_shards} shards)",
        f"{'direction':<16}{'R@1':>8}{'R@5':>8}{'R@10':>8}{'MedR':>8}{'n':>6}"
        f"{'chance R@1/5/10':>18}",
    ]
    for d in DIRECTIONS:
        m = result[d]
        keys = ("R@1", "R@5", "R@10", "MedR")
        cells = "".join(f"{m[k]:>8.1f}" if m[k] is not None else f"{'-':>8}" for k in keys)
        chance = "/".join(f"{m['chance'][k]:.1f}" for k in KS_NAMES) if m["n"] else "-"
        lines.append(f"{d:<16}{cells}{m['n']:>6}{chance:>18}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure()
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    register_fsspec_schemes()
    transformers.utils.logging.disable_progress_bar()
    try:
        shards = list_shards(args.data, args.split)  # a bad root or schema: one line, first
        model, tokenizer, state = load_for_inference(args.checkpoint)
    except (CheckpointNotFoundError, DatasetRootError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    logger.info("model of step %d from %s", state.step, args.checkpoint)
    emb = embed_split(
        model, tokenizer, args.data, args.split, args.batch_size, torch.device(args.device)
    )
    if emb.skipped_samples or emb.skipped_shards:
        logger.warning(
            "could not read %d clips and %d shards of %s",
            emb.skipped_samples,
            emb.skipped_shards,
            args.data,
        )
    if args.protocol == "video":
        result = video_retrieval(emb, model, tokenizer, torch.device(args.device))
    else:
        result = retrieval(emb)
    if args.json:
        unreadable = {"clips": emb.skipped_samples, "shards": emb.skipped_shards}
        print(json.dumps({**result, "unreadable": unreadable}))
    else:
        print(format_table(result, emb))
    if args.examples_png:
        write_examples_png(emb, args.examples_png)
        if not args.json:
            print(f"top-5 retrieved captions of a few clips: {args.examples_png}")
    if args.tsne:
        try:
            points = write_tsne_png(emb, args.tsne, shards.labels)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        if not args.json:
            print(f"t-SNE of {points} clips: {args.tsne}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
