"""Word error rate of a transcript against a reference, as ASR papers count it: (substitutions +
deletions + insertions) / reference words, after lower-casing and dropping punctuation."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    """Lower-case words without punctuation: "Red circle, moves." -> ["red", "circle", "moves"]."""
    return _WORD.findall(text.lower())


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance between two word lists (one row of the table at a time)."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, start=1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """WER of `hypothesis`; 1.0 for an empty transcript of a non-empty reference."""
    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        return float(bool(hyp))
    return edit_distance(ref, hyp) / len(ref)


def corpus_wer(pairs: list[tuple[str, str]]) -> float:
    """WER over many (reference, hypothesis) pairs: total edits / total reference words."""
    edits = sum(edit_distance(words(r), words(h)) for r, h in pairs)
    return edits / max(1, sum(len(words(r)) for r, _ in pairs))
