"""Keys, ids and splits: safe alphabet, no collisions, stable across runs."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys

import pytest

from vattclips.keys import (
    MAX_ID_CHARS,
    _unit_interval,
    clip_key,
    default_video_id,
    parse_key,
    sanitize_id,
    split_for,
    stable_fraction,
    video_id_of,
)

SAFE = re.compile(r"[A-Za-z0-9_-]+")


def _sha8(raw: str) -> str:
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:8]


@pytest.mark.parametrize("raw", ["abc", "A-b_9", "dQw4w9WgXcQ", "a_b-c", "x" * MAX_ID_CHARS])
def test_sanitize_keeps_safe_ids_unchanged(raw: str) -> None:
    assert sanitize_id(raw) == raw


def test_sanitize_changes_safe_alphabet_id_with_leading_dash() -> None:
    # Safe characters, but a leading '-' looks like a command-line option: stripped, hashed.
    assert sanitize_id("-x1") == f"x1-{_sha8('-x1')}"


def test_sanitize_replaces_and_hashes_dots() -> None:
    assert sanitize_id("a.b") == f"a-b-{_sha8('a.b')}"


def test_sanitize_collapses_runs_of_replaced_chars() -> None:
    assert sanitize_id("a . / b") == f"a-b-{_sha8('a . / b')}"


def test_sanitize_strips_leading_and_trailing_separators() -> None:
    assert sanitize_id("__x__") == f"x-{_sha8('__x__')}"
    assert sanitize_id("./x/") == f"x-{_sha8('./x/')}"


def test_sanitize_distinguishes_ids_that_differ_only_in_replaced_chars() -> None:
    raws = ["a.b", "a_b", "a-b", "a b", "a/b", "a..b", "a--b", "a\\b", "a:b"]
    ids = [sanitize_id(raw) for raw in raws]
    assert len(set(ids)) == len(raws)
    assert ids[1] == "a_b" and ids[2] == "a-b"  # already safe: unchanged


@pytest.mark.parametrize(
    "raw",
    ["../../etc/passwd", "..", ".", "/", "a/../b", "x.mp4", "s3://bucket/key.mp4", "a\x00b"],
)
def test_sanitize_never_yields_dots_or_slashes(raw: str) -> None:
    result = sanitize_id(raw)
    assert SAFE.fullmatch(result), result
    assert "." not in result and "/" not in result


@pytest.mark.parametrize("raw", ["", "...", "///", "-", "_", "   ", "日本語"])
def test_sanitize_never_empty(raw: str) -> None:
    result = sanitize_id(raw)
    assert SAFE.fullmatch(result), result
    assert result.endswith(_sha8(raw))


def test_sanitize_unicode_replaced_and_hashed() -> None:
    assert sanitize_id("café_1") == f"caf-_1-{_sha8('café_1')}"
    assert sanitize_id("日本語") == _sha8("日本語")
    assert sanitize_id("日本") != sanitize_id("日本語")


def test_sanitize_lone_surrogate_does_not_crash() -> None:
    assert SAFE.fullmatch(sanitize_id("a\ud800b"))


def test_sanitize_truncates_long_ids_and_keeps_them_distinct() -> None:
    long_a, long_b = "a" * 200, "a" * 199 + "b"
    result_a, result_b = sanitize_id(long_a), sanitize_id(long_b)
    assert len(result_a) <= MAX_ID_CHARS and len(result_b) <= MAX_ID_CHARS
    assert result_a != result_b
    assert result_a == "a" * (MAX_ID_CHARS - 9) + "-" + _sha8(long_a)


def test_sanitize_truncation_does_not_leave_a_separator_before_the_hash() -> None:
    raw = "a" * 70 + "-" + "b" * 50
    result = sanitize_id(raw)
    assert "--" not in result and len(result) <= MAX_ID_CHARS


def test_sanitize_exactly_max_chars_unchanged_one_more_hashed() -> None:
    assert sanitize_id("y" * MAX_ID_CHARS) == "y" * MAX_ID_CHARS
    assert sanitize_id("y" * (MAX_ID_CHARS + 1)).endswith(_sha8("y" * (MAX_ID_CHARS + 1)))


def test_sanitize_is_idempotent() -> None:
    for raw in ["a.b", "x" * 300, "日本語", "ok"]:
        once = sanitize_id(raw)
        assert sanitize_id(once) == once


def test_sanitize_rejects_non_strings() -> None:
    with pytest.raises(TypeError, match="123"):
        sanitize_id(123)  # type: ignore[arg-type]


def test_default_video_id_is_v_plus_16_hex_of_sha1() -> None:
    uri = "gs://bucket/videos/a b.mp4"
    assert default_video_id(uri) == "v" + hashlib.sha1(uri.encode()).hexdigest()[:16]
    assert SAFE.fullmatch(default_video_id(uri))


def test_default_video_id_differs_per_uri() -> None:
    assert default_video_id("a.mp4") != default_video_id("b.mp4")


def test_default_video_id_is_stable_across_processes() -> None:
    # Python's hash() is salted per process; ours must not be.
    code = "from vattclips.keys import default_video_id as d; print(d('x/y.mp4'))"
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert other == default_video_id("x/y.mp4")


def test_clip_key_format() -> None:
    assert clip_key("vid", 0) == "vid_00000"
    assert clip_key("vid", 42) == "vid_00042"
    assert clip_key("vid", 123456) == "vid_123456"


@pytest.mark.parametrize("clip", [-1, 1.0, True, "3"])
def test_clip_key_rejects_bad_indices(clip: object) -> None:
    with pytest.raises(ValueError, match="vid"):
        clip_key("vid", clip)  # type: ignore[arg-type]


def test_stable_fraction_in_unit_interval_and_deterministic() -> None:
    values = [stable_fraction(f"video-{i}") for i in range(2000)]
    assert all(0.0 <= value < 1.0 for value in values)
    assert values == [stable_fraction(f"video-{i}") for i in range(2000)]


def test_stable_fraction_is_roughly_uniform() -> None:
    values = [stable_fraction(f"video-{i}") for i in range(4000)]
    histogram = [0] * 4
    for value in values:
        histogram[int(value * 4)] += 1
    assert all(850 <= count <= 1150 for count in histogram), histogram


def test_stable_fraction_depends_on_salt_and_separates_it() -> None:
    assert stable_fraction("abc") != stable_fraction("abc", "split")
    assert stable_fraction("bc", "a") != stable_fraction("c", "ab")


def test_stable_fraction_matches_its_definition() -> None:
    # Pinned definition: a change would reshuffle splits of existing outputs (breaks resume).
    digest = hashlib.sha1(b"split\x00my-video").digest()
    expected = (int.from_bytes(digest[:8], "big") >> 11) / 2.0**53
    assert stable_fraction("my-video", "split") == expected


def test_unit_interval_largest_digest_stays_below_one() -> None:
    assert _unit_interval(b"\xff" * 20) < 1.0
    assert _unit_interval(b"\x00" * 20) == 0.0


def test_split_for_fraction_of_val_is_close_to_requested() -> None:
    splits = [split_for(f"vid{i}", 0.2) for i in range(5000)]
    assert 900 <= splits.count("val") <= 1100


def test_split_for_extremes() -> None:
    ids = [f"vid{i}" for i in range(300)]
    assert {split_for(i, 0.0) for i in ids} == {"train"}
    assert {split_for(i, 1.0) for i in ids} == {"val"}


def test_split_for_is_monotonic_in_fraction() -> None:
    # A video in val at 10% stays in val at 30%: growing the val set never moves val to train.
    for i in range(500):
        if split_for(f"v{i}", 0.1) == "val":
            assert split_for(f"v{i}", 0.3) == "val"


@pytest.mark.parametrize("fraction", [-0.1, 1.5, float("nan"), "0.1"])
def test_split_for_rejects_bad_fractions(fraction: object) -> None:
    with pytest.raises(ValueError, match="val_fraction"):
        split_for("v", fraction)  # type: ignore[arg-type]


@pytest.mark.parametrize("video_id", ["vid", "a_b", "x-1_2", "v0123456789abcdef"])
def test_parse_key_inverts_clip_key(video_id: str) -> None:
    for clip in (0, 7, 123456):
        assert parse_key(clip_key(video_id, clip)) == (video_id, clip)
        assert video_id_of(clip_key(video_id, clip)) == video_id


@pytest.mark.parametrize("key", ["vid", "_00001", "vid_", "vid_x1", "vid_٣"])
def test_parse_key_refuses_what_clip_key_never_writes(key: str) -> None:
    with pytest.raises(ValueError, match="is not"):
        parse_key(key)


def test_video_id_of_a_hand_written_key_is_what_precedes_the_last_underscore() -> None:
    assert video_id_of("clip") == "clip"
    assert video_id_of("my_clip_a") == "my_clip"
