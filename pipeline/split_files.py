"""The benchmarks' own split files as manifest inputs: `--input FORMAT:PATH`.

    ucf101:DIR     UCF101's ucfTrainTestlist/: classInd.txt, trainlist0N.txt, testlist0N.txt
    hmdb51:DIR     HMDB51's testTrainMulti_7030_splits/: {class}_test_splitN.txt (1 train, 2 test,
                   0 unused: left out of this split's manifest)
    kinetics:CSV   label,youtube_id,time_start,time_end,split (Kinetics 400/600/700 CSVs)
    esc50:CSV      ESC-50's meta/esc50.csv: filename,fold,target,category,...

Each yields the same ManifestRow / ManifestProblem stream as a manifest (pipeline.manifest),
with `video`, `id`, `label` and `split` set (a benchmark's test list maps to `val`), and
`start`/`end` for Kinetics. A file that cannot be read at all, or a missing `--video-root`
where the layout needs one, is a ManifestError (a configuration error, exit 2); a bad line
is a problem row naming its file and line. `line` counts rows across the files read, in
order (train list first).
"""

from __future__ import annotations

import csv
import io
import logging
import posixpath
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from clifields import option
from pipeline.manifest import (
    ManifestError,
    ManifestProblem,
    ManifestRow,
    _folder,
    _resolve,
    read_manifest,
    rows_from_records,
)
from vattclips import storage

log = logging.getLogger(__name__)

Rows = Iterator[ManifestRow | ManifestProblem]
Record = tuple[int, dict] | ManifestProblem

KINETICS_PATTERN = "{youtube_id}_{start:06d}_{end:06d}.mp4"
_KINETICS_FIELDS = ("youtube_id", "start", "end", "label", "label_dir", "split")
_KINETICS_SPLITS = {"train": "train", "val": "val", "valid": "val", "validate": "val"}
_KINETICS_SPLITS |= {"validation": "val", "test": "val"}  # a test list is evaluated on


@dataclass(frozen=True)
class SplitFileOptions:
    """How to read the split files (`pipeline build` flags of the same names)."""

    split_number: int = option(1, help="ucf101/hmdb51 input: which official split, 1-3")
    val_fold: int = option(1, help="esc50 input: the fold used as val (the others are train)")
    video_pattern: str = option(
        KINETICS_PATTERN,
        help="kinetics input: a row's file under --video-root (fields youtube_id, start, end, "
        "label, label_dir, split)",
    )

    def __post_init__(self) -> None:
        if self.split_number not in (1, 2, 3):
            raise ValueError(f"--split-number must be 1, 2 or 3, got {self.split_number}")
        if self.val_fold < 1:
            raise ValueError(f"--val-fold must be >= 1, got {self.val_fold}")
        names = [f for _, f, _, _ in string.Formatter().parse(self.video_pattern) if f]
        unknown = sorted(set(names) - set(_KINETICS_FIELDS))
        if unknown or "youtube_id" not in names:
            raise ValueError(
                f"--video-pattern {self.video_pattern!r} must name {{youtube_id}} and only "
                f"fields of {', '.join(_KINETICS_FIELDS)} (unknown: {', '.join(unknown) or '-'})"
            )


def split_input(spec: str) -> tuple[str | None, str]:
    """('ucf101', '/x') for 'ucf101:/x'; (None, spec) for a plain manifest URI."""
    kind, sep, rest = spec.partition(":")
    if sep and kind.lower() in READERS and not rest.startswith("//"):
        return kind.lower(), rest
    return None, spec


def read_input(
    spec: str, video_root: str | None = None, options: SplitFileOptions | None = None
) -> Rows:
    """The rows of `--input`: a manifest URI, or FORMAT:PATH of a benchmark's split files."""
    kind, uri = split_input(spec)
    if kind is None:
        return read_manifest(uri, video_root=video_root)
    return READERS[kind](uri, video_root, options or SplitFileOptions())


# ---- reading files ----------------------------------------------------------------------------


def _text(uri: str, what: str) -> str:
    if not storage.exists(uri):
        raise ManifestError(f"{what} {uri} does not exist")
    try:
        return storage.read_bytes(uri).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{what} {uri}: cannot read: {exc}") from exc


def _lines(uri: str, what: str) -> list[tuple[int, str]]:
    """(line number, stripped text) of the non-blank lines of a small text file."""
    text = _text(uri, what)
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _csv_rows(uri: str, required: tuple[str, ...], what: str) -> Iterator[tuple[int, dict]]:
    """(file line, {column: value}) of a CSV, checking the header first (ManifestError)."""
    reader = csv.reader(io.StringIO(_text(uri, what)))
    header = [c.strip() for c in next(reader, [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise ManifestError(f"{what} {uri}: no {', '.join(missing)} column (columns: {header})")

    def rows() -> Iterator[tuple[int, dict]]:
        line = reader.line_num + 1
        for values in reader:
            if any(v.strip() for v in values):
                yield line, dict(zip(header, (v.strip() for v in values)))
            line = reader.line_num + 1

    return rows()


def _stem(path: str) -> str:
    return posixpath.splitext(posixpath.basename(path))[0]


def _need_root(spec: str, video_root: str | None, holds: str) -> str:
    if not video_root:
        raise ManifestError(f"{spec}: --video-root is required (the folder holding {holds})")
    return video_root


def _numbered(records: Iterator[Record]) -> Iterator[Record]:
    """Rows numbered 1, 2, ... across files (problems keep their own numbers)."""
    n = 0
    for item in records:
        if isinstance(item, ManifestProblem):
            yield item
        else:
            n += 1
            yield n, item[1]


# ---- UCF101 -----------------------------------------------------------------------------------


def read_ucf101(uri: str, video_root: str | None, options: SplitFileOptions) -> Rows:
    """ucfTrainTestlist/: `classInd.txt` ("1 ApplyEyeMakeup"), `trainlist0N.txt`
    ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1") -> train, `testlist0N.txt` (the path
    alone; the class is its folder) -> val. Labels are classInd's names."""
    spec = f"ucf101:{uri}"
    root = _need_root(spec, video_root, "UCF-101's class folders")
    classes: dict[int, str] = {}
    class_file = storage.join(uri, "classInd.txt")
    for n, line in _lines(class_file, "UCF101 class list"):
        index, _, name = line.partition(" ")
        if not index.isdigit() or not name.strip():
            raise ManifestError(f"{class_file} line {n}: expected 'INDEX NAME', got {line!r}")
        classes[int(index)] = name.strip()
    by_folder = {name.lower(): name for name in classes.values()}
    lists = [
        (storage.join(uri, f"trainlist{options.split_number:02d}.txt"), "train"),
        (storage.join(uri, f"testlist{options.split_number:02d}.txt"), "val"),
    ]
    files = [(path, split, _lines(path, "UCF101 split list")) for path, split in lists]

    def records() -> Iterator[Record]:
        for path, split, lines in files:
            for n, line in lines:
                video, _, index = line.partition(" ")
                if index.strip():
                    label = classes.get(int(index)) if index.strip().isdigit() else None
                    why = f"class index {index.strip()!r} is not in classInd.txt"
                else:
                    label = by_folder.get(video.split("/", 1)[0].lower()) if "/" in video else None
                    why = f"the folder of {video!r} is no class of classInd.txt"
                if label is None:
                    yield ManifestProblem(n, path, f"{path} line {n}: {why}")
                    continue
                yield n, {"video": video, "id": _stem(video), "label": label, "split": split}

    return rows_from_records(spec, _numbered(records()), root)


# ---- HMDB51 -----------------------------------------------------------------------------------


def read_hmdb51(uri: str, video_root: str | None, options: SplitFileOptions) -> Rows:
    """testTrainMulti_7030_splits/: per class `{class}_test_split{N}.txt`, lines "NAME.avi K"
    with K 1 = train, 2 = test (-> val), 0 = not used by this split (left out, counted in the
    log). Videos are `{video_root}/{class}/NAME.avi`; the class names are the labels."""
    spec = f"hmdb51:{uri}"
    root = _need_root(spec, video_root, "HMDB51's class folders")
    suffix = f"_test_split{options.split_number}.txt"
    names = storage.list_names(uri, suffix)
    if not names:
        raise ManifestError(f"{spec}: no *{suffix} files in {uri}")
    files = [(name[: -len(suffix)], storage.join(uri, name)) for name in names]
    files = [(label, path, _lines(path, "HMDB51 split list")) for label, path in files]

    def records() -> Iterator[Record]:
        unused = 0
        for label, path, lines in files:
            for n, line in lines:
                parts = line.split()
                if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                    yield ManifestProblem(n, path, f"{path} line {n}: expected 'NAME 0|1|2'")
                    continue
                if parts[1] == "0":
                    unused += 1
                    continue
                video = f"{label}/{parts[0]}"
                split = "train" if parts[1] == "1" else "val"
                yield n, {"video": video, "id": _stem(video), "label": label, "split": split}
        log.info("%s: %d videos marked 0 (unused in split %d) left out", spec, unused,
                 options.split_number)  # fmt: skip

    return rows_from_records(spec, _numbered(records()), root)


# ---- Kinetics ---------------------------------------------------------------------------------


def _whole(value: float) -> int | float:
    return int(value) if value.is_integer() else value


def _segment_id(youtube_id: str, start: float, end: float) -> str:
    """`{youtube_id}_{start:06d}_{end:06d}`, the name the download scripts give a segment."""
    if start.is_integer() and end.is_integer():
        return f"{youtube_id}_{int(start):06d}_{int(end):06d}"
    return f"{youtube_id}_{start:g}_{end:g}"


def read_kinetics(uri: str, video_root: str | None, options: SplitFileOptions) -> Rows:
    """A Kinetics CSV (`label,youtube_id,time_start,time_end,split`; other columns pass
    through as meta; `label` may be absent, as in unlabelled test lists).

    The file of a row is `options.video_pattern` under `--video-root` (default: the CSV's
    folder). The download scripts save each 10 s segment as its own file named by its times
    (the default pattern): then the span is the whole file, (0, time_end - time_start). A
    pattern without {start}/{end} names the full YouTube video, and the span is
    (time_start, time_end) in it.
    """
    spec = f"kinetics:{uri}"
    fields = {f for _, f, _, _ in string.Formatter().parse(options.video_pattern) if f}
    trimmed = bool(fields & {"start", "end"})
    required = ("youtube_id", "time_start", "time_end")
    rows = _csv_rows(uri, required, "Kinetics CSV")

    def records() -> Iterator[Record]:
        for n, row in rows:
            try:
                start, end = float(row["time_start"]), float(row["time_end"])
            except ValueError:
                times = f"{row['time_start']!r}, {row['time_end']!r}"
                yield ManifestProblem(n, uri, f"{uri} line {n}: time_start, time_end {times}")
                continue
            try:
                values = {
                    "youtube_id": row["youtube_id"],
                    "start": _whole(start),
                    "end": _whole(end),
                    "label": row.get("label", ""),
                    "label_dir": row.get("label", "").replace(" ", "_"),
                    "split": row.get("split", ""),
                }
                video = options.video_pattern.format(**values)
            except ValueError as exc:  # e.g. {start:06d} of a time that is not whole
                why = f"--video-pattern {options.video_pattern!r}: {exc}"
                yield ManifestProblem(n, uri, f"{uri} line {n}: {why}")
                continue
            split = row.get("split", "")
            record = {k: v for k, v in row.items() if k not in required + ("split",)}
            record |= {
                "video": video,
                "id": _segment_id(row["youtube_id"], start, end),
                "split": _KINETICS_SPLITS.get(split.lower(), split),
                "start": 0.0 if trimmed else start,
                "end": end - start if trimmed else end,
                "youtube_id": row["youtube_id"],
            }
            yield n, record

    return rows_from_records(spec, records(), video_root or _folder(uri))


# ---- ESC-50 -----------------------------------------------------------------------------------


def read_esc50(uri: str, video_root: str | None, options: SplitFileOptions) -> Rows:
    """ESC-50's `meta/esc50.csv` (`filename,fold,target,category,esc10,src_file,take`): the
    label is `category`, `split` is val for fold `options.val_fold` and train for the others.
    The files are wav (audio only: build with `--allow-audio-only`), by default in `../audio`
    next to `meta/` as in the ESC-50 repository."""
    spec = f"esc50:{uri}"
    rows = _csv_rows(uri, ("filename", "fold", "category"), "ESC-50 CSV")

    def records() -> Iterator[Record]:
        for n, row in rows:
            if not row.get("fold", "").isdigit():
                yield ManifestProblem(n, uri, f"{uri} line {n}: fold {row.get('fold')!r}")
                continue
            fold = int(row["fold"])
            record = {k: v for k, v in row.items() if k not in ("filename", "category")}
            record |= {
                "video": row["filename"],
                "id": _stem(row["filename"]),
                "label": row["category"],
                "split": "val" if fold == options.val_fold else "train",
                "fold": fold,
            }
            if (row.get("target") or "").isdigit():
                record["target"] = int(row["target"])
            yield n, record

    return rows_from_records(spec, records(), video_root or _resolve("../audio", _folder(uri)))


READERS: dict[str, Callable[[str, str | None, SplitFileOptions], Rows]] = {
    "ucf101": read_ucf101,
    "hmdb51": read_hmdb51,
    "kinetics": read_kinetics,
    "esc50": read_esc50,
}
