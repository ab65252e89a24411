"""Caption files to clean, time-sorted text segments.

Formats: WebVTT (including YouTube's rolling auto-captions), SRT, HowTo100M-style JSON
(`{"start": [...], "end": [...], "text": [...]}`) and CSV (`start,end,text`). Every problem with
an input becomes a `CaptionError` naming it: the job records it in failures.parquet and goes on
with empty text, so no parser internals (UnicodeDecodeError, csv.Error...) may escape.
"""

from __future__ import annotations

import csv
import html
import io
import json
import logging
import lzma
import math
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from fsspec.utils import infer_compression

from vattclips import storage

logger = logging.getLogger(__name__)

FORMATS = ("vtt", "srt", "json", "csv")
# A caption file is read whole; a bigger "caption" is a mistake (a video given as captions...).
MAX_CAPTION_BYTES = 64 * 1024 * 1024

_EXTENSIONS = {"vtt": "vtt", "webvtt": "vtt", "srt": "srt", "json": "json", "csv": "csv"}
# Tags of WebVTT/SRT cue text: <i>, </c>, <c.colorE5E5E5>, <v Speaker>, <font color="...">, and
# the inline word timestamps of YouTube auto-captions <00:00:01.020>. A '<' followed by a space
# or a digit-less non-letter ("a < b") is text, not a tag.
_TAG = re.compile(r"<(?:/?[A-Za-z][^<>]*|\d[\d:.]*)>")
# ASS override blocks that some SRT files carry: {\an8}, {\i1}.
_ASS_OVERRIDE = re.compile(r"\{\\[^{}]*\}")
_TIMESTAMP = re.compile(r"(?:(\d{1,9}):)?(\d{1,2}):(\d{1,2})(?:[.,](\d{1,3}))?")
_VTT_HEADER = re.compile(r"WEBVTT(?:[ \t].*)?")
_VTT_SKIPPED_BLOCK = re.compile(r"(?:NOTE|STYLE|REGION)(?:[ \t].*)?")


@dataclass(frozen=True)
class Segment:
    """One caption: [start, end) in seconds of the source video, and its text."""

    start: float
    end: float
    text: str


class CaptionError(ValueError):
    """A caption input that cannot be used; the message names the input and what is wrong."""


def _error(name: str, message: str) -> CaptionError:
    return CaptionError(f"captions {name or '<inline data>'}: {message}")


# ---------------------------------------------------------------------------------------------
# Decoding, timestamps, text cleaning


def _decode(data: bytes | str, name: str) -> str:
    if isinstance(data, str):
        text = data
    elif isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with BOM (Windows subtitle tools)
            encodings: Sequence[str] = ("utf-16",)
        else:
            # Old SRT files are often Windows-1252; UTF-8 is tried first and wins when valid.
            encodings = ("utf-8", "cp1252")
        for encoding in encodings:
            try:
                text = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise _error(name, f"not text in {' or '.join(encodings)} (binary data?)")
    else:
        raise _error(name, f"expected bytes or str, got {type(data).__name__}")
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\x00" in text:
        raise _error(name, "contains NUL characters: binary data, not captions")
    if not text.strip():
        raise _error(name, "is empty")
    return text


def _parse_timestamp(value: str) -> float | None:
    """`[h:]mm:ss[.ttt]` (',' also accepted as the decimal mark) in seconds; None if invalid."""
    match = _TIMESTAMP.fullmatch(value.strip())
    if match is None:
        return None
    hours, minutes, seconds, fraction = match.groups()
    if int(minutes) >= 60 or int(seconds) >= 60:
        return None
    millis = int((fraction or "0").ljust(3, "0"))
    # Integer milliseconds / 1000 gives exactly the float a decimal literal would ("2.31").
    return (((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + millis) / 1000


def _to_seconds(value: Any, name: str, where: str) -> float:
    """A time given as a number, a numeric string or a timestamp string, in seconds."""
    seconds: float | None = None
    if isinstance(value, bool):
        seconds = None
    elif isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:  # an integer beyond float range
            seconds = None
    elif isinstance(value, str):
        try:
            seconds = float(value)
        except ValueError:
            seconds = _parse_timestamp(value)
    elif hasattr(value, "item"):  # numpy scalar
        return _to_seconds(value.item(), name, where)
    if seconds is None or not math.isfinite(seconds):
        raise _error(name, f"{where}: invalid time {value!r}")
    return seconds


def _text_value(value: Any, name: str, where: str) -> str:
    """A caption text from JSON/CSV: null and NaN become '', numbers their decimal text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if hasattr(value, "item") and not isinstance(value, list | tuple | dict):  # numpy scalar
        value = value.item()
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int | str):
        return str(value)
    raise _error(name, f"{where}: text must be a string, got {type(value).__name__}")


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _clean_cue_line(line: str) -> str:
    """Cue text without tags, inline timestamps and entities, whitespace collapsed."""
    # Tags first, then entities, so that "&lt;i&gt;" stays the literal text "<i>".
    return _collapse(html.unescape(_ASS_OVERRIDE.sub("", _TAG.sub("", line))))


# ---------------------------------------------------------------------------------------------
# WebVTT and SRT: both are blocks of "start --> end" plus text lines


@dataclass
class _Cue:
    start: float
    end: float
    lines: list[str]  # raw text lines


def _parse_timing(line: str, name: str, line_no: int) -> tuple[float, float]:
    left, _, right = line.partition("-->")
    # After the end time WebVTT allows cue settings: "align:start position:0%".
    right_fields = right.split(maxsplit=1)
    start = _parse_timestamp(left)
    end = _parse_timestamp(right_fields[0]) if right_fields else None
    if start is None or end is None:
        raise _error(name, f"line {line_no}: invalid timestamp in {line.strip()!r}")
    return start, end


def _iter_cues(lines: list[str], first: int, name: str, *, vtt: bool) -> Iterator[_Cue]:
    """Cues of `lines[first:]`.

    A strictly empty line ends a cue. A whitespace-only line is cue text in WebVTT (YouTube puts
    a " " line in its cues) but ends a cue in SRT (sloppy separators). Lines outside cues (cue
    identifiers, SRT indices) are ignored; NOTE/STYLE/REGION blocks of WebVTT are skipped. A
    timing line met inside a cue starts the next cue (a missing blank line); in SRT a digits-only
    line right before it is that next cue's index, not text.
    """
    cue: _Cue | None = None
    skipping_block = False
    for line_no, line in enumerate(lines[first:], start=first + 1):
        if skipping_block:
            skipping_block = bool(line.strip())
            continue
        if "-->" in line:
            if cue is not None:
                if not vtt and cue.lines and cue.lines[-1].strip().isdigit():
                    cue.lines.pop()
                yield cue
            start, end = _parse_timing(line, name, line_no)
            cue = _Cue(start, end, [])
            continue
        ends_cue = line == "" if vtt else not line.strip()
        if cue is not None:
            if ends_cue:
                yield cue
                cue = None
            else:
                cue.lines.append(line)
        elif vtt and _VTT_SKIPPED_BLOCK.fullmatch(line.rstrip()):
            skipping_block = True
    if cue is not None:
        yield cue


def _drop_rolling_repeats(cues: list[tuple[float, float, list[str]]]) -> list[Segment]:
    """One segment per cue, without the lines that repeat the previous cue.

    YouTube's rolling auto-captions show two lines: the previous line again, plus the line
    being spoken (with inline word timestamps), and put tiny 10 ms cues in between that repeat
    the text. Dropping every line already shown by the previous cue leaves each spoken word
    once, timed by the cue in which it appeared. (Side effect on ordinary captions: a cue whose
    whole text repeats the previous cue, "No." then "No.", is dropped too.)
    """
    segments: list[Segment] = []
    previous: set[str] = set()
    for start, end, lines in cues:
        new = [line for line in lines if line not in previous]
        if new:
            segments.append(Segment(start, end, " ".join(new)))
        previous = set(lines)
    return segments


def _parse_cue_file(text: str, name: str, *, vtt: bool) -> list[Segment]:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    first = 0
    if vtt:
        if not _VTT_HEADER.fullmatch(lines[0].rstrip()):
            raise _error(name, f"not WebVTT: the first line is {lines[0][:40]!r}, not 'WEBVTT'")
        # The header block (Kind:, Language:...) runs to the first blank line.
        first = 1
        while first < len(lines) and lines[first].strip() and "-->" not in lines[first]:
            first += 1
    cues = []
    for cue in _iter_cues(lines, first, name, vtt=vtt):
        cleaned = [_clean_cue_line(line) for line in cue.lines]
        cues.append((cue.start, cue.end, [line for line in cleaned if line]))
    if not vtt and not cues:
        # An SRT file is nothing but cues; none found means it is something else.
        raise _error(name, "no SRT cues ('00:00:01,000 --> 00:00:02,000') found")
    return _drop_rolling_repeats(cues)


# ---------------------------------------------------------------------------------------------
# HowTo100M JSON and CSV


def _as_list(value: Any) -> list[Any] | None:
    if isinstance(value, list | tuple):
        return list(value)
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):  # numpy array
        result = value.tolist()
        return result if isinstance(result, list) else None
    return None


def segments_from_json_obj(obj: dict, name: str = "") -> list[Segment]:
    """Segments of a HowTo100M-style `{"start": [...], "end": [...], "text": [...]}` object.

    Texts may be null, NaN or numbers (pandas wrote them); they become '' or their decimal text,
    and `clean_segments` drops the empty ones. Raises CaptionError on any other shape.
    """
    if not isinstance(obj, dict):
        raise _error(name, f"expected a {{start, end, text}} object, got {type(obj).__name__}")
    missing = [key for key in ("start", "end", "text") if key not in obj]
    if missing:
        raise _error(
            name, f"JSON captions lack {missing}; expected {{start: [], end: [], text: []}}"
        )
    columns = {key: _as_list(obj[key]) for key in ("start", "end", "text")}
    for key, values in columns.items():
        if values is None:
            raise _error(name, f"'{key}' must be an array, got {type(obj[key]).__name__}")
    starts, ends, texts = columns["start"], columns["end"], columns["text"]
    assert starts is not None and ends is not None and texts is not None
    if not len(starts) == len(ends) == len(texts):
        raise _error(
            name,
            f"start/end/text arrays have unequal lengths {len(starts)}/{len(ends)}/{len(texts)}",
        )
    return [
        Segment(
            _to_seconds(start, name, f"start[{i}]"),
            _to_seconds(end, name, f"end[{i}]"),
            _text_value(text, name, f"text[{i}]"),
        )
        for i, (start, end, text) in enumerate(zip(starts, ends, texts))
    ]


def _segments_from_json_list(items: list[Any], name: str) -> list[Segment]:
    """A list of `{"start", "end", "text"}` objects (Whisper-style `segments`)."""
    segments = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or "start" not in item or "end" not in item:
            raise _error(name, f"item {i}: expected an object with start, end and text")
        segments.append(
            Segment(
                _to_seconds(item["start"], name, f"item {i} start"),
                _to_seconds(item["end"], name, f"item {i} end"),
                _text_value(item.get("text"), name, f"item {i} text"),
            )
        )
    return segments


def _parse_json(text: str, name: str) -> list[Segment]:
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:  # ValueError: JSONDecodeError, huge integers
        raise _error(name, f"invalid JSON: {exc}") from exc
    if isinstance(obj, dict) and "start" not in obj and isinstance(obj.get("segments"), list):
        obj = obj["segments"]
    if isinstance(obj, list):
        return _segments_from_json_list(obj, name)
    return segments_from_json_obj(obj, name)


def _parse_csv(text: str, name: str) -> list[Segment]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
        columns = [column.strip().lower() for column in header]
        missing = [key for key in ("start", "end", "text") if key not in columns]
        if missing:
            raise _error(name, f"CSV header {header!r} lacks the column(s) {missing}")
        index = {key: columns.index(key) for key in ("start", "end", "text")}
        segments = []
        for row in reader:
            if not any(field.strip() for field in row):
                continue
            where = f"line {reader.line_num}"
            fields = {key: row[i] if i < len(row) else "" for key, i in index.items()}
            segments.append(
                Segment(
                    _to_seconds(fields["start"], name, f"{where} start"),
                    _to_seconds(fields["end"], name, f"{where} end"),
                    fields["text"],
                )
            )
    except csv.Error as exc:
        raise _error(name, f"invalid CSV: {exc}") from exc
    return segments


# ---------------------------------------------------------------------------------------------
# Public entry points


def _format_from_name(name: str) -> str | None:
    path = name.split("?", 1)[0].split("#", 1)[0].lower()
    if infer_compression(path):
        path = path.rsplit(".", 1)[0]
    _, dot, extension = path.rpartition(".")
    return _EXTENSIONS.get(extension) if dot else None


def _sniff_format(text: str, name: str) -> str:
    head = text.lstrip()
    if head.startswith("WEBVTT"):
        return "vtt"
    if head.startswith(("{", "[")):
        return "json"
    first_line = head.split("\n", 1)[0]
    columns = {column.strip().strip('"').lower() for column in first_line.split(",")}
    if {"start", "end", "text"} <= columns:
        return "csv"
    if "-->" in head[:4096]:
        return "srt"  # "00:00:01,000 --> ..."; the SRT parser also takes '.' decimals
    raise _error(name, "cannot tell the caption format (not WebVTT, SRT, JSON or CSV)")


def parse_captions(
    data: bytes | str, name: str = "", fmt: str | None = None
) -> tuple[list[Segment], str]:
    """Parse one caption file; returns (segments, format) with format in FORMATS.

    `fmt` None: from `name`'s extension, else sniffed from the content. The segments are
    already cleaned (`clean_segments` without a duration). Raises CaptionError naming `name`.
    """
    if fmt is not None and _EXTENSIONS.get(fmt.lower().lstrip(".")) is None:
        raise _error(name, f"unknown caption format {fmt!r}; expected one of {FORMATS}")
    text = _decode(data, name)
    if fmt is not None:
        fmt = _EXTENSIONS[fmt.lower().lstrip(".")]
    else:
        fmt = _format_from_name(name) or _sniff_format(text, name)
    if fmt == "vtt":
        segments = _parse_cue_file(text, name, vtt=True)
    elif fmt == "srt":
        segments = _parse_cue_file(text, name, vtt=False)
    elif fmt == "json":
        segments = _parse_json(text, name)
    else:
        segments = _parse_csv(text, name)
    return clean_segments(segments, None), fmt


def clean_segments(segments: Sequence[Segment], duration: float | None) -> list[Segment]:
    """Usable segments: text stripped and collapsed, empty texts and empty or inverted spans
    dropped, negative starts set to 0, ends clipped to `duration` (cues starting at or after it
    dropped), sorted by (start, end), exact duplicates dropped."""
    if duration is not None and not (math.isfinite(duration) and duration >= 0):
        raise ValueError(f"duration must be a finite number >= 0 or None, got {duration!r}")
    kept = []
    for segment in segments:
        text = _collapse(segment.text) if isinstance(segment.text, str) else ""
        start, end = float(segment.start), float(segment.end)
        if not text or not (math.isfinite(start) and math.isfinite(end)):
            continue
        start = max(start, 0.0)
        if duration is not None:
            if start >= duration:
                continue
            end = min(end, duration)
        if end > start:
            kept.append(Segment(start, end, text))
    kept.sort(key=lambda segment: (segment.start, segment.end))  # stable: ties keep file order
    seen: set[Segment] = set()
    unique = []
    for segment in kept:
        if segment not in seen:
            seen.add(segment)
            unique.append(segment)
    return unique


def load_captions(uri: str, duration: float | None = None) -> tuple[list[Segment], str]:
    """Read and parse the caption file at `uri` (any fsspec URI; .gz etc. decompressed).

    Returns (segments cleaned against `duration`, format). Raises CaptionError naming `uri`.
    """
    try:
        with storage.open_file(uri, "rb", compression="infer") as f:
            data = f.read(MAX_CAPTION_BYTES + 1)
    except (OSError, ValueError, EOFError, zlib.error, lzma.LZMAError) as exc:  # missing, corrupt
        raise _error(uri, f"cannot read: {type(exc).__name__}: {exc}") from exc
    if len(data) > MAX_CAPTION_BYTES:
        raise _error(uri, f"larger than {MAX_CAPTION_BYTES} bytes: not a caption file")
    segments, fmt = parse_captions(data, uri)
    segments = clean_segments(segments, duration)
    logger.debug("captions %s: %s, %d segments", uri, fmt, len(segments))
    return segments, fmt
