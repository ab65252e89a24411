"""Transient failures: a source that is down (HTTP 503) at the first build is retried by
`--retry-failed`; its clips go to new shards and the committed shards are not touched, and its
captions' words join the corpus word counts."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import fsspec
import pandas as pd
import pytest

from pipeline.errors import is_transient
from pipeline.vocabulary import merge_rounds
from tests.conftest import free_port
from tests.pipeline import broken_inputs as bi
from tests.pipeline.conftest import run_build, write_clock_video, write_manifest

ARGS = ("--shard-samples", "2", "--asr", "none", "--val-fraction", "0")


class _Handler(http.server.BaseHTTPRequestHandler):
    """Files of `server.root`, with byte ranges; 503 for the paths in `server.outage`."""

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        self._serve(body=False)

    def do_GET(self) -> None:  # noqa: N802
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        srv = self.server
        srv.requests.append(self.path)
        if self.path in srv.outage:
            self.send_error(503, "Service Unavailable")
            return
        path = srv.root / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404, "Not Found")
            return
        data = path.read_bytes()
        first, last = 0, len(data) - 1
        ranged = self.headers.get("Range", "").startswith("bytes=")
        if ranged:
            a, _, b = self.headers["Range"][6:].partition("-")
            first, last = int(a or 0), min(int(b) if b else len(data) - 1, len(data) - 1)
        self.send_response(206 if ranged else 200)
        if ranged:
            self.send_header("Content-Range", f"bytes {first}-{last}/{len(data)}")
        self.send_header("Content-Length", str(last - first + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if body:
            self.wfile.write(data[first : last + 1])

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Handler)
    srv.root, srv.outage, srv.requests = root, set(), []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def _url(srv, name: str) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}/{name}"


def test_http_errors_are_told_apart(server):
    (server.root / "here.bin").write_bytes(b"x" * 10)
    server.outage.add("/down.bin")
    fs = fsspec.filesystem("http")
    with pytest.raises(FileNotFoundError) as down:  # fsspec reports a 503 as not found...
        fs.info(_url(server, "down.bin"))
    assert is_transient(down.value)  # ...raised from the 503, which is what counts
    with pytest.raises(FileNotFoundError) as missing:
        fs.info(_url(server, "missing.bin"))
    assert not is_transient(missing.value)
    assert fs.cat_file(_url(server, "here.bin"), start=2, end=5) == b"xxx"
    assert is_transient(TimeoutError()) and not is_transient(ValueError("not media"))


def _vtt(path: Path, text: str) -> str:
    path.write_text(f"WEBVTT\n\n00:00:00.000 --> 00:00:05.000\n{text}\n")
    return path.name


def _words(out: Path) -> tuple[dict[str, int], int]:
    counts = json.loads((out / "word_counts.json").read_text())
    return dict(counts["words"]), counts["videos"]


def _shards(out: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (out / "shards").glob("*")}


def test_a_source_down_at_first_is_retried_into_new_shards(server, tmp_path):
    write_clock_video(tmp_path / "a.mp4", seconds=9.6)
    write_clock_video(tmp_path / "b.mp4", seconds=6.4)
    write_clock_video(server.root / "flaky.mp4", seconds=9.6)
    bi.make_text_file_as_video(tmp_path / "text.mp4")
    rows = [
        {"id": "a", "video": "a.mp4", "captions": _vtt(tmp_path / "a.vtt", "apples on a plate")},
        {"id": "b", "video": "b.mp4"},
        {
            "id": "flaky",
            "video": _url(server, "flaky.mp4"),
            "captions": _vtt(tmp_path / "flaky.vtt", "zebras on a plate"),
        },
        {"id": "gone", "video": _url(server, "gone.mp4")},
        {"id": "text", "video": "text.mp4"},
    ]
    manifest = write_manifest(tmp_path / "manifest.jsonl", rows)
    out = tmp_path / "out"
    server.outage.add("/flaky.mp4")
    first = run_build(manifest, out, *ARGS)
    failures = pd.read_parquet(out / "failures.parquet").set_index("video_id")
    assert failures.loc["flaky", "stage"] == "fetch" and failures.loc["flaky", "transient"]
    assert "503" in failures.loc["flaky", "error"]
    assert failures.loc["gone", "stage"] == "fetch" and not failures.loc["gone", "transient"]
    assert failures.loc["text", "stage"] == "probe" and not failures.loc["text", "transient"]
    assert "1 videos failed for reasons that may pass" in first.stdout
    assert "--retry-failed" in first.stdout
    committed = _shards(out)
    words, videos = _words(out)
    assert (words["apples"], words["plate"], videos) == (1, 1, 2) and "zebras" not in words
    before = json.loads((out / "dataset.json").read_text())
    assert [s["name"] for s in before["shards"]] == [f"shards/train-{i:06d}.tar" for i in range(3)]

    server.outage.clear()  # the outage is over
    server.requests.clear()
    again = run_build(manifest, out, *ARGS, "--retry-failed")
    assert "retried: 1 videos" in again.stdout
    assert "/gone.mp4" not in server.requests  # a permanent failure is not tried again
    after = _shards(out)
    assert {k: after[k] for k in committed} == committed  # same bytes, never rewritten
    ds = json.loads((out / "dataset.json").read_text())
    new = [s for s in ds["shards"] if s not in before["shards"]]
    assert ds["shards"][:3] == before["shards"]
    assert [s["name"] for s in new] == ["shards/train-000003.tar", "shards/train-000004.tar"]
    assert ds["counts"]["videos_ok"] == 3 and ds["counts"]["samples"] == 8
    assert ds["counts"]["videos_retryable"] == 0
    index = pd.read_parquet(out / "index.parquet")
    flaky = index[index.video_id == "flaky"]
    assert sorted(flaky.key) == ["flaky_00000", "flaky_00001", "flaky_00002"]
    assert set(flaky.shard) == {s["name"] for s in new}
    assert not index.key.duplicated().any()
    failures = pd.read_parquet(out / "failures.parquet")
    assert sorted(failures.video_id) == ["gone", "text"]
    words, videos = _words(out)  # round 0's counts + the retry round's
    assert (words["apples"], words["zebras"], words["plate"], videos) == (1, 1, 2, 3)
    merge_rounds(str(out), 2)  # redone, as after an interruption before done.json: no double
    assert _words(out) == (words, videos)

    # nothing left to retry: the same command changes nothing
    last = run_build(manifest, out, *ARGS, "--retry-failed")
    assert "retried" not in last.stdout and _shards(out) == after
    assert _words(out) == (words, videos)
    pd.testing.assert_frame_equal(index, pd.read_parquet(out / "index.parquet"))
