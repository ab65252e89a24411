"""Manifest reading: JSONL, CSV, Parquet and HowTo100M caption.json, bad rows, streaming."""

from __future__ import annotations

import datetime
import decimal
import gzip
import json
import math
import random
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline import manifest
from pipeline.errors import ConfigError
from pipeline.manifest import (
    ManifestError,
    ManifestProblem,
    ManifestRow,
    _jsonable,
    _resolve,
    read_manifest,
)
from vattclips.keys import default_video_id, sanitize_id


def _write_jsonl(path: Path, lines: list[str]) -> str:
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _rows(uri: str, **kwargs: object) -> list[ManifestRow | ManifestProblem]:
    return list(read_manifest(uri, **kwargs))  # type: ignore[arg-type]


def _outline(rows: list[ManifestRow | ManifestProblem]) -> str:
    """Kind and line of each item ("R1 P2 R3": row 1, problem at line 2, row 3)."""
    return " ".join(f"{'R' if isinstance(row, ManifestRow) else 'P'}{row.line}" for row in rows)


def _assert_problems(rows: list[ManifestRow | ManifestProblem], expected: dict[int, str]) -> None:
    """The problems are exactly at `expected`'s lines, each error containing its fragment."""
    errors = {row.line: row.error for row in rows if isinstance(row, ManifestProblem)}
    assert sorted(errors) == sorted(expected)
    for line, fragment in expected.items():
        assert fragment in errors[line], (line, errors[line])


# --- JSONL --------------------------------------------------------------------------------


def test_jsonl_good_rows(tmp_path: Path) -> None:
    uri = _write_jsonl(
        tmp_path / "m.jsonl",
        [
            '{"video": "clips/a.mp4", "id": "a", "captions": "subs/a.vtt", "lang": "en"}',
            '{"video": "/abs/b.mp4", "views": 12, "tags": ["x", "y"]}',
            '{"video": "gs://bucket/c.mp4", "captions": "s3://bucket/c.srt"}',
        ],
    )
    rows = _rows(uri)
    assert rows == [
        ManifestRow(
            1, str(tmp_path / "clips/a.mp4"), "a", str(tmp_path / "subs/a.vtt"), {"lang": "en"}
        ),
        ManifestRow(
            2, "/abs/b.mp4", default_video_id("/abs/b.mp4"), None, {"views": 12, "tags": ["x", "y"]}
        ),
        ManifestRow(
            3, "gs://bucket/c.mp4", default_video_id("gs://bucket/c.mp4"), "s3://bucket/c.srt", {}
        ),
    ]


def test_jsonl_bad_rows_are_problems_with_line_numbers_and_rest_proceeds(tmp_path: Path) -> None:
    uri = _write_jsonl(
        tmp_path / "m.jsonl",
        [
            '{"video": "a.mp4", "id": "one"}',  # 1 ok
            '{"video": "b.mp4", ',  # 2 invalid JSON
            "",  # 3 blank: skipped
            '["c.mp4"]',  # 4 not an object
            '{"id": "d"}',  # 5 no video
            '{"video": "  "}',  # 6 empty video
            '{"video": 7}',  # 7 non-string video
            '{"video": "e.mp4", "id": "one"}',  # 8 duplicate id
            '{"video": "f.mp4", "captions": ["x"]}',  # 9 unknown-type captions
            '{"video": "g.mp4", "id": {"x": 1}}',  # 10 bad id type
            '{"video": "h.mp4", "id": "two"}',  # 11 ok
        ],
    )
    rows = _rows(uri)
    assert _outline(rows) == "R1 P2 P4 P5 P6 P7 P8 P9 P10 R11"
    _assert_problems(
        rows,
        {
            2: "invalid JSON",
            4: "expected a JSON object, got list",
            5: "missing or empty 'video'",
            6: "missing or empty 'video'",
            7: "'video' must be a string, got int",
            8: "duplicate video_id 'one' (first at line 1)",
            9: "'captions' must be a URI or a {start, end, text} object, got list",
            10: "'id' must be a string or a number, got dict",
        },
    )


def test_problem_source_is_video_when_known_else_manifest(tmp_path: Path) -> None:
    uri = _write_jsonl(
        tmp_path / "m.jsonl",
        ["{bad", '{"video": "a.mp4", "id": "x"}', '{"video": "b.mp4", "id": "x"}'],
    )
    bad_json, _, duplicate = _rows(uri)
    assert isinstance(bad_json, ManifestProblem) and bad_json.source == uri
    assert isinstance(duplicate, ManifestProblem) and duplicate.source == str(tmp_path / "b.mp4")


def test_jsonl_same_video_twice_without_id_is_a_duplicate(tmp_path: Path) -> None:
    uri = _write_jsonl(tmp_path / "m.jsonl", ['{"video": "a.mp4"}', '{"video": "./a.mp4"}'])
    first, second = _rows(uri)
    assert isinstance(first, ManifestRow)
    assert isinstance(second, ManifestProblem) and "duplicate video_id" in second.error


def test_jsonl_colliding_raw_ids_stay_distinct(tmp_path: Path) -> None:
    ids = ["a.b", "a_b", "a-b", "a b", "a/b"]
    uri = _write_jsonl(
        tmp_path / "m.jsonl",
        [json.dumps({"video": f"{i}.mp4", "id": raw}) for i, raw in enumerate(ids)],
    )
    rows = _rows(uri)
    assert all(isinstance(row, ManifestRow) for row in rows)
    assert [row.video_id for row in rows] == [sanitize_id(raw) for raw in ids]
    assert len({row.video_id for row in rows}) == len(ids)


def test_jsonl_unsafe_ids_are_sanitized(tmp_path: Path) -> None:
    uri = _write_jsonl(
        tmp_path / "m.jsonl",
        ['{"video": "a.mp4", "id": "../../etc/passwd"}', '{"video": "b.mp4", "id": " spaced "}'],
    )
    first, second = _rows(uri)
    assert first.video_id == sanitize_id("../../etc/passwd") and "." not in first.video_id
    assert second.video_id == "spaced"


def test_jsonl_numeric_ids(tmp_path: Path) -> None:
    uri = _write_jsonl(
        tmp_path / "m.jsonl",
        [
            '{"video": "a.mp4", "id": 12}',
            '{"video": "b.mp4", "id": 13.0}',
            '{"video": "c.mp4", "id": 1.5}',
        ],
    )
    assert [row.video_id for row in _rows(uri)] == ["12", "13", sanitize_id("1.5")]


def test_jsonl_null_or_empty_id_and_captions_mean_absent(tmp_path: Path) -> None:
    uri = _write_jsonl(
        tmp_path / "m.jsonl",
        [
            '{"video": "a.mp4", "id": null, "captions": ""}',
            '{"video": "b.mp4", "id": "", "captions": null}',
        ],
    )
    rows = _rows(uri)
    assert [row.video_id for row in rows] == [
        default_video_id(str(tmp_path / "a.mp4")),
        default_video_id(str(tmp_path / "b.mp4")),
    ]
    assert [row.captions for row in rows] == [None, None]


def test_jsonl_inline_captions_and_nan_meta(tmp_path: Path) -> None:
    inline = {"start": [0, 1], "end": [1, 2], "text": ["a", None]}
    (tmp_path / "m.jsonl").write_text(
        json.dumps({"video": "a.mp4", "captions": inline, "score": float("nan")}) + "\n"
    )
    (row,) = _rows(str(tmp_path / "m.jsonl"))
    assert row.captions == inline
    assert row.meta == {"score": None}
    json.dumps(row.meta, allow_nan=False)  # serialisable without NaN


def test_jsonl_bom_crlf_and_invalid_utf8_line(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"video": "a.mp4"}\r\n{"video": "b\xff.mp4"}\r\n{"video": "c.mp4"}\r\n'
    )
    first, bad, third = _rows(str(path))
    assert isinstance(first, ManifestRow) and first.video == str(tmp_path / "a.mp4")
    assert isinstance(bad, ManifestProblem) and bad.line == 2 and "UTF-8" in bad.error
    assert isinstance(third, ManifestRow) and third.line == 3


def test_ndjson_and_gzip(tmp_path: Path) -> None:
    body = b'{"video": "a.mp4"}\n\n{"video": "b.mp4"}\n'
    (tmp_path / "m.ndjson").write_bytes(body)
    (tmp_path / "m.jsonl.gz").write_bytes(gzip.compress(body))
    plain = _rows(str(tmp_path / "m.ndjson"))
    assert [(row.line, row.video) for row in plain] == [
        (1, str(tmp_path / "a.mp4")),
        (3, str(tmp_path / "b.mp4")),
    ]
    assert _rows(str(tmp_path / "m.jsonl.gz")) == plain


def test_corrupt_gzip_is_a_manifest_error(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl.gz"
    body = "".join(
        json.dumps({"video": f"{i}.mp4", "n": i * 7919 % 10007}) + "\n" for i in range(5000)
    )
    compressed = gzip.compress(body.encode())
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(ManifestError, match=r"m\.jsonl\.gz"):
        _rows(str(path))


def test_file_uri_manifest_resolves_relative_paths_to_file_uris(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "m.jsonl"
    path.parent.mkdir()
    _write_jsonl(path, ['{"video": "../v/a.mp4", "captions": "a.srt"}'])
    (row,) = _rows(path.as_uri())
    assert row.video == (tmp_path / "v" / "a.mp4").as_uri()
    assert row.captions == (tmp_path / "sub" / "a.srt").as_uri()


def test_relative_manifest_path_resolves_to_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "data").mkdir()
    _write_jsonl(tmp_path / "data" / "m.jsonl", ['{"video": "a.mp4"}'])
    monkeypatch.chdir(tmp_path)
    (row,) = _rows("data/m.jsonl")
    assert row.video == str(tmp_path / "data" / "a.mp4")


def test_video_root_applies_to_relative_videos_not_captions(tmp_path: Path) -> None:
    uri = _write_jsonl(
        tmp_path / "m.jsonl", ['{"video": "a.mp4", "captions": "a.vtt"}', '{"video": "/x/b.mp4"}']
    )
    first, second = _rows(uri, video_root="gs://bucket/videos/")
    assert first.video == "gs://bucket/videos/a.mp4"
    assert first.captions == str(tmp_path / "a.vtt")
    assert second.video == "/x/b.mp4"


@pytest.mark.parametrize(
    ("path", "base", "expected"),
    [
        ("a.mp4", "gs://b/m", "gs://b/m/a.mp4"),
        ("../v/a.mp4", "gs://b/m/n", "gs://b/m/v/a.mp4"),
        ("./x/./a.mp4", "s3://b", "s3://b/x/a.mp4"),
        ("https://host/a.mp4?sig=1", "gs://b/m", "https://host/a.mp4?sig=1"),
        ("/abs/a.mp4", "gs://b/m", "/abs/a.mp4"),
        ("a b;$(x).mp4", "/data", "/data/a b;$(x).mp4"),
    ],
)
def test_resolve(path: str, base: str, expected: str) -> None:
    assert _resolve(path, base) == expected


# --- CSV ----------------------------------------------------------------------------------


def test_csv_rows_meta_and_quoted_commas(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(
        'title,video,id,captions,views\n"Bread, part 1",a.mp4,x1,a.srt,10\nSoup,b.mp4,,,\n'
    )
    first, second = _rows(str(path))
    assert first == ManifestRow(
        2,
        str(tmp_path / "a.mp4"),
        "x1",
        str(tmp_path / "a.srt"),
        {"title": "Bread, part 1", "views": "10"},
    )
    assert second == ManifestRow(
        3,
        str(tmp_path / "b.mp4"),
        default_video_id(str(tmp_path / "b.mp4")),
        None,
        {"title": "Soup", "views": None},
    )


def test_csv_line_numbers_are_file_lines_with_multiline_fields(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text('video,note\na.mp4,"two\nlines"\n\nb.mp4,x\n')
    rows = _rows(str(path))
    assert [(row.line, row.meta["note"]) for row in rows] == [(2, "two\nlines"), (5, "x")]


def test_csv_bad_rows_are_problems(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_bytes(
        b"video,id\n"
        b"a.mp4,1\n"  # 2 ok
        b",2\n"  # 3 missing video
        b"c.mp4,1\n"  # 4 duplicate id
        b"d.mp4,4,extra\n"  # 5 too many fields
        b"e\xff.mp4,5\n"  # 6 invalid UTF-8
        b"f.mp4\n"  # 7 ok: missing trailing field = no id
    )
    rows = _rows(str(path))
    assert _outline(rows) == "R2 P3 P4 P5 P6 R7"
    _assert_problems(
        rows,
        {
            3: "missing or empty 'video'",
            4: "duplicate video_id '1'",
            5: "3 fields but the header has 2",
            6: "UTF-8",
        },
    )
    assert rows[5].video_id == default_video_id(str(tmp_path / "f.mp4"))


def test_csv_inline_json_captions(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    inline = json.dumps({"start": [0], "end": [1], "text": ["hi"]}).replace('"', '""')
    path.write_text(f'video,captions\na.mp4,"{inline}"\nb.mp4,"{{broken"\n')
    good, bad = _rows(str(path))
    assert good.captions == {"start": [0], "end": [1], "text": ["hi"]}
    assert isinstance(bad, ManifestProblem) and "invalid inline JSON" in bad.error


def test_csv_bom_and_gzip(tmp_path: Path) -> None:
    body = "\ufeffvideo,id\r\na.mp4,A\r\n".encode()
    (tmp_path / "m.csv.gz").write_bytes(gzip.compress(body))
    (row,) = _rows(str(tmp_path / "m.csv.gz"))
    assert (row.line, row.video_id, row.video) == (2, "A", str(tmp_path / "a.mp4"))


def test_csv_header_only_gives_no_rows(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("video,id\n")
    assert _rows(str(tmp_path / "m.csv")) == []


def test_csv_without_video_column_is_a_manifest_error(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("path,id\na.mp4,1\n")
    with pytest.raises(ManifestError, match=r"m\.csv: no 'video' column"):
        read_manifest(str(tmp_path / "m.csv"))  # raised before iterating


def test_empty_csv_is_a_manifest_error(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("")
    with pytest.raises(ManifestError, match="empty CSV"):
        read_manifest(str(tmp_path / "m.csv"))


# --- Parquet ------------------------------------------------------------------------------


def test_parquet_rows_types_and_line_numbers(tmp_path: Path) -> None:
    table = pa.table(
        {
            "video": ["a.mp4", "gs://b/b.mp4", None],
            "id": pa.array([7, None, 9], pa.int64()),
            "captions": pa.array(
                [{"start": [0.0], "end": [1.0], "text": ["hi"]}, None, None],
                pa.struct(
                    [
                        ("start", pa.list_(pa.float64())),
                        ("end", pa.list_(pa.float64())),
                        ("text", pa.list_(pa.string())),
                    ]
                ),
            ),
            "score": [1.5, float("nan"), 2.0],
            "when": pa.array([datetime.datetime(2024, 1, 2, 3, 4, 5)] * 3, pa.timestamp("us")),
            "price": pa.array([decimal.Decimal("1.25")] * 3, pa.decimal128(5, 2)),
            "blob": [b"abc", b"\xff\xfe", None],
        }
    )
    pq.write_table(table, tmp_path / "m.parquet")
    first, second, third = _rows(str(tmp_path / "m.parquet"))
    assert first == ManifestRow(
        1,
        str(tmp_path / "a.mp4"),
        "7",
        {"start": [0.0], "end": [1.0], "text": ["hi"]},
        {"score": 1.5, "when": "2024-01-02T03:04:05", "price": 1.25, "blob": "abc"},
    )
    assert second.video_id == default_video_id("gs://b/b.mp4")
    assert second.meta["score"] is None and second.meta["blob"] == "//4="
    assert isinstance(third, ManifestProblem) and third.line == 3
    json.dumps([first.meta, second.meta], allow_nan=False)


def test_parquet_many_batches_keep_row_numbers(tmp_path: Path) -> None:
    n = 2600  # more than two reading batches of 1024 rows, in row groups of 500
    table = pa.table({"video": [f"v{i}.mp4" for i in range(n)], "id": [f"id{i}" for i in range(n)]})
    pq.write_table(table, tmp_path / "m.parquet", row_group_size=500)
    rows = _rows(str(tmp_path / "m.parquet"))
    assert [row.line for row in rows] == list(range(1, n + 1))
    assert rows[2599].video_id == "id2599"


def test_parquet_non_string_video_is_a_problem(tmp_path: Path) -> None:
    pq.write_table(pa.table({"video": [1, 2]}), tmp_path / "m.parquet")
    rows = _rows(str(tmp_path / "m.parquet"))
    assert all(isinstance(row, ManifestProblem) and "must be a string" in row.error for row in rows)


def test_parquet_from_pandas_with_index_and_nan(tmp_path: Path) -> None:
    frame = pd.DataFrame({"video": ["a.mp4", "b.mp4"], "id": ["A", np.nan], "n": [1, 2]})
    frame.to_parquet(tmp_path / "m.parquet")
    rows = _rows(str(tmp_path / "m.parquet"))
    assert [row.video_id for row in rows] == ["A", default_video_id(str(tmp_path / "b.mp4"))]
    assert [row.meta["n"] for row in rows] == [1, 2]


def test_parquet_without_video_column_is_a_manifest_error(tmp_path: Path) -> None:
    pq.write_table(pa.table({"path": ["a.mp4"]}), tmp_path / "m.parquet")
    with pytest.raises(ManifestError, match=r"no 'video' column \(columns: \['path'\]\)"):
        read_manifest(str(tmp_path / "m.parquet"))


def test_corrupt_parquet_is_a_manifest_error(tmp_path: Path) -> None:
    (tmp_path / "m.parquet").write_bytes(b"PAR1 not really parquet")
    with pytest.raises(ManifestError, match=r"m\.parquet: not a readable Parquet file"):
        read_manifest(str(tmp_path / "m.parquet"))


# --- HowTo100M caption.json ---------------------------------------------------------------

CAPTION_JSON = {
    "abc123": {"start": [0.0, 4.1], "end": [4.1, 8.0], "text": ["first add flour", "then water"]},
    "weird.id": {"start": [1], "end": [2], "text": [None]},
    "def456": {"start": [], "end": [], "text": []},
}


def test_caption_json_one_row_per_key(tmp_path: Path) -> None:
    (tmp_path / "caption.json").write_text(json.dumps(CAPTION_JSON))
    rows = _rows(str(tmp_path / "caption.json"))
    assert rows == [
        ManifestRow(1, str(tmp_path / "abc123.mp4"), "abc123", CAPTION_JSON["abc123"], {}),
        ManifestRow(
            2, str(tmp_path / "weird.id.mp4"), sanitize_id("weird.id"), CAPTION_JSON["weird.id"], {}
        ),
        ManifestRow(3, str(tmp_path / "def456.mp4"), "def456", CAPTION_JSON["def456"], {}),
    ]


def test_caption_json_video_root_and_ext(tmp_path: Path) -> None:
    (tmp_path / "caption.json").write_text(json.dumps(CAPTION_JSON))
    rows = _rows(str(tmp_path / "caption.json"), video_root="gs://howto/videos", video_ext=".webm")
    assert [row.video for row in rows] == [
        "gs://howto/videos/abc123.webm",
        "gs://howto/videos/weird.id.webm",
        "gs://howto/videos/def456.webm",
    ]


def test_caption_json_streamed_in_small_chunks_equals_whole_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = {
        f"vid{i}": {"start": [i, i + 0.5], "end": [i + 0.5, 12345.678], "text": [f't \\" {i}', "é"]}
        for i in range(50)
    }
    (tmp_path / "caption.json").write_text("\ufeff \n" + json.dumps(data, indent=1) + "\n")
    whole = _rows(str(tmp_path / "caption.json"))
    for chunk in (1, 2, 7):
        monkeypatch.setattr(manifest, "_JSON_CHUNK_CHARS", chunk)
        assert _rows(str(tmp_path / "caption.json")) == whole
    assert [row.captions for row in whole] == list(data.values())


def test_caption_json_non_object_entry_and_duplicate_key(tmp_path: Path) -> None:
    text = '{"a": {"start": [], "end": [], "text": []}, "b": [1, 2], "": {}, "a": {"start": [], "end": [], "text": []}, "c": {}}'
    (tmp_path / "caption.json").write_text(text)
    rows = _rows(str(tmp_path / "caption.json"))
    assert _outline(rows) == "R1 P2 P3 P4 R5"
    _assert_problems(
        rows,
        {
            2: "expected a {start, end, text} object, got list",
            3: "empty video id key",
            4: "duplicate video_id 'a'",
        },
    )


def test_truncated_caption_json_keeps_earlier_entries(tmp_path: Path) -> None:
    text = json.dumps(CAPTION_JSON)
    (tmp_path / "caption.json").write_text(text[: text.index('"def456"') + 20])
    rows = _rows(str(tmp_path / "caption.json"))
    assert _outline(rows) == "R1 R2 P3"
    assert rows[2].line == 3 and "rest of file skipped" in rows[2].error


def test_empty_caption_json_object_gives_no_rows(tmp_path: Path) -> None:
    (tmp_path / "caption.json").write_text("  {  }  ")
    assert _rows(str(tmp_path / "caption.json")) == []


@pytest.mark.parametrize("text", ["[1, 2]", "", "not json"])
def test_caption_json_that_is_not_an_object_is_a_manifest_error(tmp_path: Path, text: str) -> None:
    (tmp_path / "caption.json").write_text(text)
    with pytest.raises(ManifestError, match=r"caption\.json: not a caption\.json object"):
        read_manifest(str(tmp_path / "caption.json"))


# --- whole-manifest errors and streaming --------------------------------------------------


def test_missing_manifest_is_a_manifest_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.jsonl")
    with pytest.raises(ManifestError, match=f"{missing} does not exist"):
        read_manifest(missing)


def test_folder_manifest_is_a_manifest_error(tmp_path: Path) -> None:
    (tmp_path / "m.jsonl").mkdir()
    with pytest.raises(ManifestError, match="is a folder"):
        read_manifest(str(tmp_path / "m.jsonl"))


@pytest.mark.parametrize("name", ["m.txt", "m.tsv", "manifest", "m.jsonl.zip.txt"])
def test_unknown_extension_is_a_manifest_error(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text('{"video": "a.mp4"}\n')
    with pytest.raises(ManifestError, match="unknown format"):
        read_manifest(str(tmp_path / name))


def test_manifest_error_is_a_config_error() -> None:
    assert issubclass(ManifestError, ConfigError)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "json"])
def test_reading_streams_instead_of_loading_the_file(tmp_path: Path, fmt: str) -> None:
    # 2,000 rows of 10 kB each (20 MB); streaming keeps the peak to a row or a chunk.
    filler = "x" * 10_000
    path = tmp_path / f"m.{fmt}"
    with path.open("w") as f:
        if fmt == "jsonl":
            for i in range(2000):
                f.write(json.dumps({"video": f"{i}.mp4", "note": filler}) + "\n")
        elif fmt == "csv":
            f.write("video,note\n")
            for i in range(2000):
                f.write(f"{i}.mp4,{filler}\n")
        else:
            f.write("{")
            for i in range(2000):
                f.write(("," if i else "") + json.dumps(f"v{i}") + ":")
                f.write(json.dumps({"start": [0], "end": [1], "text": [filler]}))
            f.write("}")
    assert path.stat().st_size > 20_000_000
    tracemalloc.start()
    try:
        count = sum(1 for row in read_manifest(str(path)) if isinstance(row, ManifestRow))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 2000
    assert peak < 8_000_000, peak


# --- value conversion ---------------------------------------------------------------------


def test_jsonable_converts_numpy_pandas_and_python_types() -> None:
    values = {
        "np_int": np.int64(3),
        "np_float_nan": np.float32("nan"),
        "np_bool": np.bool_(True),
        "np_array": np.array([[1, 2], [3, 4]]),
        "pd_na": pd.NA,
        "pd_nat": pd.NaT,
        "pd_ts": pd.Timestamp("2024-05-06T07:08:09"),
        "date": datetime.date(2024, 1, 2),
        "delta": datetime.timedelta(seconds=90),
        "decimal": decimal.Decimal("2.5"),
        "inf": float("inf"),
        "tuple": (1, "a"),
        "nested": {1: [np.float64(0.5)]},
        "other": Path("/a/b"),
    }
    assert _jsonable(values) == {
        "np_int": 3,
        "np_float_nan": None,
        "np_bool": True,
        "np_array": [[1, 2], [3, 4]],
        "pd_na": None,
        "pd_nat": None,
        "pd_ts": "2024-05-06T07:08:09",
        "date": "2024-01-02",
        "delta": 90.0,
        "decimal": 2.5,
        "inf": None,
        "tuple": [1, "a"],
        "nested": {"1": [0.5]},
        "other": "/a/b",
    }
    json.dumps(_jsonable(values), allow_nan=False)
    assert not math.isnan(_jsonable(np.float64(1.0)))


def test_pathological_json_lines_are_problems(tmp_path: Path) -> None:
    uri = _write_jsonl(
        tmp_path / "m.jsonl",
        ['{"video": "a.mp4", "n": 1' + "0" * 5000 + "}", "[" * 100_000, '{"video": "b.mp4"}'],
    )
    rows = _rows(uri)
    assert _outline(rows) == "P1 P2 R3"
    _assert_problems(rows, {1: "invalid JSON", 2: "invalid JSON"})


@pytest.mark.parametrize("name", ["m.jsonl", "m.csv", "caption.json"])
def test_corrupted_manifests_yield_rows_or_problems_never_crash(tmp_path: Path, name: str) -> None:
    good = {
        "m.jsonl": '{"video": "a.mp4", "id": "a"}\n{"video": "b.mp4", "captions": "b.vtt"}\n',
        "m.csv": 'video,id,captions\na.mp4,a,"a, b.vtt"\nb.mp4,,\n',
        "caption.json": json.dumps(CAPTION_JSON),
    }[name].encode()
    rng = random.Random(name)
    path = tmp_path / name
    outcomes = {"read": 0, "manifest_error": 0}
    for _ in range(120):
        corrupted = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            corrupted[rng.randrange(len(corrupted))] = rng.randrange(256)
        path.write_bytes(bytes(corrupted))
        try:
            rows = _rows(str(path))
        except ManifestError as exc:
            assert name in str(exc)
            outcomes["manifest_error"] += 1
        else:
            assert all(isinstance(row, ManifestRow | ManifestProblem) for row in rows)
            json.dumps([row.meta for row in rows if isinstance(row, ManifestRow)], allow_nan=False)
            outcomes["read"] += 1
    assert outcomes["read"] > 0
