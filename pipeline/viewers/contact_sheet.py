"""Contact sheets: one PNG that shows what a clip holds, read back from the shards.

Per clip: a title (key, split, source, time window), a row of frames spread across the clip
with their offsets, the audio waveform under them on the same time axis (or "no audio"), the
clip's text, and each MIL-NCE neighbour caption with its time relative to the clip start.

Only the index and the shards that hold the chosen clips are read, each streamed one sample
at a time and left as soon as its chosen clips are found. Drawing uses matplotlib's Agg
canvas directly (no pyplot, no global figure state); the layout is computed in whole pixels,
so `ContactSheet.cells` says exactly where each frame was drawn.
"""

from __future__ import annotations

import io
import logging
import textwrap
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pyarrow.compute as pc

from pipeline.errors import ConfigError
from vattclips import dataset, storage
from vattclips.audio import decode_waveform, flac_rate
from vattclips.meta import read_meta
from vattclips.tars import iter_samples
from vattclips.video import VideoDecodeError, decode_frames

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]  # (left, top, right, bottom) in PNG pixels, right/bottom exclusive

# Layout, in pixels (the figure is drawn at `SheetConfig.dpi`, so 1 unit = 1 PNG pixel).
_MARGIN = 12
_GAP = 4  # between frames
_TITLE_H = 40
_LABEL_H = 16  # the "+0.4 s" line above the frames
_WAVE_H = 64
_LINE_H = 15
_BLOCK_GAP = 22
_FONT = 8.5


class DatasetReadError(ConfigError):
    """OUTPUT holds no readable dataset, or names no clip / split that was asked for."""


@dataclass(frozen=True)
class SheetConfig:
    frames: int = 8  # frames shown per clip, spread evenly over it
    width: int = 1400  # PNG width in pixels
    dpi: int = 100
    text_lines: int = 3  # clip text lines at most, then an ellipsis
    neighbors: int = 8  # neighbour lines at most

    def __post_init__(self) -> None:
        if not 1 <= self.frames <= 64:
            raise ConfigError(f"frames per clip must be in 1..64, got {self.frames}")
        if self.width < 400:
            raise ConfigError(f"sheet width must be at least 400 px, got {self.width}")


@dataclass(frozen=True)
class Pick:
    """A clip chosen from the index."""

    key: str
    shard: str
    split: str


@dataclass
class Clip:
    """One decoded sample, reduced to what a sheet shows."""

    key: str
    split: str
    meta: dict
    text: str
    frames: np.ndarray  # (N, H, W, 3) uint8, the frames shown
    times: np.ndarray  # (N,) seconds from the clip start of each shown frame
    audio: np.ndarray | None  # (S,) float32 in [-1, 1], mono; None when the clip has no flac
    sample_rate: int


@dataclass
class ContactSheet:
    png: bytes
    width: int
    height: int
    keys: list[str]
    cells: list[list[Box]]  # per clip, per shown frame: where it is drawn
    times: list[list[float]]  # per clip, per shown frame: seconds from the clip start
    waves: list[Box]  # per clip: the waveform (or "no audio") strip


def read_index(output: str, columns: list[str]):
    """Columns of OUTPUT/index.parquet as a pyarrow Table; DatasetReadError when absent."""
    try:
        return dataset.read_index(output, columns)
    except dataset.DatasetRootError as exc:
        raise DatasetReadError(str(exc)) from None


def pick_clips(
    output: str,
    key: str | None = None,
    sample: int = 1,
    split: str | None = None,
    seed: int = 0,
) -> list[Pick]:
    """The clip named `key`, or `sample` clips drawn at random (seeded), from `split` if given.

    Random picks take one clip per video before a second one of any video, so a sheet shows
    as many videos as it can. Returned in index order (shard, key): the order they are read.
    """
    if sample < 1:
        raise ConfigError(f"--sample must be at least 1, got {sample}")
    table = read_index(output, ["key", "shard", "split", "video_id"])
    if split is not None:
        splits = sorted(set(table.column("split").to_pylist()))
        table = table.filter(pc.equal(table["split"], split))
        if table.num_rows == 0:
            raise DatasetReadError(f"{output}: no clips in split {split!r} (splits: {splits})")
    if key is not None:
        table = table.filter(pc.equal(table["key"], key))
        if table.num_rows == 0:
            where = f" of split {split!r}" if split else ""
            raise DatasetReadError(f"{output}: no clip with key {key!r}{where} in index.parquet")
        rows = table.to_pylist()[:1]
    else:
        if table.num_rows == 0:
            raise DatasetReadError(f"{output}: the dataset holds no clips")
        rows = table.to_pylist()
        order = np.random.default_rng(seed).permutation(len(rows))
        seen: Counter[str] = Counter()
        ranked = []  # (clips of its video drawn before it, place in the random order, row)
        for draw, pos in enumerate(order):
            vid = rows[pos]["video_id"]
            ranked.append((seen[vid], draw, int(pos)))
            seen[vid] += 1
        # sorting by the row position here (not the draw) took the first videos of the index
        # whatever the seed
        rows = [rows[pos] for pos in sorted(pos for _, _, pos in sorted(ranked)[:sample])]
    return [Pick(r["key"], r["shard"], r["split"]) for r in rows]


def read_samples(output: str, picks: list[Pick]) -> list[tuple[Pick, dict]]:
    """The raw samples ({ext: bytes}) of `picks`, streaming each shard only as far as needed."""
    by_shard: dict[str, dict[str, Pick]] = {}
    for p in picks:
        by_shard.setdefault(p.shard, {})[p.key] = p
    found: dict[str, dict] = {}
    for shard, wanted in by_shard.items():
        if not storage.exists(storage.join(output, shard)):
            raise DatasetReadError(f"{output}: index.parquet names {shard}, which is missing")
        left = set(wanted)
        for sample in iter_samples(storage.join(output, shard)):
            if sample["__key__"] in left:
                found[sample["__key__"]] = sample
                left.discard(sample["__key__"])
                if not left:
                    break  # all found: no need to read the rest of the shard
        if left:
            raise DatasetReadError(f"{output}/{shard} lacks {sorted(left)} named by index.parquet")
    return [(p, found[p.key]) for p in picks]


def decode_clip(pick: Pick, sample: dict, n_frames: int) -> Clip:
    """Decode the frames and audio of one sample; keep `n_frames` frames evenly spread."""
    meta = read_meta(sample)
    if "mp4" not in sample:  # an audio-only sample: one blank cell where the frames would be
        every = [np.full((144, 256, 3), 235, dtype=np.uint8)]
    else:
        try:
            every = list(decode_frames(sample["mp4"]))  # (H, W, 3) each
        except VideoDecodeError:
            every = []
    if not every:
        raise DatasetReadError(f"{pick.key}.mp4 in {pick.shard} holds no frames")
    idx = np.unique(np.linspace(0, len(every) - 1, min(n_frames, len(every))).round().astype(int))
    fps = float(meta.get("fps") or 10.0)
    audio, rate = None, int(meta.get("sample_rate") or 0)
    if "flac" in sample:  # the json's sample_rate is the member's own: one open
        rate = rate or flac_rate(sample["flac"])
        audio = decode_waveform(sample["flac"], rate)
    return Clip(
        key=pick.key,
        split=pick.split,
        meta=meta,
        text=sample.get("txt", b"").decode("utf-8", "replace"),
        frames=np.stack([every[i] for i in idx]),
        times=idx / fps,
        audio=audio,
        sample_rate=rate,
    )


def load_clips(output: str, picks: list[Pick], n_frames: int) -> list[Clip]:
    return [decode_clip(p, s, n_frames) for p, s in read_samples(output, picks)]


def _wrap(text: str, chars: int, lines: int) -> list[str]:
    out = textwrap.wrap(" ".join(text.split()), chars) or ["(empty)"]
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][: max(chars - 1, 0)] + "…"
    return out


def _offset(t: float) -> str:
    return f"{t:+.1f}".replace("-", "−")


def neighbor_lines(meta: dict, limit: int = 100) -> list[str]:
    """One line per MIL-NCE neighbour: ● overlapping / ○ not, its span from the clip start, text."""
    start, end = float(meta["start"]), float(meta["end"])
    lines = []
    for n in meta.get("neighbors", [])[:limit]:
        inside = n["end"] > start and n["start"] < end  # overlaps the clip window
        mark = "●" if inside else "○"
        span = f"{_offset(n['start'] - start)} … {_offset(n['end'] - start)} s"
        lines.append(f"{mark} {span:>15}   {' '.join(n['text'].split())}")
    return lines


def _text_lines(clip: Clip, cfg: SheetConfig, chars: int) -> list[tuple[str, dict]]:
    """The lines under the waveform, with their text style: the clip text, then neighbours."""
    m = clip.meta
    label = f"text ({m.get('text_source', '?')}): "
    mono = {"family": "monospace"}
    out = [
        ((label if i == 0 else " " * len(label)) + line, mono)
        for i, line in enumerate(_wrap(clip.text, chars - len(label), cfg.text_lines))
    ]
    neighbours = neighbor_lines(m, cfg.neighbors)
    n_all = len(m.get("neighbors", []))
    head = f"MIL-NCE neighbours ({n_all}; time from clip start; ● overlaps the clip)"
    out.append((head if neighbours else "MIL-NCE neighbours: none", {"color": "#333333"}))
    out.extend(("   " + line[: chars - 3], mono) for line in neighbours)
    return out


def _cell_size(clip: Clip, cfg: SheetConfig, inner: int) -> tuple[int, int]:
    h, w = clip.frames.shape[1:3]
    cw = (inner - (cfg.frames - 1) * _GAP) // cfg.frames
    return cw, int(round(cw * min(h / w, 2.0)))  # taller than 1:2 portrait gets squeezed


def render_sheet(clips: list[Clip], cfg: SheetConfig | None = None) -> ContactSheet:
    """Draw `clips` one under the other on one sheet; returns the PNG and where things are."""
    # Imported here: the CLI module imports this one, and `build` should not pay for matplotlib.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cfg = cfg or SheetConfig()
    if not clips:
        raise ValueError("render_sheet needs at least one clip")
    width = cfg.width
    inner = width - 2 * _MARGIN
    chars = int(inner / (_FONT * 0.62))  # characters per text line at this font size
    cells_wh = [_cell_size(c, cfg, inner) for c in clips]
    lines = [_text_lines(c, cfg, chars) for c in clips]
    fixed = _TITLE_H + _LABEL_H + _GAP + _WAVE_H + 6 + _BLOCK_GAP
    height = sum(fixed + ch + len(ls) * _LINE_H for (_, ch), ls in zip(cells_wh, lines))
    fig = Figure(figsize=(width / cfg.dpi, height / cfg.dpi), dpi=cfg.dpi, facecolor="white")
    FigureCanvasAgg(fig)

    def axes(box: Box):
        left, top, right, bottom = box
        rect = (left / width, 1 - bottom / height, (right - left) / width, (bottom - top) / height)
        return fig.add_axes(rect)

    def text(x: float, y: float, s: str, **kw) -> None:
        # parse_math=False: a caption holding "$" must stay text, not become mathtext
        kw = {"fontsize": _FONT, "va": "top", "parse_math": False, **kw}
        fig.text(x / width, 1 - y / height, s, **kw)

    sheet_cells: list[list[Box]] = []
    waves: list[Box] = []
    y = 0
    for clip, (cw, ch), block_lines in zip(clips, cells_wh, lines):
        m = clip.meta
        text(_MARGIN, y + 4, f"{clip.key}   ·   split {clip.split}", fontsize=11, weight="bold")
        p = m.get("probe", {})
        window = f"{m['start']:.2f}–{m['end']:.2f} s of {p.get('duration', float('nan')):.1f} s"
        size = f"{p.get('width')}x{p.get('height')}" if m.get("has_video", True) else "audio-only"
        source = f"{m['source']}   [{window}]   {size} source"
        text(_MARGIN, y + 22, source, color="#333333")
        y += _TITLE_H
        cells = []
        for j, (frame, t) in enumerate(zip(clip.frames, clip.times)):
            left = _MARGIN + j * (cw + _GAP)
            text(left + cw / 2, y + 1, f"+{t:.1f} s", ha="center", color="#555555")
            box = (left, y + _LABEL_H, left + cw, y + _LABEL_H + ch)
            ax = axes(box)
            ax.imshow(frame, aspect="auto")
            ax.set_axis_off()
            cells.append(box)
        sheet_cells.append(cells)
        y += _LABEL_H + ch + _GAP
        wave = (_MARGIN, y, _MARGIN + inner, y + _WAVE_H)
        _draw_wave(axes(wave), clip, float(m["end"]) - float(m["start"]))
        waves.append(wave)
        y += _WAVE_H + 6
        for line, style in block_lines:
            text(_MARGIN, y, line, **style)
            y += _LINE_H
        y += _BLOCK_GAP
        fig.add_artist(_rule(fig, y - _BLOCK_GAP / 2, height))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=cfg.dpi)
    return ContactSheet(
        png=buf.getvalue(),
        width=width,
        height=height,
        keys=[c.key for c in clips],
        cells=sheet_cells,
        times=[[float(t) for t in c.times] for c in clips],
        waves=waves,
    )


def _rule(fig, y: float, height: int):
    from matplotlib.lines import Line2D

    return Line2D(
        [0.005, 0.995], [1 - y / height] * 2, color="#bbbbbb", lw=0.8, transform=fig.transFigure
    )


def _draw_wave(ax, clip: Clip, seconds: float) -> None:
    ax.set_xlim(0, seconds)
    ax.set_ylim(-1.05, 1.05)
    ax.set_yticks([])
    ax.tick_params(axis="x", labelsize=7, length=2, pad=1)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    if clip.audio is None or clip.audio.size == 0:
        ax.set_facecolor("#eeeeee")
        ax.text(0.5, 0.5, "no audio", transform=ax.transAxes, ha="center", va="center",
                fontsize=11, color="#884444")  # fmt: skip
        ax.set_xticks([])
        return
    # min/max envelope per ~pixel column: 153,600 samples would be slow to draw one by one
    bins = min(1000, clip.audio.size)
    n = clip.audio.size // bins * bins
    env = clip.audio[:n].reshape(bins, -1)  # (bins, samples per bin)
    t = (np.arange(bins) + 0.5) * (n / bins) / clip.sample_rate
    ax.fill_between(t, env.min(axis=1), env.max(axis=1), color="#3b6ea8", lw=0)
    ax.axhline(0, color="#999999", lw=0.5)
    ax.set_xticks(clip.times)
    ax.set_xticklabels([])
    ax.text(0.002, 0.95, f"audio {clip.sample_rate / 1000:g} kHz", transform=ax.transAxes,
            fontsize=7, va="top", color="#333333")  # fmt: skip


def write_contact_sheet(
    output: str,
    out: str,
    key: str | None = None,
    sample: int = 1,
    split: str | None = None,
    seed: int = 0,
    cfg: SheetConfig | None = None,
) -> ContactSheet:
    """`python -m pipeline inspect`: pick clips, decode them, draw them, write the PNG to `out`."""
    cfg = cfg or SheetConfig()
    output = output.rstrip("/")
    picks = pick_clips(output, key=key, sample=sample, split=split, seed=seed)
    sheet = render_sheet(load_clips(output, picks, cfg.frames), cfg)
    storage.write_atomic(out, sheet.png)
    log.info("contact sheet of %s written to %s", ", ".join(sheet.keys), out)
    return sheet
