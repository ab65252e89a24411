"""Staging: the manifest (or a benchmark's split files) -> input chunks under `_work/inputs/`.

Once per output: a resumed build reads the staged chunks and counts from `_DONE.json` instead of
the manifest. A retry round (`--retry-failed`) stages the rows of the videos it retries under its
own round folder.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from pipeline.errors import ConfigError
from pipeline.labels import LabelCollector, LabelSpace
from pipeline.manifest import ManifestError, ManifestProblem, ManifestRow
from pipeline.records import Failure
from pipeline.split_files import SplitFileOptions, read_input
from pipeline.work import read_all, round_folder, staged_inputs_uri, work_uri
from vattclips import storage

CHUNK_ROWS = 200  # manifest rows per input chunk: the unit Beam reads


@dataclass(frozen=True)
class StagedInputs:
    """`_work/inputs/_DONE.json` (a retry round's: `{round folder}/inputs/_DONE.json`): the
    input chunks are staged; a resumed build reads the same list."""

    chunks: list[str]
    videos: int  # rows that are videos to process
    rows: int | None = None  # manifest rows (the first round's staging only)
    labels: LabelSpace | None = None  # collected over every row (the first round's only)

    def to_json(self) -> bytes:
        d: dict = {"chunks": self.chunks}
        if self.rows is not None:
            d["rows"] = self.rows
        d["videos"] = self.videos
        return json.dumps({**d, **(self.labels.to_dict() if self.labels else {})}).encode()

    @classmethod
    def from_json(cls, data: bytes) -> StagedInputs:
        d = json.loads(data)
        return cls(d["chunks"], d["videos"], d.get("rows"), LabelSpace.from_dict(d))


def stage_inputs(
    input_uri: str,
    output: str,
    video_root: str | None,
    split_files: SplitFileOptions | None = None,
) -> tuple[list[str], int, int, LabelSpace | None]:
    """Manifest -> input chunks under _work/inputs/ (once).

    Returns the chunk URIs, the manifest rows, the rows that are videos to process, and the
    label space (None for an unlabelled manifest): collected here, over every row, because
    each clip's label index must be known before any clip is cut; kept in _DONE.json so that
    a resumed build uses the same list.
    """
    done_uri = staged_inputs_uri(output, 0)
    if storage.exists(done_uri):
        done = StagedInputs.from_json(storage.read_bytes(done_uri))
        return done.chunks, done.rows or 0, done.videos, done.labels
    chunks = _ChunkWriter(output, 0)
    problems: list[Failure] = []
    rows = 0
    labels = LabelCollector()
    try:
        for item in read_input(input_uri, video_root, split_files):
            rows += 1
            if isinstance(item, ManifestProblem):
                problems.append(Failure(item.source, item.line, "", "manifest", item.error))
                continue
            labels.add(item.label)
            chunks.add(item.to_json())
    except ManifestError as exc:
        raise ConfigError(str(exc)) from exc
    chunks.flush()
    storage.write_atomic(
        work_uri(output, "manifest-failures.jsonl"),
        "".join(_manifest_failure_line(p) for p in problems).encode(),
    )
    videos = rows - len(problems)
    space = labels.space()
    storage.write_atomic(done_uri, StagedInputs(chunks.uris, videos, rows, space).to_json())
    return chunks.uris, rows, videos, space


def _manifest_failure_line(f: Failure) -> str:
    # without `transient`: a malformed manifest row stays malformed (read back as False)
    d = asdict(f)
    del d["transient"]
    return json.dumps(d, sort_keys=True) + "\n"


def manifest_failures(output: str) -> list[Failure]:
    uri = work_uri(output, "manifest-failures.jsonl")
    if not storage.exists(uri):
        return []
    lines = storage.read_bytes(uri).decode().splitlines()
    return [Failure(**json.loads(x)) for x in lines if x.strip()]


def stage_retry_inputs(
    output: str, round_: int, retry: set[str], chunks: list[str]
) -> tuple[list[str], int]:
    """The manifest rows of the videos to retry -> `{round folder}/inputs/` (once)."""
    done = staged_inputs_uri(output, round_)
    if storage.exists(done):
        staged = StagedInputs.from_json(storage.read_bytes(done))
        return staged.chunks, staged.videos
    out = _ChunkWriter(output, round_)
    rows = 0
    for data in read_all(chunks):
        for line in data.decode("utf-8").splitlines():
            if line.strip() and ManifestRow.from_json(line).video_id in retry:
                out.add(line)
                rows += 1
    out.flush()
    storage.write_atomic(done, StagedInputs(out.uris, rows).to_json())
    return out.uris, rows


class _ChunkWriter:
    """Manifest rows (JSON lines) into a round's `inputs/NNNNNN.jsonl`, CHUNK_ROWS per file."""

    def __init__(self, output: str, round_: int) -> None:
        self.folder = storage.join(output, round_folder(round_), "inputs")
        self.uris: list[str] = []
        self._lines: list[str] = []

    def add(self, line: str) -> None:
        self._lines.append(line + "\n")
        if len(self._lines) >= CHUNK_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self._lines:
            return
        uri = storage.join(self.folder, f"{len(self.uris):06d}.jsonl")
        storage.write_atomic(uri, "".join(self._lines).encode())
        self.uris.append(uri)
        self._lines.clear()
