"""The word rule and the word counts file."""

from __future__ import annotations

import json

import pytest

from vattclips.words import WordCounts, merge_counts, split_words


def test_words_keep_inner_apostrophes_and_drop_punctuation() -> None:
    assert split_words("It's a Café, isn't it?") == ["it's", "a", "cafe", "isn't", "it"]
    assert split_words("it\u2019s 'quoted' rock'n'roll") == ["it's", "quoted", "rock'n'roll"]
    assert split_words("3.5kg well-known under_score ...!") == [
        *("3", "5kg", "well", "known", "under", "score")
    ]
    assert split_words("  ") == [] and split_words("東京 ÜBER") == ["東京", "uber"]


def test_word_counts_round_trip_and_unk_share() -> None:
    counts = WordCounts(
        words=[("the", 5), ("café", 2), ("it's", 1)],
        tokens=10,
        distinct=5,
        captions=3,
        videos=2,
        max_words=3,
    )
    data = counts.to_json()
    assert json.loads(data)["words"][1] == ["café", 2]  # plain JSON, UTF-8
    assert WordCounts.from_json(data) == counts
    assert counts.unk_share(1) == pytest.approx(0.5) and counts.unk_share(3) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="word_counts.json: schema"):
        WordCounts.from_json(b'{"schema": "other/1"}')
    with pytest.raises(ValueError, match="not JSON"):
        WordCounts.from_json(b"{cut")


def test_merged_counts_sum_per_word_and_rank_again() -> None:
    a = WordCounts(words=[("cut", 3), ("the", 2)], tokens=6, distinct=3, captions=2, videos=1)
    b = WordCounts(words=[("the", 4), ("onion", 1)], tokens=5, distinct=2, captions=1, videos=1)
    both = merge_counts([a, b])
    assert both.words == [("the", 6), ("cut", 3), ("onion", 1)]
    assert (both.tokens, both.captions, both.videos, both.distinct) == (11, 3, 2, 3)
    assert merge_counts([a]) is a
