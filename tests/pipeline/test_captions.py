"""Caption parsing: WebVTT (YouTube rolling auto-captions included), SRT, HowTo100M JSON, CSV."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import numpy as np
import pytest

from pipeline import captions
from pipeline.captions import (
    CaptionError,
    Segment,
    clean_segments,
    load_captions,
    parse_captions,
    segments_from_json_obj,
)

# A YouTube auto-caption file as youtube-dl/yt-dlp download it: every cue shows the previous
# line again plus the line being spoken, with inline word timestamps; 10 ms "transition" cues
# repeat the finished line; a " " line (written \x20 here) pads the first cue of each pair.
YOUTUBE_ROLLING_VTT = """WEBVTT
Kind: captions
Language: en

00:00:00.000 --> 00:00:01.500 align:start position:0%
<c.colorE5E5E5>[Music]</c>

00:00:01.500 --> 00:00:03.990 align:start position:0%
\x20
so<00:00:01.860><c> today</c><00:00:02.220><c> we're</c><00:00:02.490><c> going</c><00:00:02.670><c> to</c><00:00:02.820><c> bake</c>

00:00:03.990 --> 00:00:04.000 align:start position:0%
so today we're going to bake
\x20

00:00:04.000 --> 00:00:06.470 align:start position:0%
so today we're going to bake
a<00:00:04.290><c> simple</c><00:00:04.680><c> loaf</c><00:00:05.040><c> of</c><00:00:05.160><c> bread</c>

00:00:06.470 --> 00:00:06.480 align:start position:0%
a simple loaf of bread
\x20

00:00:06.480 --> 00:00:09.110 align:start position:0%
a simple loaf of bread
first<00:00:06.900><c> mix</c><00:00:07.170><c> the</c><00:00:07.380><c> flour</c><00:00:07.740><c> &amp;</c><00:00:07.950><c> water</c>

00:00:09.110 --> 00:00:09.120 align:start position:0%
first mix the flour &amp; water
\x20

00:00:09.120 --> 00:00:11.000 align:start position:0%
first mix the flour &amp; water
then<00:00:09.510><c> let</c><00:00:09.690><c> it</c><00:00:09.840><c> rest</c>
"""

YOUTUBE_EXPECTED = [
    Segment(0.0, 1.5, "[Music]"),
    Segment(1.5, 3.99, "so today we're going to bake"),
    Segment(4.0, 6.47, "a simple loaf of bread"),
    Segment(6.48, 9.11, "first mix the flour & water"),
    Segment(9.12, 11.0, "then let it rest"),
]

STANDARD_VTT = """WEBVTT - Cooking show
Kind: captions

NOTE
This is a comment
00:00:00.000 --> written here is not a cue

STYLE
::cue {
  color: yellow;
}

REGION
id:fred
width:40%

intro
00:01.000 --> 00:04.000 line:0 position:20% size:60% align:start
<v Chef>Welcome to the <i>kitchen</i></v>

2
00:04.500 --> 00:06.000
Salt &amp; pepper &lt;to taste&gt;
and&nbsp;a pinch of sugar

NOTE another comment

01:00:00.000 --> 01:00:02.250
<c.yellow>One hour in</c>
"""

STANDARD_EXPECTED = [
    Segment(1.0, 4.0, "Welcome to the kitchen"),
    Segment(4.5, 6.0, "Salt & pepper <to taste> and a pinch of sugar"),
    Segment(3600.0, 3602.25, "One hour in"),
]

# UTF-8 BOM, CRLF, comma decimals, tags, multi-line text, no final blank line.
SRT_BOM_CRLF = (
    b"\xef\xbb\xbf1\r\n00:00:01,000 --> 00:00:02,500\r\n<i>Hello</i> there\r\n\r\n"
    b'2\r\n00:00:03,000 --> 00:00:05,000\r\n<font color="#ffff00">General</font>\r\nKenobi\r\n'
    b"\r\n3\r\n00:01:05,250 --> 00:01:07,000\r\nLast cue, no final newline"
)

SRT_EXPECTED = [
    Segment(1.0, 2.5, "Hello there"),
    Segment(3.0, 5.0, "General Kenobi"),
    Segment(65.25, 67.0, "Last cue, no final newline"),
]


# --- WebVTT -------------------------------------------------------------------------------


def test_youtube_rolling_vtt_exact_sentences() -> None:
    assert YOUTUBE_ROLLING_VTT.count("\n \n") == 4  # the fixture keeps YouTube's " " lines
    segments, fmt = parse_captions(YOUTUBE_ROLLING_VTT.encode(), "yt.en.vtt")
    assert fmt == "vtt"
    assert segments == YOUTUBE_EXPECTED


def test_youtube_rolling_vtt_each_spoken_word_once() -> None:
    segments, _ = parse_captions(YOUTUBE_ROLLING_VTT, "yt.vtt")
    words = " ".join(segment.text for segment in segments).split()
    assert words.count("bake") == 1 and words.count("bread") == 1 and words.count("rest") == 1
    assert not any("<" in segment.text or "&amp;" in segment.text for segment in segments)


def test_youtube_rolling_without_transition_cues() -> None:
    text = (
        "WEBVTT\n\n"
        "00:00:00.000 --> 00:00:02.000\nhello<00:00:00.500><c> there</c>\n\n"
        "00:00:02.000 --> 00:00:04.000\nhello there\nhow<00:00:02.400><c> are</c><c> you</c>\n\n"
        "00:00:04.000 --> 00:00:06.000\nhow are you\nfine thanks\n"
    )
    segments, _ = parse_captions(text, "a.vtt")
    assert [s.text for s in segments] == ["hello there", "how are you", "fine thanks"]
    assert [(s.start, s.end) for s in segments] == [(0.0, 2.0), (2.0, 4.0), (4.0, 6.0)]


def test_vtt_header_text_note_style_region_ids_settings_tags_entities() -> None:
    segments, fmt = parse_captions(STANDARD_VTT, "show.vtt")
    assert fmt == "vtt"
    assert segments == STANDARD_EXPECTED


def test_vtt_mm_ss_and_hh_mm_ss_timestamps() -> None:
    text = "WEBVTT\n\n00:02.5 --> 01:03.250\na\n\n1:00:00.000 --> 100:00:00.000\nb\n"
    segments, _ = parse_captions(text, "t.vtt")
    assert segments == [Segment(2.5, 63.25, "a"), Segment(3600.0, 360000.0, "b")]


def test_vtt_crlf_and_bom() -> None:
    data = b"\xef\xbb\xbfWEBVTT\r\n\r\n00:00:01.000 --> 00:00:02.000\r\nhi\r\n"
    assert parse_captions(data, "x.vtt")[0] == [Segment(1.0, 2.0, "hi")]


def test_vtt_multiline_cue_joined_with_space() -> None:
    text = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nfirst line\n  second   line \n"
    assert parse_captions(text, "x.vtt")[0] == [Segment(1.0, 2.0, "first line second line")]


def test_vtt_less_than_sign_that_is_not_a_tag_is_kept() -> None:
    text = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nif a < b then <b>stop</b>\n"
    assert parse_captions(text, "x.vtt")[0][0].text == "if a < b then stop"


def test_vtt_header_only_gives_no_segments() -> None:
    assert parse_captions("WEBVTT\n\n", "x.vtt") == ([], "vtt")


def test_vtt_cue_without_blank_line_before_next_timing() -> None:
    text = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\none\n00:00:03.000 --> 00:00:04.000\ntwo\n"
    assert [s.text for s in parse_captions(text, "x.vtt")[0]] == ["one", "two"]


@pytest.mark.parametrize(
    "timing",
    [
        "00:00:xx.000 --> 00:00:02.000",
        "00:00:01.000 --> 00:00:61.000",
        "00:60:01.000 --> 00:61:02.000",
        "00:00:01.000 -->",
        "yesterday --> today",
    ],
)
def test_vtt_invalid_timestamp_is_an_error_with_line_number(timing: str) -> None:
    with pytest.raises(CaptionError, match=r"bad\.vtt: line 3: invalid timestamp"):
        parse_captions(f"WEBVTT\n\n{timing}\nhi\n", "bad.vtt")


def test_repeated_line_of_ordinary_captions_after_a_different_cue_is_kept() -> None:
    text = (
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nyes\n\n"
        "00:00:03.000 --> 00:00:04.000\nno\n\n00:00:05.000 --> 00:00:06.000\nyes\n"
    )
    assert [s.text for s in parse_captions(text, "x.vtt")[0]] == ["yes", "no", "yes"]


# --- SRT ----------------------------------------------------------------------------------


def test_srt_bom_crlf_comma_decimals_tags_multiline_no_final_blank() -> None:
    segments, fmt = parse_captions(SRT_BOM_CRLF, "movie.srt")
    assert fmt == "srt"
    assert segments == SRT_EXPECTED


def test_srt_lf_and_dot_decimals() -> None:
    data = SRT_BOM_CRLF.replace(b"\r\n", b"\n").replace(b",000", b".000").replace(b",500", b".500")
    assert parse_captions(data, "movie.srt")[0] == SRT_EXPECTED


def test_srt_whitespace_only_separator_lines() -> None:
    text = "1\n00:00:01,000 --> 00:00:02,000\nA\n   \n2\n00:00:03,000 --> 00:00:04,000\nB\n"
    assert [s.text for s in parse_captions(text, "x.srt")[0]] == ["A", "B"]


def test_srt_missing_blank_line_drops_next_index_from_text() -> None:
    text = "1\n00:00:01,000 --> 00:00:02,000\nA\n2\n00:00:03,000 --> 00:00:04,000\nB\n"
    assert parse_captions(text, "x.srt")[0] == [Segment(1.0, 2.0, "A"), Segment(3.0, 4.0, "B")]


def test_srt_ass_override_tags_removed() -> None:
    text = "1\n00:00:01,000 --> 00:00:02,000\n{\\an8}Top of the screen\n"
    assert parse_captions(text, "x.srt")[0][0].text == "Top of the screen"


def test_srt_cp1252_fallback() -> None:
    data = "1\n00:00:01,000 --> 00:00:02,000\nCafé crème\n".encode("cp1252")
    assert parse_captions(data, "x.srt")[0][0].text == "Café crème"


def test_srt_utf16_with_bom() -> None:
    data = "1\n00:00:01,000 --> 00:00:02,000\nNaïve\n".encode("utf-16")
    assert parse_captions(data, "x.srt")[0][0].text == "Naïve"


def test_srt_rolling_duplicates_dropped_too() -> None:
    text = (
        "1\n00:00:01,000 --> 00:00:02,000\nhello there\n\n"
        "2\n00:00:02,000 --> 00:00:03,000\nhello there\ngeneral kenobi\n"
    )
    assert [s.text for s in parse_captions(text, "x.srt")[0]] == ["hello there", "general kenobi"]


# --- HowTo100M JSON -----------------------------------------------------------------------


def test_howto100m_json_null_nan_and_number_texts() -> None:
    data = (
        '{"start": [0.5, 2, "3.5", 5, 6], "end": [1.5, 3, 4.5, 6, 7],'
        ' "text": ["hello", null, NaN, 42, "  spaced \\n out  "]}'
    )
    segments, fmt = parse_captions(data, "vid.json")
    assert fmt == "json"
    assert segments == [
        Segment(0.5, 1.5, "hello"),
        Segment(5.0, 6.0, "42"),
        Segment(6.0, 7.0, "spaced out"),
    ]


def test_segments_from_json_obj_raw_values() -> None:
    obj = {"start": [0, 1, 2], "end": [1, 2, 3], "text": [7.0, 2.5, None]}
    assert segments_from_json_obj(obj) == [
        Segment(0.0, 1.0, "7"),
        Segment(1.0, 2.0, "2.5"),
        Segment(2.0, 3.0, ""),
    ]


def test_segments_from_json_obj_numpy_arrays() -> None:
    obj = {
        "start": np.array([0.0, 1.0]),
        "end": np.array([1.0, 2.0]),
        "text": np.array(["a", "b"], dtype=object),
    }
    assert segments_from_json_obj(obj) == [Segment(0.0, 1.0, "a"), Segment(1.0, 2.0, "b")]


@pytest.mark.parametrize("bad", [None, "soon", True, float("inf"), [1]])
def test_json_invalid_time_is_an_error(bad: object) -> None:
    with pytest.raises(CaptionError, match=r"start\[0\]"):
        segments_from_json_obj({"start": [bad], "end": [1], "text": ["a"]}, "x")


def test_json_list_of_segment_objects() -> None:
    data = json.dumps({"segments": [{"start": 1, "end": 2, "text": " a "}, {"start": 3, "end": 4}]})
    assert parse_captions(data, "w.json")[0] == [Segment(1.0, 2.0, "a")]


# --- CSV ----------------------------------------------------------------------------------


def test_csv_reordered_header_extra_columns_quoted_commas() -> None:
    data = 'text,end,start,speaker\n"Hello, world",2.0,1.0,A\n"Second, ""quoted""",4,3,B\n'
    segments, fmt = parse_captions(data, "v.csv")
    assert fmt == "csv"
    assert segments == [Segment(1.0, 2.0, "Hello, world"), Segment(3.0, 4.0, 'Second, "quoted"')]


def test_csv_header_case_and_spaces_and_timestamp_values() -> None:
    data = " Start , END ,Text\n00:00:01.500,00:00:02.000,a\n\n3,4,b\n"
    assert parse_captions(data, "v.csv")[0] == [Segment(1.5, 2.0, "a"), Segment(3.0, 4.0, "b")]


def test_csv_empty_text_dropped() -> None:
    assert parse_captions("start,end,text\n1,2,\n3,4, x \n", "v.csv")[0] == [Segment(3, 4, "x")]


# --- format detection and bad input -------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (YOUTUBE_ROLLING_VTT, "vtt"),
        (SRT_BOM_CRLF, "srt"),
        ('  {"start": [1], "end": [2], "text": ["a"]}', "json"),
        ("start,end,text\n1,2,a\n", "csv"),
        ('"text","start","end"\na,1,2\n', "csv"),
    ],
)
def test_sniffs_format_without_a_known_extension(data: str | bytes, fmt: str) -> None:
    assert parse_captions(data, "gs://b/captions.txt")[1] == fmt
    assert parse_captions(data)[1] == fmt


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.VTT", "vtt"),
        ("a.webvtt", "vtt"),
        ("https://x/a.srt?sig=1", "srt"),
        ("a.json.gz", "json"),
        ("a.csv", "csv"),
    ],
)
def test_format_from_extension(name: str, fmt: str) -> None:
    data = {
        "vtt": STANDARD_VTT,
        "srt": SRT_BOM_CRLF,
        "json": '{"start":[1],"end":[2],"text":["a"]}',
        "csv": "start,end,text\n1,2,a\n",
    }[fmt]
    assert parse_captions(data, name)[1] == fmt


def test_explicit_format_overrides_extension() -> None:
    assert parse_captions(SRT_BOM_CRLF, "misnamed.txt", fmt="srt") == (SRT_EXPECTED, "srt")
    assert parse_captions(STANDARD_VTT, "misnamed.srt", fmt="VTT")[1] == "vtt"


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)


@pytest.mark.parametrize(
    ("data", "name", "fmt", "pattern"),
    [
        ("00:00:01.000 --> 00:00:02.000\nhi\n", "gs://b/c.vtt", None, r"gs://b/c\.vtt: not WebVTT"),
        ("just some text\nno timings\n", "notes.srt", None, r"notes\.srt: no SRT cues"),
        ("1\n00:00:01,000 --> 00:0a:02,000\nA\n", "x.srt", None, r"x\.srt: line 2: invalid"),
        ('{"start": [0, 1], "end": [1, 2], "text": ["a"]}', "v1.json", None, r"v1\.json: .*2/2/1"),
        ('{"start": [0,', "v.json", None, r"v\.json: invalid JSON"),
        ('{"start": [1' + "0" * 400 + '], "end": [1], "text": ["a"]}', "v.json", None, "time"),
        ('{"start": 0, "end": [1], "text": ["a"]}', "v.json", None, "'start' must be an array"),
        ('{"start": [0], "text": ["a"]}', "v.json", None, r"lack \['end'\]"),
        ('{"start": [0], "end": [1], "text": [["a"]]}', "v.json", None, r"text\[0\]"),
        ("[1, 2]", "v.json", None, "item 0: expected an object"),
        ('"text"', "v.json", None, "got str"),
        ("start,end\n1,2\n", "v.csv", None, r"v\.csv: CSV header .* lacks .*\['text'\]"),
        (
            "start,end,text\n1,2,a\n3,abc,b\n",
            "v.csv",
            None,
            "v.csv: line 3 end: invalid time 'abc'",
        ),
        ("x", "a.ass", "ass", "unknown caption format 'ass'"),
        ("just a note\n", "notes.txt", None, r"notes\.txt: cannot tell the caption format"),
        (PNG, "img.vtt", None, r"img\.vtt: contains NUL"),
        (42, "x.vtt", None, r"x\.vtt: expected bytes or str, got int"),
    ],
)
def test_invalid_input_error_names_input_and_problem(
    data: object, name: str, fmt: str | None, pattern: str
) -> None:
    with pytest.raises(CaptionError, match=pattern):
        parse_captions(data, name, fmt)  # type: ignore[arg-type]


@pytest.mark.parametrize("data", [b"", b"  \n\r\n", ""])
def test_empty_input_is_an_error(data: bytes | str) -> None:
    with pytest.raises(CaptionError, match=r"e\.vtt: is empty"):
        parse_captions(data, "e.vtt")


@pytest.mark.parametrize("name", ["x.vtt", "x.srt", "x.json", "x.csv", "x.bin", ""])
def test_binary_garbage_is_an_error(name: str) -> None:
    garbage = random.Random(0).randbytes(2048)
    with pytest.raises(CaptionError, match="binary|format|not") as info:
        parse_captions(garbage, name)
    assert (name or "<inline data>") in str(info.value)


@pytest.mark.parametrize(
    ("data", "name"),
    [(SRT_BOM_CRLF, "wrong.vtt"), (STANDARD_VTT, "wrong.json"), (STANDARD_VTT, "wrong.csv")],
)
def test_wrong_format_for_extension_is_an_error(data: str | bytes, name: str) -> None:
    with pytest.raises(CaptionError, match=name.replace(".", r"\.")):
        parse_captions(data, name)


FIXTURES = [
    (YOUTUBE_ROLLING_VTT.encode(), "f.vtt"),
    (STANDARD_VTT.encode(), "f.vtt"),
    (SRT_BOM_CRLF, "f.srt"),
    (b'{"start": [0.5, 2], "end": [1.5, 3], "text": ["a", "b"]}', "f.json"),
    (b'text,end,start\n"a, b",2.0,1.0\n', "f.csv"),
]


@pytest.mark.parametrize(("data", "name"), FIXTURES)
def test_truncated_and_corrupted_inputs_raise_only_caption_error(data: bytes, name: str) -> None:
    rng = random.Random(len(data))
    variants = [data[:cut] for cut in range(0, len(data), 3)]
    for _ in range(150):
        corrupted = bytearray(data)
        for _ in range(rng.randint(1, 6)):
            corrupted[rng.randrange(len(corrupted))] = rng.randrange(256)
        variants.append(bytes(corrupted))
    outcomes = {"ok": 0, "error": 0}
    for variant in variants:
        for variant_name in (name, ""):
            try:
                segments, fmt = parse_captions(variant, variant_name)
            except CaptionError as exc:
                assert str(exc).startswith(f"captions {variant_name or '<inline data>'}: ")
                outcomes["error"] += 1
            else:
                assert fmt in captions.FORMATS
                assert all(isinstance(s, Segment) and s.end > s.start and s.text for s in segments)
                outcomes["ok"] += 1
    assert outcomes["ok"] > 0 and outcomes["error"] > 0


# --- clean_segments -----------------------------------------------------------------------


def test_clean_strips_and_collapses_whitespace() -> None:
    assert clean_segments([Segment(0, 1, "  a \t b\n c  ")], None) == [Segment(0, 1, "a b c")]


def test_clean_drops_empty_and_none_texts() -> None:
    segments = [Segment(0, 1, ""), Segment(1, 2, "   "), Segment(2, 3, None), Segment(3, 4, "x")]  # type: ignore[arg-type]
    assert clean_segments(segments, None) == [Segment(3, 4, "x")]


def test_clean_drops_empty_and_inverted_spans() -> None:
    segments = [Segment(1, 1, "zero"), Segment(2, 1, "inverted"), Segment(1, 2, "ok")]
    assert clean_segments(segments, None) == [Segment(1, 2, "ok")]


def test_clean_clips_end_to_duration_and_drops_cues_past_it() -> None:
    segments = [Segment(8, 12, "clipped"), Segment(10, 11, "at end"), Segment(11, 12, "after")]
    assert clean_segments(segments, 10.0) == [Segment(8, 10.0, "clipped")]


def test_clean_drops_cue_that_becomes_empty_after_clipping() -> None:
    assert clean_segments([Segment(5, 6, "a")], 5.0) == []


def test_clean_sets_negative_start_to_zero() -> None:
    assert clean_segments([Segment(-1, 2, "a"), Segment(-3, -1, "b")], None) == [
        Segment(0.0, 2, "a")
    ]


def test_clean_sorts_by_start_then_end_keeping_file_order_on_ties() -> None:
    segments = [Segment(5, 6, "c"), Segment(1, 3, "b"), Segment(1, 2, "a"), Segment(1, 3, "b2")]
    assert [s.text for s in clean_segments(segments, None)] == ["a", "b", "b2", "c"]


def test_clean_drops_exact_duplicates_only() -> None:
    segments = [Segment(1, 2, "a"), Segment(1, 2, "a"), Segment(1, 2, "b"), Segment(1, 2, "a ")]
    assert clean_segments(segments, None) == [Segment(1, 2, "a"), Segment(1, 2, "b")]


def test_clean_drops_non_finite_times() -> None:
    segments = [Segment(float("nan"), 1, "a"), Segment(0, float("inf"), "b"), Segment(0, 1, "c")]
    assert clean_segments(segments, None) == [Segment(0, 1, "c")]


@pytest.mark.parametrize("duration", [-1.0, float("nan"), float("inf")])
def test_clean_rejects_bad_duration(duration: float) -> None:
    with pytest.raises(ValueError, match="duration"):
        clean_segments([], duration)


def test_clean_is_idempotent() -> None:
    once = clean_segments(parse_captions(YOUTUBE_ROLLING_VTT, "a.vtt")[0], 7.0)
    assert clean_segments(once, 7.0) == once


# --- load_captions ------------------------------------------------------------------------


def test_load_captions_local_file_with_duration(tmp_path: Path) -> None:
    path = tmp_path / "v.srt"
    path.write_bytes(SRT_BOM_CRLF)
    segments, fmt = load_captions(str(path), duration=4.0)
    assert fmt == "srt"
    assert segments == [Segment(1.0, 2.5, "Hello there"), Segment(3.0, 4.0, "General Kenobi")]


def test_load_captions_gzip(tmp_path: Path) -> None:
    path = tmp_path / "v.vtt.gz"
    path.write_bytes(gzip.compress(YOUTUBE_ROLLING_VTT.encode()))
    assert load_captions(str(path)) == (YOUTUBE_EXPECTED, "vtt")


def test_load_captions_file_uri(tmp_path: Path) -> None:
    path = tmp_path / "v.json"
    path.write_text('{"start": [1], "end": [2], "text": ["a"]}')
    assert load_captions(path.as_uri()) == ([Segment(1.0, 2.0, "a")], "json")


def test_load_captions_missing_file_names_it(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.vtt")
    with pytest.raises(CaptionError, match=f"{missing}: cannot read"):
        load_captions(missing)


def test_load_captions_corrupt_gzip_is_a_caption_error(tmp_path: Path) -> None:
    path = tmp_path / "v.vtt.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage-not-deflate")
    with pytest.raises(CaptionError, match=r"v\.vtt\.gz"):
        load_captions(str(path))


def test_load_captions_too_large(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(captions, "MAX_CAPTION_BYTES", 100)
    path = tmp_path / "big.vtt"
    path.write_text(YOUTUBE_ROLLING_VTT)
    with pytest.raises(CaptionError, match="larger than 100 bytes"):
        load_captions(str(path))


def test_load_captions_parse_error_names_the_uri(tmp_path: Path) -> None:
    path = tmp_path / "bad.vtt"
    path.write_text("not a caption file")
    with pytest.raises(CaptionError, match=f"{path}: not WebVTT"):
        load_captions(str(path))
