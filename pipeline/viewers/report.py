"""The dataset report: one self-contained HTML page (images inline) and a short text summary.

Exact numbers come from dataset.json, index.parquet and failures.parquet: videos and clips by
split, hours, the share of clips with audio and with text, failures by stage. Numbers that
need the samples themselves (words per clip, the sources' durations and resolutions, from
the `txt` and `json` members) are read from at most `ReportConfig.max_shards` shards spread
over the splits, and the page says how many were read: a report on a 10 TB dataset must not
download it.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
from dataclasses import dataclass, field

import numpy as np

from pipeline.errors import ConfigError
from pipeline.viewers.contact_sheet import (
    DatasetReadError,
    SheetConfig,
    load_clips,
    pick_clips,
    read_index,
    render_sheet,
)
from vattclips import dataset, storage
from vattclips.tars import iter_samples

log = logging.getLogger(__name__)

# The order stages happen in, so the failures table reads like the pipeline.
STAGES = ("manifest", "fetch", "probe", "plan", "captions", "decode", "asr", "write")


@dataclass(frozen=True)
class ReportConfig:
    max_shards: int = 16  # shards whose json/txt members are read (spread over the splits)
    sheets: int = 4  # contact sheets, one clip each, from as many videos as possible
    examples: int = 3  # distinct failure reasons shown per stage
    seed: int = 0
    sheet: SheetConfig = field(default_factory=lambda: SheetConfig(frames=8, width=1100))

    def __post_init__(self) -> None:
        if self.max_shards < 1:
            raise ConfigError(f"max_shards must be at least 1, got {self.max_shards}")
        if self.sheets < 0:
            raise ConfigError(f"sheets must be at least 0, got {self.sheets}")


@dataclass
class SplitStats:
    videos: int = 0
    clips: int = 0
    with_audio: int = 0
    with_text: int = 0
    shards: int = 0
    bytes: int = 0


@dataclass
class StageFailures:
    rows: int = 0
    clips_lost: int = 0
    examples: list[tuple[str, str]] = field(default_factory=list)  # (source, error)


@dataclass
class DatasetStats:
    output: str
    dataset: dict  # dataset.json as written
    splits: dict[str, SplitStats]
    failures: dict[str, StageFailures]
    shards_total: int
    shards_read: int = 0
    words: list[int] = field(default_factory=list)  # per clip read
    neighbors: dict[int, int] = field(default_factory=dict)  # captions in a clip's bag -> clips
    durations: dict[str, float] = field(default_factory=dict)  # per video read: seconds
    resolutions: dict[str, str] = field(default_factory=dict)  # per video read: "WxH" displayed

    @property
    def k(self) -> int:
        """K, the MIL-NCE bag size the dataset was built with."""
        return int(self.dataset.get("options", {}).get("clip", {}).get("neighbors", 0))

    def neighbors_line(self) -> str:
        """'neighbours per clip (K=5): 45 clips with 5, 98 with 4; 98 of 143 have fewer...'."""
        total = sum(self.neighbors.values())
        counts = sorted(self.neighbors.items(), reverse=True)
        parts = ", ".join(
            f"{c} {'clips ' if i == 0 else ''}with {n}" for i, (n, c) in enumerate(counts)
        )
        fewer = sum(c for n, c in self.neighbors.items() if n < self.k)
        return (
            f"neighbours per clip (K={self.k}): {parts}; {fewer} of {total} have fewer than K "
            "(their video has fewer captions)"
        )

    @property
    def clip_seconds(self) -> float:
        return float(self.dataset.get("options", {}).get("clip", {}).get("clip_seconds", 0.0))

    def total(self) -> SplitStats:
        t = SplitStats()
        for s in self.splits.values():
            for name in vars(t):
                setattr(t, name, getattr(t, name) + getattr(s, name))
        return t


def _read_summary(output: str) -> dict:
    try:
        return dataset.read_summary(output, required=True)
    except dataset.DatasetRootError as exc:
        raise DatasetReadError(str(exc)) from None


def _failures(output: str, examples: int) -> dict[str, StageFailures]:
    rows = dataset.read_failures(output)
    out: dict[str, StageFailures] = {}
    for r in rows:
        f = out.setdefault(r["stage"], StageFailures())
        f.rows += 1
        f.clips_lost += int(r["clips_lost"] or 0)
        if len(f.examples) < examples and r["error"] not in (e for _, e in f.examples):
            f.examples.append((r["source"], r["error"]))
    order = {s: i for i, s in enumerate(STAGES)}
    return dict(sorted(out.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def _shards_to_read(shards: list[dict], max_shards: int) -> list[str]:
    """At most `max_shards` shard names, evenly spread within each split, every split kept."""
    by_split: dict[str, list[str]] = {}
    for s in sorted(shards, key=lambda s: s["name"]):
        by_split.setdefault(s["split"], []).append(s["name"])
    out = []
    for names in by_split.values():
        k = min(len(names), max(1, round(max_shards * len(names) / len(shards))))
        out += [names[i] for i in np.unique(np.linspace(0, len(names) - 1, k).round().astype(int))]
    return out


def collect_stats(output: str, cfg: ReportConfig | None = None) -> DatasetStats:
    """Everything the report shows except the pictures."""
    cfg = cfg or ReportConfig()
    output = output.rstrip("/")
    summary = _read_summary(output)
    index = read_index(
        output, ["split", "video_id", "has_audio", "text_chars", "n_neighbors"]
    ).to_pydict()
    splits: dict[str, SplitStats] = {}
    videos: dict[str, set[str]] = {}
    for split, vid, audio, chars in zip(
        index["split"], index["video_id"], index["has_audio"], index["text_chars"]
    ):
        s = splits.setdefault(split, SplitStats())
        s.clips += 1
        s.with_audio += bool(audio)
        s.with_text += chars > 0
        videos.setdefault(split, set()).add(vid)
    for split, ids in videos.items():
        splits[split].videos = len(ids)
    neighbors: dict[int, int] = {}
    for n in index["n_neighbors"]:
        neighbors[int(n)] = neighbors.get(int(n), 0) + 1
    for sh in summary.get("shards", []):
        s = splits.setdefault(sh["split"], SplitStats())
        s.shards += 1
        s.bytes += int(sh["bytes"])
    stats = DatasetStats(
        output=output,
        dataset=summary,
        splits=dict(sorted(splits.items())),
        failures=_failures(output, cfg.examples),
        shards_total=len(summary.get("shards", [])),
        neighbors=dict(sorted(neighbors.items())),
    )
    for name in _shards_to_read(summary.get("shards", []), cfg.max_shards):
        stats.shards_read += 1
        for sample in iter_samples(storage.join(output, name)):
            stats.words.append(len(sample.get("txt", b"").decode("utf-8", "replace").split()))
            meta = json.loads(sample["json"])
            probe = meta.get("probe", {})
            vid = meta["video_id"]
            if vid in stats.durations or not probe:
                continue
            stats.durations[vid] = float(probe.get("duration") or 0.0)
            # the probe holds the size as displayed (rotation applied): what a player shows
            stats.resolutions[vid] = f"{probe.get('width')}x{probe.get('height')}"
    return stats


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.0f}%" if whole else "–"


def text_summary(output_uri: str, max_shards: int = 4) -> str:
    """A few lines for a terminal: the report's headline numbers (what `make shards` prints)."""
    return summarize(collect_stats(output_uri, ReportConfig(max_shards=max_shards, sheets=0)))


def summarize(st: DatasetStats) -> str:
    """The headline numbers of `st` as a few lines of text."""
    c, t = st.dataset.get("counts", {}), st.total()
    splits = "; ".join(f"{k}: {s.videos} videos, {s.clips} clips" for k, s in st.splits.items())
    lines = [
        f"dataset {st.output}: {t.clips} clips from {c.get('videos_ok', 0)} of "
        f"{c.get('videos_in', 0)} inputs; {c.get('hours', 0.0):.3f} h of source video, "
        f"{t.clips * st.clip_seconds / 3600:.3f} h in clips",
        f"  {splits or 'no clips'}",
        f"  audio in {_pct(t.with_audio, t.clips)} of clips, text in {_pct(t.with_text, t.clips)}",
    ]
    if st.words:
        w = np.asarray(st.words)
        lines.append(
            f"  words per clip: mean {w.mean():.1f}, median {np.median(w):.0f}, max {w.max()} "
            f"({len(w)} clips of {st.shards_read}/{st.shards_total} shards)"
        )
    if st.neighbors:
        lines.append(f"  {st.neighbors_line()}")
    for stage, f in st.failures.items():
        lines.append(f"  failed at {stage}: {f.rows} (e.g. {f.examples[0][1][:100]})")
    if not st.failures:
        lines.append("  failures: none")
    return "\n".join(lines)


# ---- HTML --------------------------------------------------------------------------------

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1140px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0; }
td, th { border: 1px solid #ccc; padding: 4px 10px; text-align: right; vertical-align: top; }
th { background: #f2f2f2; } td.l, th.l { text-align: left; }
tr.total td { font-weight: 600; background: #fafafa; }
.muted { color: #666; } code { background: #f4f4f4; padding: 0 3px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
img { max-width: 100%; border: 1px solid #ddd; }
figure { margin: 10px 0; } figcaption { color: #555; font-size: 13px; }
"""


def _png_tag(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _chart(draw, title: str) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.4, 3.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    draw(ax)
    ax.set_title(title, fontsize=11)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def charts(st: DatasetStats) -> list[tuple[str, bytes]]:
    """(caption, PNG) of the histograms: source durations, resolutions, words per clip."""
    out = []
    n = f"{st.shards_read} of {st.shards_total} shards"
    if st.durations:
        d = np.asarray(list(st.durations.values()))
        unit, scale = (
            ("s", 1.0) if d.max() < 180 else ("min", 60.0) if d.max() < 7200 else ("h", 3600.0)
        )

        def durations(ax) -> None:
            ax.hist(d / scale, bins=min(30, max(5, len(d))), color="#3b6ea8")
            ax.set_xlabel(f"source duration ({unit})")
            ax.set_ylabel("videos")

        caption = f"Durations of the {len(d)} source videos in {n}."
        out.append((caption, _chart(durations, "Source durations")))
    if st.resolutions:
        counts: dict[str, int] = {}
        for r in st.resolutions.values():
            counts[r] = counts.get(r, 0) + 1
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:12]

        def resolutions(ax) -> None:
            ax.barh([k for k, _ in top][::-1], [v for _, v in top][::-1], color="#5a9a5a")
            ax.set_xlabel("videos")
            ax.tick_params(axis="y", labelsize=8)

        caption = f"Displayed resolutions of the source videos in {n} (the 12 most common)."
        out.append((caption, _chart(resolutions, "Source resolutions")))
    if st.words:
        w = np.asarray(st.words)

        def words(ax) -> None:
            ax.hist(w, bins=np.arange(0, w.max() + 2) if w.max() < 40 else 30, color="#a86b3b")
            ax.set_xlabel("words in the clip's text")
            ax.set_ylabel("clips")

        out.append((f"Words per clip, {len(w)} clips in {n}.", _chart(words, "Words per clip")))
    return out


def _splits_table(st: DatasetStats) -> str:
    cs = st.clip_seconds
    rows = []
    for name, s in [*st.splits.items(), ("total", st.total())]:
        rid = "total" if name == "total" else f"split-{html.escape(name)}"
        cls = ' class="total"' if name == "total" else ""
        rows.append(
            f'<tr id="{rid}"{cls}><td class="l">{html.escape(name)}</td><td>{s.videos}</td>'
            f"<td>{s.clips}</td><td>{s.clips * cs / 3600:.3f}</td>"
            f"<td>{_pct(s.with_audio, s.clips)}</td><td>{_pct(s.with_text, s.clips)}</td>"
            f"<td>{s.shards}</td><td>{s.bytes / 1e6:.1f}</td></tr>"
        )
    head = (
        '<tr><th class="l">split</th><th>videos</th><th>clips</th><th>hours in clips</th>'
        "<th>clips with audio</th><th>clips with text</th><th>shards</th><th>MB</th></tr>"
    )
    return f'<table id="splits">{head}{"".join(rows)}</table>'


def _failures_table(st: DatasetStats) -> str:
    if not st.failures:
        return '<p id="failures">No failures: every input became clips.</p>'
    rows = []
    for stage, f in st.failures.items():
        ex = "<br>".join(
            # most reasons start with the source already; name it once
            f"<code>{html.escape(src)}</code>: {html.escape(err.removeprefix(src + ': '))}"
            for src, err in f.examples
        )
        rows.append(
            f'<tr id="failure-{html.escape(stage)}"><td class="l">{html.escape(stage)}</td>'
            f'<td>{f.rows}</td><td>{f.clips_lost}</td><td class="l">{ex}</td></tr>'
        )
    head = (
        '<tr><th class="l">stage</th><th>rows</th><th>clips lost</th>'
        '<th class="l">example reasons</th></tr>'
    )
    return f'<table id="failures">{head}{"".join(rows)}</table>'


def _text_section(st: DatasetStats) -> str:
    sources = st.dataset.get("counts", {}).get("text_sources", {})
    items = ", ".join(f"{html.escape(k)}: {v}" for k, v in sorted(sources.items())) or "–"
    out = f"<p>Text sources (videos): {items}.</p>"
    if st.neighbors:
        out += f'<p id="neighbors">MIL-NCE {html.escape(st.neighbors_line())}.</p>'
    if st.words:
        w = np.asarray(st.words)
        out += (
            f"<p>Words per clip: mean {w.mean():.1f}, median {np.median(w):.0f}, "
            f"90th percentile {np.percentile(w, 90):.0f}, max {w.max()}; "
            f"{_pct(int((w == 0).sum()), len(w))} of clips have no words "
            f'<span class="muted">({len(w)} clips of {st.shards_read} of '
            f"{st.shards_total} shards)</span>.</p>"
        )
    return out


def render_html(st: DatasetStats, sheets: list[tuple[str, bytes]]) -> str:
    """The page: `sheets` are (caption, PNG) contact sheets to show at the end."""
    d, c = st.dataset, st.dataset.get("counts", {})
    clip = d.get("options", {}).get("clip", {})
    setup = (
        f"clips of {clip.get('clip_seconds')} s: {clip.get('frames')} frames at "
        f"{clip.get('fps')} fps, short side {clip.get('short_side')}, audio "
        f"{clip.get('sample_rate')} Hz, {clip.get('neighbors')} MIL-NCE neighbours"
    )
    figs = "".join(
        f"<figure>{_png_tag(png, cap)}<figcaption>{html.escape(cap)}</figcaption></figure>"
        for cap, png in charts(st)
    )
    sheet_html = "".join(
        f"<figure>{_png_tag(png, cap)}<figcaption>{html.escape(cap)}</figcaption></figure>"
        for cap, png in sheets
    )
    title = f"Dataset report: {st.output}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p class="muted">{html.escape(str(d.get("schema")))} · {html.escape(str(d.get("created_by")))} ·
input <code>{html.escape(str(d.get("input")))}</code> · {html.escape(setup)}</p>
<h2>Videos and clips</h2>
<p>Inputs: {c.get("videos_in", 0)}; became clips: {c.get("videos_ok", 0)}; failed:
{c.get("videos_failed", 0)}. Source video: {c.get("hours", 0.0):.3f} hours;
in clips: {st.total().clips * st.clip_seconds / 3600:.3f} hours.</p>
{_splits_table(st)}
<h2>Text</h2>
{_text_section(st)}
<h2>Failures by stage</h2>
{_failures_table(st)}
<h2>Sources</h2>
<div class="charts">{figs or '<p class="muted">No samples read.</p>'}</div>
<h2>Contact sheets</h2>
<p class="muted">Frames across each clip, its audio waveform, its text and its MIL-NCE
neighbours (time from the clip start). More: <code>python -m pipeline inspect
{html.escape(st.output)} --sample 8 --out sheet.png</code>.</p>
{sheet_html or '<p class="muted">None.</p>'}
</body></html>
"""


def write_report(output: str, out: str, cfg: ReportConfig | None = None) -> DatasetStats:
    """`python -m pipeline report`: collect, draw, write one HTML file to `out`."""
    cfg = cfg or ReportConfig()
    output = output.rstrip("/")
    st = collect_stats(output, cfg)
    sheets: list[tuple[str, bytes]] = []
    if cfg.sheets and st.total().clips:
        picks = pick_clips(output, sample=cfg.sheets, seed=cfg.seed)
        for clip in load_clips(output, picks, cfg.sheet.frames):
            m = clip.meta
            cap = f"{clip.key} ({clip.split}): {m['source']} {m['start']:.2f}–{m['end']:.2f} s"
            sheets.append((cap, render_sheet([clip], cfg.sheet).png))
    storage.write_atomic(out, render_html(st, sheets).encode("utf-8"))
    log.info("report written to %s", out)
    return st
