"""Contact sheets and the dataset report, drawn from a real build and checked pixel by pixel.

One dataset is built with the real Beam pipeline for the whole module: a clock video (grey
levels step every 0.8 s, captions, a 0.5 amplitude tone), a colour video (four colours step
every 0.8 s, captions, a 0.3 amplitude tone), a video without audio, a test-pattern video
without captions, and three inputs that fail at three stages.
"""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
import json
import re
import shutil
import subprocess
import tarfile
import time
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import fsspec
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pipeline.cli import main
from pipeline.synth import media as ms
from pipeline.viewers.contact_sheet import neighbor_lines, write_contact_sheet
from pipeline.viewers.report import ReportConfig, collect_stats, text_summary, write_report
from tests.pipeline import broken_inputs as bi
from tests.pipeline.conftest import level_at, run_build, write_clock_video, write_manifest

# Colours that the test pattern (testsrc2) of the "bars" video does not show in large areas.
PALETTE = [(235, 130, 30), (30, 150, 150), (130, 50, 180), (235, 150, 190)]
STEP = 0.8
WAVE_RGB = (59, 110, 168)  # the waveform's fill colour, #3b6ea8
VTT = "WEBVTT\n\n" + "".join(
    f"00:00:{1.6 * k:06.3f} --> 00:00:{1.6 * (k + 1):06.3f}\nstep {k} costs $1 & $2\n\n"
    for k in range(8)
)


def colour_at(t: float) -> tuple[int, int, int]:
    return PALETTE[int(t // STEP) % len(PALETTE)]


def near_step_edge(t: float) -> bool:
    """Within a source frame of a 0.8 s step: either colour is right there."""
    return abs(t / STEP - round(t / STEP)) * STEP < 0.06


def write_colour_video(path: Path, seconds: float = 6.4, fps: int = 25) -> Path:
    size = (192, 108)  # 16:9, unlike the 4:3 clock
    frames = (
        np.broadcast_to(np.array(colour_at(i / fps), np.uint8), (size[1], size[0], 3)).copy()
        for i in range(int(seconds * fps))
    )
    sr = 44100
    tone = 0.3 * np.sin(2 * np.pi * 440.0 * np.arange(int(seconds * sr)) / sr)
    return ms.write_frames_video(path, frames, fps, size, audio=tone.astype(np.float32))


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("viewcorpus")
    v = d / "videos"
    v.mkdir()
    (d / "clock.vtt").write_text(VTT)
    write_clock_video(v / "clock.mp4")
    write_colour_video(v / "colour.mp4")
    write_clock_video(v / "silent.mp4", seconds=4.0, no_audio=True)
    ms.synth_video(v / "bars.mp4", 5.0, width=320, height=240)
    # stored 320x240 with a 90-degree display matrix: shown (and reported) as 240x320
    ms.synth_video(v / "rot90.mp4", 4.0, width=320, height=240, rotation=90)
    bi.make_zero_byte_file(v / "zero.mp4")
    bi.make_text_file_as_video(v / "text.mp4")
    rows = [
        {"id": "clock", "video": "videos/clock.mp4", "captions": "clock.vtt"},
        {"id": "colour", "video": "videos/colour.mp4", "captions": "clock.vtt"},
        {"id": "silent", "video": "videos/silent.mp4"},
        {"id": "bars", "video": "videos/bars.mp4"},
        {"id": "rot90", "video": "videos/rot90.mp4"},
        {"id": "zero", "video": "videos/zero.mp4"},
        {"id": "text", "video": "videos/text.mp4"},
    ]
    manifest = write_manifest(d / "manifest.jsonl", rows)
    with manifest.open("a") as f:
        f.write("{not json\n")
    out = d / "out"
    # val-fraction 0.5 puts clock and silent in val, colour, bars and rot90 in train (stable
    # hashes); Beam in-process: half the wall time of two worker processes for these inputs
    run_build(
        manifest,
        out,
        *("--val-fraction", "0.5", "--asr", "none", "--shard-samples", "3"),
        "--direct_running_mode=in_memory",
    )
    return out


@pytest.fixture(scope="module")
def samples(built) -> dict[str, dict]:
    """Every sample of every shard, read with tarfile alone: the truth the pictures must show."""
    out: dict[str, dict] = {}
    for shard in sorted((built / "shards").glob("*.tar")):
        with tarfile.open(shard) as tar:
            for m in tar.getmembers():
                key, ext = m.name.split(".", 1)
                out.setdefault(key, {"split": shard.name.split("-")[0]})[ext] = tar.extractfile(
                    m
                ).read()
    return out


def png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)  # (H, W, 3)


def centre(img: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Median colour of the middle half of a box: clear of antialiased edges."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    region = img[top + h // 4 : bottom - h // 4, left + w // 4 : right - w // 4]
    return np.median(region.reshape(-1, 3), axis=0)


def wave_band(img: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Typical share of a waveform strip's column in the waveform's colour (0 when none)."""
    left, top, right, bottom = box
    strip = img[top:bottom, left:right]
    hit = np.abs(strip - np.array(WAVE_RGB)).max(axis=2) < 20  # (rows, columns)
    return float(np.median(hit.mean(axis=0)))


def test_key_sheet_shows_the_clip_frames_in_order_where_it_says(built, samples, tmp_path):
    out = tmp_path / "colour.png"
    sheet = write_contact_sheet(str(built), str(out), key="colour_00001")
    img = png(out.read_bytes())
    assert img.shape == (sheet.height, sheet.width, 3) and sheet.width == 1400
    assert sheet.keys == ["colour_00001"] and len(sheet.cells[0]) == 8
    meta = json.loads(samples["colour_00001"]["json"])
    times = sheet.times[0]
    assert times[0] == 0.0 and times[-1] == pytest.approx(3.1)  # spread across the 3.2 s clip
    seen = []
    for box, t in zip(sheet.cells[0], times):
        if near_step_edge(meta["start"] + t):
            continue
        got = centre(img, box)
        want = colour_at(meta["start"] + t)
        assert np.abs(got - want).max() < 25, (t, got, want)
        seen.append(want)
    assert len(set(seen)) == 4  # the window's four colours, each in its place
    # the cells sit in one row, left to right, under the title
    tops = {b[1] for b in sheet.cells[0]}
    lefts = [b[0] for b in sheet.cells[0]]
    assert len(tops) == 1 and lefts == sorted(lefts) and min(tops) > 20
    # a 0.3 amplitude tone fills ~0.3/1.05 of the strip (y from -1.05 to 1.05)
    assert wave_band(img, sheet.waves[0]) == pytest.approx(0.3 / 1.05, abs=0.07)


def test_sample_sheet_of_a_split_shows_grey_levels_and_missing_audio(built, samples, tmp_path):
    out = tmp_path / "val.png"
    sheet = write_contact_sheet(str(built), str(out), sample=3, split="val", seed=1)
    img = png(out.read_bytes())
    assert img.shape == (sheet.height, sheet.width, 3)
    assert len(sheet.keys) == 3 and all(samples[k]["split"] == "val" for k in sheet.keys)
    assert {k.split("_")[0] for k in sheet.keys} == {"clock", "silent"}  # every video first
    bottoms = [cells[0][3] for cells in sheet.cells]
    assert bottoms == sorted(bottoms)  # clips stacked top to bottom
    checked = 0
    for key, cells, times, wave in zip(sheet.keys, sheet.cells, sheet.times, sheet.waves):
        meta = json.loads(samples[key]["json"])
        for box, t in zip(cells, times):
            if near_step_edge(meta["start"] + t):
                continue
            got = centre(img, box)
            assert np.abs(got - level_at(meta["start"] + t)).max() < 7, (key, t, got)
            checked += 1
        if key.startswith("silent"):
            assert "flac" not in samples[key]
            assert wave_band(img, wave) == 0.0
            left, top, right, bottom = wave
            grey = np.abs(img[top:bottom, left:right] - 238).max(axis=2) < 4  # #eeeeee
            assert grey.mean() > 0.8
        else:
            assert wave_band(img, wave) == pytest.approx(0.5 / 1.05, abs=0.07)
    assert checked >= 16


def test_neighbour_lines_give_offsets_from_the_clip_start(samples):
    meta = json.loads(samples["clock_00001"]["json"])  # 3.2-6.4 s, cues every 1.6 s
    assert neighbor_lines(meta) == [
        "○   −3.2 … −1.6 s   step 0 costs $1 & $2",
        "○   −1.6 … +0.0 s   step 1 costs $1 & $2",
        "●   +0.0 … +1.6 s   step 2 costs $1 & $2",
        "●   +1.6 … +3.2 s   step 3 costs $1 & $2",
        "○   +3.2 … +4.8 s   step 4 costs $1 & $2",
    ]


def test_cli_inspect_writes_a_png_and_rejects_unknown_keys(built, tmp_path, capsys):
    out = tmp_path / "cli.png"
    assert main(["inspect", str(built), "--sample", "2", "--frames", "4", "--out", str(out)]) == 0
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size[0] == 1400 and im.size[1] > 400
    assert "contact sheet of" in capsys.readouterr().out
    missing = tmp_path / "missing.png"
    assert main(["inspect", str(built), "--key", "nope_00000", "--out", str(missing)]) == 2
    assert "no clip with key 'nope_00000'" in capsys.readouterr().err
    assert main(["inspect", str(built), "--split", "test", "--out", str(missing)]) == 2
    assert "no clips in split 'test'" in capsys.readouterr().err
    assert main(["inspect", str(tmp_path), "--out", str(missing)]) == 2
    assert "no index.parquet" in capsys.readouterr().err
    assert not missing.exists()


def test_inspect_and_report_read_a_dataset_through_fsspec(built, tmp_path):
    fs = fsspec.filesystem("memory")
    for f in built.rglob("*"):
        rel = f.relative_to(built).as_posix()
        if f.is_file() and not rel.startswith("_"):
            fs.pipe(f"/view-test/{rel}", f.read_bytes())
    try:
        sheet = write_contact_sheet(
            "memory://view-test", str(tmp_path / "m.png"), key="clock_00002"
        )
        local = write_contact_sheet(str(built), str(tmp_path / "l.png"), key="clock_00002")
        assert (tmp_path / "m.png").read_bytes() == (tmp_path / "l.png").read_bytes()
        assert sheet.cells == local.cells
        write_report("memory://view-test", "memory://view-test/report.html", ReportConfig(sheets=1))
        assert b"split-val" in fs.cat("/view-test/report.html")
    finally:
        fs.rm("/view-test", recursive=True)


class _Tables(HTMLParser):
    """Rows of the report's tables by id (`split-train`, `failure-probe`, ...) and its images."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self.images: list[str] = []
        self.links: list[str] = []
        self._row: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "id" in a:
            self._row = a["id"]
            self.rows[self._row] = []
        elif tag == "td" and self._row:
            self._cell = []
        elif tag == "img":
            self.images.append(a["src"])
        for name in ("href", "src"):
            if name in a:
                self.links.append(a[name])

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.rows[self._row].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def report(built, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("report") / "report.html"
    stats = write_report(str(built), str(out), ReportConfig(sheets=4))
    parsed = _Tables()
    parsed.feed(out.read_text("utf-8"))
    return {"path": out, "stats": stats, "html": parsed}


def test_report_references_every_split_and_failure_stage_with_true_numbers(built, samples, report):
    t = report["html"]
    index = pd.read_parquet(built / "index.parquet")
    failures = pd.read_parquet(built / "failures.parquet")
    assert set(index.split) == {"train", "val"}
    assert set(failures.stage) == {"manifest", "fetch", "probe"}
    for split, rows in index.groupby("split"):
        cells = t.rows[f"split-{split}"]
        audio = sum("flac" in samples[k] for k in rows.key)
        text = sum(bool(samples[k]["txt"].strip()) for k in rows.key)
        assert cells[:3] == [split, str(rows.video_id.nunique()), str(len(rows))]
        assert cells[4] == f"{100 * audio / len(rows):.0f}%"
        assert cells[5] == f"{100 * text / len(rows):.0f}%"
    assert t.rows["total"][2] == str(len(samples))
    for stage, rows in failures.groupby("stage"):
        cells = t.rows[f"failure-{stage}"]
        assert cells[:2] == [stage, str(len(rows))]
        assert rows.error.iloc[0].split(": ")[-1] in cells[3]
    # self-contained: every image inline, nothing fetched from elsewhere
    assert t.links and all(x.startswith("data:image/png;base64,") for x in t.links)
    sizes = [Image.open(io.BytesIO(base64.b64decode(x.split(",", 1)[1]))).size for x in t.images]
    assert len(sizes) == 3 + 4  # durations, resolutions, words; four contact sheets
    assert all(w >= 500 and h >= 250 for w, h in sizes)


def test_report_stats_come_from_the_samples(samples, report):
    st = report["stats"]
    assert st.shards_read == st.shards_total == 4
    assert st.durations == pytest.approx(
        {"clock": 12.8, "colour": 6.4, "silent": 4.0, "bars": 5.0, "rot90": 4.0}, abs=0.05
    )
    assert st.resolutions == {
        "clock": "160x120",
        "colour": "192x108",
        "silent": "160x120",
        "bars": "320x240",
        "rot90": "240x320",
    }
    words = sorted(len(s["txt"].decode().split()) for s in samples.values())
    assert sorted(st.words) == words and max(words) == 12  # two cues of six words
    bags: dict[int, int] = {}
    for s in samples.values():
        n = len(json.loads(s["json"])["neighbors"])
        bags[n] = bags.get(n, 0) + 1
    assert st.neighbors == bags and st.k == 5
    fewer = sum(c for n, c in bags.items() if n < 5)
    assert fewer > 0  # the videos without captions
    assert f"{fewer} of {len(samples)} have fewer than K" in st.neighbors_line()
    assert st.neighbors_line() in text_summary(str(st.output))


def test_text_summary_and_report_cli(built, tmp_path, capsys):
    summary = text_summary(str(built))
    assert "9 clips from 5 of 8 inputs" in summary
    assert "train: 3 videos, 4 clips; val: 2 videos, 5 clips" in summary
    for stage in ("manifest", "fetch", "probe"):
        assert f"failed at {stage}: 1" in summary
    assert "empty file" in summary  # the reason of the fetch failure
    out = tmp_path / "r.html"
    assert (
        main(["report", str(built), "--out", str(out), "--sheets", "1", "--max-shards", "1"]) == 0
    )
    printed = capsys.readouterr().out
    assert "train: 3 videos" in printed and f"report written: {out}" in printed
    assert out.read_text().count("<img") == 3 + 1
    assert collect_stats(str(built), ReportConfig(max_shards=1)).shards_read == 2  # one per split


# ---- the report in a real browser ----------------------------------------------------------

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    "--remote-debugging-address=127.0.0.1",
]


async def _cdp_render(ws_url: str, page_url: str, width: int) -> dict:
    """Load `page_url` over the DevTools protocol; return console errors, images, screenshot."""
    ids = itertools.count(1)
    events: list[dict] = []
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url, max_msg_size=0) as ws:

        async def call(method: str, **params) -> dict:
            i = next(ids)
            await ws.send_json({"id": i, "method": method, "params": params})
            while True:
                msg = await ws.receive_json(timeout=60)
                if msg.get("id") == i:
                    assert "error" not in msg, (method, msg)
                    return msg["result"]
                events.append(msg)

        for domain in ("Page", "Runtime", "Log"):
            await call(f"{domain}.enable")
        await call("Emulation.setDeviceMetricsOverride", width=width, height=900,
                   deviceScaleFactor=1, mobile=False)  # fmt: skip
        await call("Page.navigate", url=page_url)
        while not any(e.get("method") == "Page.loadEventFired" for e in events):
            events.append(await ws.receive_json(timeout=60))
        js = "JSON.stringify(Array.from(document.images).map(i => [i.complete, i.naturalWidth]))"
        images = json.loads(
            (await call("Runtime.evaluate", expression=js, returnByValue=True))["result"]["value"]
        )
        height = (await call("Page.getLayoutMetrics"))["cssContentSize"]["height"]
        await call("Emulation.setDeviceMetricsOverride", width=width, height=int(height),
                   deviceScaleFactor=1, mobile=False)  # fmt: skip
        shot = await call("Page.captureScreenshot", format="png")
    errors = [
        e
        for e in events
        if e.get("method") == "Runtime.exceptionThrown"
        or (
            e.get("method") == "Runtime.consoleAPICalled"
            and e["params"]["type"] in ("error", "assert")
        )
        or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
    ]
    return {"errors": errors, "images": images, "png": base64.b64decode(shot["data"])}


def test_report_opens_in_headless_chromium_without_console_errors(report, tmp_path):
    exe = shutil.which("chromium")
    assert exe, "chromium is not installed (Debian package `chromium`; scripts/setup.sh)"
    profile = tmp_path / "profile"
    log = (tmp_path / "chromium.log").open("wb")
    flags = [f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0"]
    proc = subprocess.Popen([exe, *CHROMIUM_FLAGS, *flags, "about:blank"], stdout=log, stderr=log)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            assert proc.poll() is None, (tmp_path / "chromium.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as r:
            page = next(t for t in json.load(r) if t["type"] == "page")
        got = asyncio.run(
            _cdp_render(page["webSocketDebuggerUrl"], report["path"].as_uri(), width=1200)
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    assert got["errors"] == []
    assert len(got["images"]) == 7 and all(ok and w > 0 for ok, w in got["images"])
    shot_path = tmp_path / "report.png"
    shot_path.write_bytes(got["png"])
    img = png(got["png"])
    assert img.shape[1] == 1200 and img.shape[0] > 2000  # the whole page
    # the colour clip's contact sheet made it to the screen: each colour over a frame cell or more
    for c in PALETTE:
        close = (np.abs(img - np.array(c)).max(axis=2) < 25).sum()
        assert close > 3000, (c, close)
    assert (
        re.search(r"Uncaught|CONSOLE\(\d+\).*[Ee]rror", (tmp_path / "chromium.log").read_text())
        is None
    )


def test_random_picks_follow_the_seed_one_clip_per_video_first(built):
    from pipeline.viewers.contact_sheet import pick_clips

    videos = {p.key.rsplit("_", 1)[0] for p in pick_clips(str(built), sample=99)}
    firsts = {pick_clips(str(built), sample=1, seed=s)[0].key.rsplit("_", 1)[0] for s in range(12)}
    assert len(firsts) > 1  # not the first video of the index whatever the seed
    assert pick_clips(str(built), sample=2, seed=5) == pick_clips(str(built), sample=2, seed=5)
    two = [p.key.rsplit("_", 1)[0] for p in pick_clips(str(built), sample=2, seed=3)]
    assert len(set(two)) == 2 and set(two) <= videos
