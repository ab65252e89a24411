"""Manifest reading: one `ManifestRow` per video, or a `ManifestProblem` for a malformed row.

Formats (by extension, optionally compressed: `.jsonl.gz`, `.csv.bz2`...): JSONL/NDJSON, CSV,
Parquet, and a HowTo100M-style `caption.json` (`{video_id: {start, end, text}}`) taken as a
whole. All are streamed (lines, CSV records, Parquet batches, caption.json entries one at a
time), so a manifest of millions of videos never sits in memory; only the set of ids seen so far
does, to report duplicates. A malformed row is reported and the rest proceeds; a manifest that
cannot be read at all raises `ManifestError` (a configuration error).
"""

from __future__ import annotations

import base64
import csv
import datetime
import decimal
import json
import logging
import lzma
import math
import os
import posixpath
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from fsspec.utils import infer_compression

from pipeline.errors import ConfigError
from pipeline.labels import Label, parse_label
from vattclips import storage
from vattclips.keys import default_video_id, sanitize_id
from vattclips.schema import SPLITS

logger = logging.getLogger(__name__)

_FORMATS = {"jsonl": "jsonl", "ndjson": "jsonl", "csv": "csv", "parquet": "parquet", "json": "json"}
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_RESERVED = ("video", "id", "captions", "label", "split", "start", "end")
_PARQUET_BATCH_ROWS = 1024
_JSON_CHUNK_CHARS = 1 << 18  # caption.json read size; a peak of a few of these


@dataclass
class ManifestRow:
    """One video of the manifest.

    `line`: JSONL: the physical line (1-based); CSV: the file line where the record starts
    (the header is line 1); Parquet: row index + 1; caption.json: the entry's position + 1.
    """

    line: int
    video: str  # URI; a relative path is resolved against the manifest's folder (or video_root)
    video_id: str  # sanitize_id(id) when the row has one, else default_video_id(video)
    captions: str | dict | None  # URI (resolved like video), inline {start,end,text}, or None
    meta: dict = field(default_factory=dict)  # the other columns, JSON-serialisable
    label: Label | None = None  # a class name, or a sorted list of names (multi-label)
    split: str | None = None  # "train" / "val": overrides the hash split
    start: float | None = None  # seconds: clips are cut inside [start, end) of the source only
    end: float | None = None

    def to_json(self) -> str:
        """One line of the staged input chunks (`_work/inputs/*.jsonl`), keys sorted."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, line: str | bytes) -> ManifestRow:
        return cls(**json.loads(line))


@dataclass
class ManifestProblem:
    """A malformed row: reported (failures.parquet, stage `manifest`) while the rest proceeds."""

    line: int
    source: str  # the row's video URI when known, else the manifest's URI
    error: str


class ManifestError(ConfigError):
    """The manifest as a whole cannot be read (missing, unknown format, no `video` column)."""


# ---------------------------------------------------------------------------------------------
# Paths and values


def _folder(uri: str) -> str:
    """The folder of a file URI; local paths made absolute so workers need not share a cwd."""
    scheme = _SCHEME.match(uri)
    if scheme:
        return scheme.group() + posixpath.dirname(uri[scheme.end() :])
    return os.path.dirname(os.path.abspath(uri))


def _as_folder(root: str) -> str:
    """A folder given by the user, as a base for `_resolve` (local paths made absolute)."""
    return root.rstrip("/") if _SCHEME.match(root) else os.path.abspath(root)


def _resolve(path: str, base: str) -> str:
    """`path` as given when it has a scheme or is absolute, else joined onto folder `base`."""
    if _SCHEME.match(path) or path.startswith("/"):
        return path
    scheme = _SCHEME.match(base)
    if scheme:
        return scheme.group() + posixpath.normpath(posixpath.join(base[scheme.end() :], path))
    return os.path.normpath(os.path.join(base, path))


def _jsonable(value: Any) -> Any:
    """`value` as plain JSON types: numpy/pandas scalars unwrapped, NaN/NA/NaT as None,
    datetimes as ISO text, bytes as UTF-8 text (base64 when not UTF-8)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item) for item in value]
    if type(value).__name__ in ("NAType", "NaTType"):  # pandas.NA, pandas.NaT
        return None
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()  # pandas.Timestamp is a datetime
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return _jsonable(float(value))
    if isinstance(value, bytes | bytearray | memoryview):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(bytes(value)).decode("ascii")
    if hasattr(value, "tolist"):  # numpy scalar or array
        return _jsonable(value.tolist())
    return str(value)


def _seconds(record: dict, name: str) -> float | None:
    """A `start` / `end` cell as seconds >= 0 (numbers, or numeric text from a CSV)."""
    value = _jsonable(record.get(name))
    if _is_missing(value):
        return None
    try:
        seconds = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"'{name}' must be a number of seconds >= 0, got {value!r}")
    return seconds


def _labelled_fields(
    record: dict,
) -> tuple[Label | None, str | None, float | None, float | None]:
    """The optional `label`, `split`, `start`, `end` of a row; ValueError names the bad one."""
    label = parse_label(_jsonable(record.get("label")))
    split = _jsonable(record.get("split"))
    if _is_missing(split):
        split = None
    elif not isinstance(split, str) or split.strip() not in SPLITS:
        raise ValueError(f"'split' must be 'train' or 'val', got {split!r}")
    else:
        split = split.strip()
    start, end = _seconds(record, "start"), _seconds(record, "end")
    if start is not None and end is not None and end <= start:
        raise ValueError(f"'end' ({end:g}) must be after 'start' ({start:g})")
    return label, split, start, end


def _is_missing(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or (isinstance(value, str) and not value.strip())
    )


# ---------------------------------------------------------------------------------------------
# Row validation, shared by every format


class _RowBuilder:
    """Turns one record (a dict of columns) into a ManifestRow or a ManifestProblem."""

    def __init__(self, uri: str, video_root: str | None) -> None:
        self.uri = uri
        self.folder = _folder(uri)
        self.video_base = _as_folder(video_root) if video_root else self.folder
        self.first_line_of: dict[str, int] = {}  # video_id -> line, to report duplicates

    def problem(self, line: int, error: str, source: str | None = None) -> ManifestProblem:
        return ManifestProblem(line, source or self.uri, error)

    def build(self, record: dict, line: int) -> ManifestRow | ManifestProblem:
        video = record.get("video")
        if _is_missing(video):
            return self.problem(line, "missing or empty 'video'")
        if not isinstance(video, str):
            return self.problem(line, f"'video' must be a string, got {type(video).__name__}")
        video = _resolve(video.strip(), self.video_base)

        raw_id = _jsonable(record.get("id"))  # numpy scalars to Python, NaN to None
        if _is_missing(raw_id):
            video_id = default_video_id(video)
        elif isinstance(raw_id, str):
            video_id = sanitize_id(raw_id.strip())
        elif isinstance(raw_id, int | float) and not isinstance(raw_id, bool):
            # 12.0 is how CSV/pandas spell the integer id 12.
            is_whole = isinstance(raw_id, float) and raw_id.is_integer()
            video_id = sanitize_id(str(int(raw_id)) if is_whole else str(raw_id))
        else:
            return self.problem(
                line, f"'id' must be a string or a number, got {type(raw_id).__name__}", video
            )

        captions = record.get("captions")
        if _is_missing(captions):
            captions = None
        elif isinstance(captions, str):
            text = captions.strip()
            if text.startswith("{"):  # inline JSON captions in a CSV cell
                try:
                    captions = json.loads(text)
                except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
                    return self.problem(line, f"'captions' is invalid inline JSON: {exc}", video)
            else:
                captions = _resolve(text, self.folder)
        if captions is not None and not isinstance(captions, str | dict):
            return self.problem(
                line,
                f"'captions' must be a URI or a {{start, end, text}} object, "
                f"got {type(captions).__name__}",
                video,
            )

        try:
            label, split, start, end = _labelled_fields(record)
        except ValueError as exc:
            return self.problem(line, str(exc), video)

        first = self.first_line_of.setdefault(video_id, line)
        if first != line:
            return self.problem(
                line, f"duplicate video_id {video_id!r} (first at line {first})", video
            )
        meta = {str(key): _jsonable(value) for key, value in record.items() if key not in _RESERVED}
        return ManifestRow(
            line, video, video_id, _jsonable(captions), meta, label, split, start, end
        )


# ---------------------------------------------------------------------------------------------
# Formats


def _open(uri: str, mode: str = "rb", compressed: bool = True) -> IO:
    try:
        return storage.open_file(
            uri, mode, compression="infer" if compressed else None, encoding="utf-8"
        ).open()
    except (OSError, ValueError) as exc:
        raise ManifestError(f"manifest {uri}: cannot open: {exc}") from exc


def _rows_jsonl(uri: str, builder: _RowBuilder) -> Iterator[ManifestRow | ManifestProblem]:
    with _open(uri) as f:
        for line_no, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield builder.problem(line_no, f"not valid UTF-8: {exc}")
                continue
            if line_no == 1:
                text = text.lstrip("\ufeff")
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except (ValueError, RecursionError) as exc:  # JSONDecodeError, integers too long
                yield builder.problem(line_no, f"invalid JSON: {exc}")
                continue
            if not isinstance(record, dict):
                yield builder.problem(
                    line_no, f"expected a JSON object, got {type(record).__name__}"
                )
                continue
            yield builder.build(record, line_no)


def _decoded_lines(f: Iterable[bytes]) -> Iterator[str]:
    """Lines for csv.reader, decoded one at a time so a bad byte spoils only its own row:
    invalid UTF-8 is kept as surrogates (surrogateescape) and reported by the row check."""
    for i, raw in enumerate(f):
        text = raw.decode("utf-8", "surrogateescape")
        yield text.lstrip("\ufeff") if i == 0 else text


def _has_surrogates(values: Iterable[str]) -> bool:
    try:
        for value in values:
            value.encode("utf-8")  # strict: fails on the surrogates of undecodable bytes
    except UnicodeEncodeError:
        return True
    return False


def _csv_header(uri: str) -> list[str]:
    with _open(uri) as f:
        reader = csv.reader(_decoded_lines(f))
        try:
            header = next((row for row in reader if row), None)
        except csv.Error as exc:
            raise ManifestError(f"manifest {uri}: invalid CSV header: {exc}") from exc
    if header is None:
        raise ManifestError(f"manifest {uri}: empty CSV file")
    return [column.strip() for column in header]


def _rows_csv(uri: str, builder: _RowBuilder) -> Iterator[ManifestRow | ManifestProblem]:
    with _open(uri) as f:
        reader = csv.reader(_decoded_lines(f))
        header: list[str] | None = None
        while True:
            first_line = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                # The reader cannot resynchronise after a broken record (e.g. a NUL byte).
                yield builder.problem(first_line, f"invalid CSV, rest of file skipped: {exc}")
                return
            if not row or (header is not None and not any(value.strip() for value in row)):
                continue
            if header is None:
                header = [column.strip() for column in row]
                continue
            if _has_surrogates(row):
                yield builder.problem(first_line, "not valid UTF-8")
            elif len(row) > len(header):
                yield builder.problem(
                    first_line, f"{len(row)} fields but the header has {len(header)}"
                )
            else:
                # Missing trailing fields and empty cells are absent values.
                record = {
                    name: (row[i] if i < len(row) and row[i] != "" else None)
                    for i, name in enumerate(header)
                }
                yield builder.build(record, first_line)


def _parquet_columns(uri: str) -> list[str]:
    import pyarrow.parquet as pq

    with _open(uri, compressed=False) as f:
        try:
            return list(pq.ParquetFile(f).schema_arrow.names)
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError... for a bad file
            raise ManifestError(f"manifest {uri}: not a readable Parquet file: {exc}") from exc


def _rows_parquet(uri: str, builder: _RowBuilder) -> Iterator[ManifestRow | ManifestProblem]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with _open(uri, compressed=False) as f:
        line = 0
        batches = pq.ParquetFile(f).iter_batches(batch_size=_PARQUET_BATCH_ROWS)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except (pa.ArrowException, ValueError) as exc:  # a corrupt row group
                raise ManifestError(f"manifest {uri}: unreadable after row {line}: {exc}") from exc
            for record in batch.to_pylist():
                line += 1
                yield builder.build(record, line)


class _JsonObjectStream:
    """The (key, value) entries of one top-level JSON object, read in chunks.

    HowTo100M's caption.json is one object of about a million entries (gigabytes as Python
    objects); this keeps one entry in memory at a time.
    """

    def __init__(self, f: IO[str], chunk_chars: int = _JSON_CHUNK_CHARS) -> None:
        self.f = f
        self.chunk_chars = chunk_chars
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.decoder = json.JSONDecoder()

    def _fill(self) -> bool:
        chunk = "" if self.eof else self.f.read(self.chunk_chars)
        self.eof = not chunk
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0
        return bool(chunk)

    def _next_char(self) -> str:
        """The next non-whitespace character (not consumed); '' at the end of the input."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n\ufeff":
                self.pos += 1
            if self.pos < len(self.buf) or not self._fill():
                return self.buf[self.pos : self.pos + 1]

    def _expect(self, chars: str, what: str) -> str:
        char = self._next_char()
        if not char or char not in chars:
            raise ValueError(f"expected {what}, found {char or 'the end of the file'!r}")
        self.pos += 1
        return char

    def _value(self) -> Any:
        self._next_char()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError:
                if self._fill():
                    continue
                raise
            # A value that touches the end of the buffer may continue (a number): read more.
            if end == len(self.buf) and self._fill():
                continue
            self.pos = end
            return value

    def items(self) -> Iterator[tuple[Any, Any]]:
        self._expect("{", "'{' at the start of a caption.json")
        if self._next_char() == "}":
            return
        while True:
            if self._next_char() != '"':
                raise ValueError("expected a quoted video id")
            key = self._value()
            self._expect(":", "':' after a video id")
            yield key, self._value()
            if self._expect(",}", "',' or '}' after an entry") == "}":
                return


def _rows_caption_json(
    uri: str, builder: _RowBuilder, video_ext: str
) -> Iterator[ManifestRow | ManifestProblem]:
    with _open(uri, "rt") as f:
        stream = _JsonObjectStream(f)
        line = 0
        try:
            for line, (key, captions) in enumerate(stream.items(), start=1):
                if not key.strip():
                    yield builder.problem(line, "empty video id key")
                elif not isinstance(captions, dict):
                    yield builder.problem(
                        line,
                        f"entry {key!r}: expected a {{start, end, text}} object, "
                        f"got {type(captions).__name__}",
                    )
                else:
                    video = f"{builder.video_base}/{key}{video_ext}"
                    yield builder.build({"video": video, "id": key, "captions": captions}, line)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
            # One broken object: the entries after the break cannot be found again.
            yield builder.problem(line + 1, f"invalid caption.json, rest of file skipped: {exc}")


# ---------------------------------------------------------------------------------------------
# Entry point


def _manifest_format(uri: str) -> str:
    path = uri.split("?", 1)[0]
    if infer_compression(path):
        path = path.rsplit(".", 1)[0]
    fmt = _FORMATS.get(path.rpartition(".")[2].lower()) if "." in path else None
    if fmt is None:
        raise ManifestError(
            f"manifest {uri}: unknown format; expected .jsonl, .ndjson, .csv, .parquet or "
            f"a caption.json (.json), optionally compressed (.gz)"
        )
    return fmt


def _check_exists(uri: str) -> None:
    try:
        fs, path = storage.fs_for(uri)
        exists, is_dir = fs.exists(path), fs.isdir(path)
    except Exception as exc:  # unknown protocol, missing credentials, network...
        raise ManifestError(f"manifest {uri}: cannot access: {exc}") from exc
    if not exists:
        raise ManifestError(f"manifest {uri} does not exist")
    if is_dir:
        raise ManifestError(f"manifest {uri} is a folder, not a file")


def read_manifest(
    uri: str, video_root: str | None = None, video_ext: str = ".mp4"
) -> Iterator[ManifestRow | ManifestProblem]:
    """The rows of the manifest at `uri` (any fsspec URI), in file order, streamed.

    Checks the manifest as a whole before returning (ManifestError when it is missing, of an
    unknown format, or lacks a `video` column), so a broken configuration fails fast. Relative
    `video` paths resolve against `video_root` when given, else the manifest's folder; for a
    caption.json each key becomes `{video_root or folder}/{key}{video_ext}`.
    """
    fmt = _manifest_format(uri)
    _check_exists(uri)
    if fmt == "json":
        with _open(uri, "rt") as f:
            try:
                _JsonObjectStream(f, chunk_chars=4096)._expect("{", "'{'")
            except ValueError as exc:
                raise ManifestError(f"manifest {uri}: not a caption.json object: {exc}") from exc
    if fmt in ("csv", "parquet"):
        columns = _csv_header(uri) if fmt == "csv" else _parquet_columns(uri)
        if "video" not in columns:
            raise ManifestError(f"manifest {uri}: no 'video' column (columns: {columns})")
    builder = _RowBuilder(uri, video_root)
    if fmt == "jsonl":
        rows = _rows_jsonl(uri, builder)
    elif fmt == "csv":
        rows = _rows_csv(uri, builder)
    elif fmt == "parquet":
        rows = _rows_parquet(uri, builder)
    else:
        rows = _rows_caption_json(uri, builder, video_ext)
    return _counted(uri, rows)


def _counted(
    uri: str, rows: Iterator[ManifestRow | ManifestProblem]
) -> Iterator[ManifestRow | ManifestProblem]:
    good = bad = 0
    try:
        for row in rows:
            if isinstance(row, ManifestRow):
                good += 1
            else:
                bad += 1
                logger.warning("manifest %s line %d: %s", uri, row.line, row.error)
            yield row
    except (OSError, EOFError, zlib.error, lzma.LZMAError) as exc:  # corrupt .gz, lost network
        raise ManifestError(f"manifest {uri}: read failed after {good + bad} rows: {exc}") from exc
    logger.info("manifest %s: %d rows, %d malformed", uri, good, bad)


def rows_from_records(
    uri: str,
    records: Iterable[tuple[int, dict] | ManifestProblem],
    video_root: str | None = None,
) -> Iterator[ManifestRow | ManifestProblem]:
    """Manifest rows from records made by another reader (the split-file readers): each
    `(line, {video, id, label, ...})` is checked exactly like a manifest row (ids sanitized,
    duplicates and bad cells reported); a ManifestProblem passes through. Relative `video`
    paths resolve against `video_root`, else the folder of `uri`."""
    builder = _RowBuilder(uri, video_root)

    def build() -> Iterator[ManifestRow | ManifestProblem]:
        for item in records:
            yield item if isinstance(item, ManifestProblem) else builder.build(item[1], item[0])

    return _counted(uri, build())
