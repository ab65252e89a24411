"""Clip planning, caption overlap, MIL-NCE neighbour selection, output geometry."""

from __future__ import annotations

import random

import pytest

from pipeline.captions import Segment
from pipeline.clips import CaptionIndex, ClipSpec, nearest, output_size, overlapping, plan_windows
from vattclips.nearest import caption_rank


def test_default_spec_matches_the_paper():
    spec = ClipSpec()
    assert (spec.frames, spec.samples) == (32, 153_600)


def test_plan_fixed_windows_inside_the_video():
    ws = plan_windows(10.0, ClipSpec())
    # 100 frames at 10 fps hold three whole 32-frame windows
    assert [(w.clip, w.first_frame) for w in ws] == [(0, 0), (1, 32), (2, 64)]
    assert ws[-1].end == pytest.approx(9.6)
    assert all(w.samples == 153_600 for w in ws)
    assert ws[1].first_sample == 153_600


def test_plan_exact_fit_and_float_noise():
    # 6.4 s is exactly two clips even when the container says 6.3999999
    assert len(plan_windows(6.4, ClipSpec())) == 2
    assert len(plan_windows(6.3999999, ClipSpec())) == 2
    assert len(plan_windows(6.39, ClipSpec())) == 1


def test_shorter_than_one_clip_plans_nothing():
    assert plan_windows(3.1, ClipSpec()) == []
    assert plan_windows(0.0, ClipSpec()) == []


def test_stride_gives_overlapping_or_gapped_windows():
    ws = plan_windows(10.0, ClipSpec(stride=1.6))
    assert [w.first_frame for w in ws] == [0, 16, 32, 48, 64]
    ws = plan_windows(20.0, ClipSpec(stride=6.4))
    assert [w.start for w in ws] == pytest.approx([0.0, 6.4, 12.8])


def test_max_clips_spreads_over_the_whole_video():
    ws = plan_windows(320.0, ClipSpec(max_clips=4))  # 100 windows available
    assert len(ws) == 4
    assert [w.clip for w in ws] == [0, 1, 2, 3]
    assert ws[0].start == 0.0
    assert ws[-1].end == pytest.approx(320.0)
    assert plan_windows(320.0, ClipSpec(max_clips=1))[0].start == 0.0


@pytest.mark.parametrize(
    "kwargs", [{"clip_seconds": 0}, {"short_side": 255}, {"stride": -1.0}, {"max_clips": 0}]
)
def test_bad_specs_are_refused(kwargs):
    with pytest.raises(ValueError):
        ClipSpec(**kwargs)


@pytest.mark.parametrize(
    ("w", "h", "want"),
    [
        (1280, 720, (456, 256)),
        (720, 1280, (256, 456)),
        (320, 240, (342, 256)),
        (256, 256, (256, 256)),
    ],
)
def test_output_size_keeps_aspect_with_even_sides(w, h, want):
    assert output_size(w, h, 256) == want


SEGS = [
    Segment(0.0, 2.0, "a"),
    Segment(2.5, 4.0, "b"),
    Segment(5.0, 6.0, "c"),
    Segment(9.0, 12.0, "d"),
    Segment(20.0, 21.0, "e"),
]


def test_overlapping_excludes_touching_captions():
    assert [s.text for s in overlapping(SEGS, 2.0, 5.0)] == ["b"]
    assert [s.text for s in overlapping(SEGS, 1.9, 5.1)] == ["a", "b", "c"]


def test_nearest_picks_k_by_gap_then_centre_and_sorts_by_time():
    # window 3.2-6.4: b and c overlap (gap 0); then a (gap 1.2), d (gap 2.6), e (13.6)
    assert [s.text for s in nearest(SEGS, 3.2, 6.4, 3)] == ["a", "b", "c"]
    assert [s.text for s in nearest(SEGS, 3.2, 6.4, 4)] == ["a", "b", "c", "d"]
    assert nearest(SEGS, 3.2, 6.4, 0) == []
    assert [s.text for s in nearest(SEGS, 3.2, 6.4, 99)] == ["a", "b", "c", "d", "e"]


def test_nearest_matches_a_brute_force_definition():
    rng = random.Random(0)
    for _ in range(200):
        segs = []
        for i in range(rng.randint(0, 12)):
            s = rng.uniform(0, 60)
            segs.append(Segment(s, s + rng.uniform(0.1, 5), f"t{i}"))
        start = rng.uniform(0, 60)
        end, k = start + 3.2, rng.randint(1, 6)

        def gap(s, start=start, end=end):
            return max(0.0, s.start - end, start - s.end)

        got = nearest(segs, start, end, k)
        assert len(got) == min(k, len(segs))
        if got and len(segs) > k:
            # nothing left out is strictly nearer than what was chosen
            worst = max(gap(s) for s in got)
            assert all(gap(s) >= worst for s in segs if s not in got)
        assert got == sorted(got, key=lambda s: (s.start, s.end))


def test_caption_index_equals_a_naive_sort_on_dense_tiny_cues():
    rng = random.Random(3)
    segs = []
    for i in range(3000):  # thousands of tiny cues, plus a few long ones
        s = rng.uniform(0, 600)
        segs.append(Segment(s, s + rng.choice([0.01, 0.05, 0.2, 30.0]), f"w{i}"))
    index = CaptionIndex(segs)
    for _ in range(100):
        start = rng.uniform(0, 620)
        end, k = start + 3.2, rng.randint(1, 8)

        def rank(s, start=start, end=end):
            return caption_rank(start, end, s.start, s.end)

        naive = sorted(sorted(segs, key=rank)[:k], key=lambda s: (s.start, s.end))
        assert index.nearest(start, end, k) == naive
        assert index.overlapping(start, end) == sorted(
            [s for s in segs if s.start < end and s.end > start], key=lambda s: (s.start, s.end)
        )
