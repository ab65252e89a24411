"""The run's vocabulary: the most frequent words of the dataset's whole-corpus counts, a
mixture's summed counts, and the sampled fallback for datasets built before the counts."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from train.vocabulary import build_vocabulary
from vattclips.words import WORD_COUNTS_FILE, WordCounts


def _with_counts(root: Path, into: Path, words: list[tuple[str, int]], **fields) -> Path:
    shutil.copytree(root, into)
    counts = WordCounts(words=words, tokens=sum(c for _, c in words) + 10, **fields)
    (into / WORD_COUNTS_FILE).write_bytes(counts.to_json())
    return into


def test_the_vocabulary_is_the_corpus_counts_most_frequent_words(
    synthetic_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    words = [(f"w{i}", 1000 - i) for i in range(40)]  # 10 more tokens in the cut tail
    root = _with_counts(synthetic_root, tmp_path / "a", words, distinct=50, captions=7)
    with caplog.at_level(logging.INFO, logger="train.vocabulary"):
        tokenizer, counts = build_vocabulary([str(root)], vocab_size=12, max_samples=100)
    ranked = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    assert [w for w, _ in ranked] == ["[PAD]", "[UNK]"] + [f"w{i}" for i in range(10)]
    assert tokenizer.tokenize("W3 w11, w0!") == ["w3", "[UNK]", "w0"]
    assert tokenizer("w11", add_special_tokens=False)["input_ids"] == [1]  # outside: [UNK]
    share = counts.unk_share(10)
    assert share == pytest.approx(
        1 - sum(c for _, c in words[:10]) / (sum(c for _, c in words) + 10)
    )
    assert f"[UNK] share of those caption tokens: {100 * share:.2f}%" in caplog.text
    assert "the 10 most frequent of 50 distinct words" in caplog.text
    assert "whole train split" in caplog.text

    # A mixture: the counts summed per word, ranked again.
    other = _with_counts(synthetic_root, tmp_path / "b", [("zz", 5000)], distinct=1, captions=1)
    mixed, merged = build_vocabulary([str(root), str(other)], vocab_size=4, max_samples=100)
    assert mixed.get_vocab() == {"[PAD]": 0, "[UNK]": 1, "zz": 2, "w0": 3}
    assert merged.captions == 8


def test_datasets_without_counts_fall_back_to_sampled_captions_and_say_so(
    synthetic_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="train.vocabulary"):
        tokenizer, counts = build_vocabulary(
            [str(synthetic_root)], vocab_size=8192, max_samples=100
        )
    assert f"has no {WORD_COUNTS_FILE}" in caplog.text and "sampled captions only" in caplog.text
    assert {"red", "circle", "moving", "left"} <= set(tokenizer.get_vocab())
    assert counts.unk_share(len(tokenizer) - 2) == 0.0  # everything sampled fits in 8,192
    # Counts made by another word rule are not used either.
    caplog.clear()
    odd = _with_counts(synthetic_root, tmp_path / "odd", [("x", 1)], rule="other-rule/1")
    with caplog.at_level(logging.INFO, logger="train.vocabulary"):
        build_vocabulary([str(odd)], vocab_size=100, max_samples=10)
    assert "rule 'other-rule/1'" in caplog.text and "sampled captions only" in caplog.text
