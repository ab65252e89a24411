"""How caption text splits into words, and the corpus word counts file (`word_counts.json`).

One rule for both the shard builder, which counts the words of every train caption
(pipeline/vocabulary.py), and the text tokenizer, which maps them to ids (model/tokenizer.py):
the tokenizer carries this very normalizer and pre-tokenizer in its `tokenizer.json`, and the
builder counts with the same objects, so a word counted is a word the tokenizer looks up.

The rule (`RULE`): lower-case, accents stripped (NFD, then combining marks removed), the
typographic apostrophe (U+2019) read as "'"; a word is a run of letters and digits, joined
across inner apostrophes; everything else (punctuation, symbols, "_") separates words and is
dropped. So "It's" is one word, `it's` (the split it replaces spent 3 of a caption's 16 token
slots on "it", "'", "s"), "don't" is one, "rock'n'roll" one, "'quoted'" is `quoted`, and "3.5kg"
is `3` and `5kg`. Punctuation carries little in ASR text (YouTube's has almost none) and the
paper's vocabulary is word2vec's, which keeps no punctuation either.

Why Hugging Face `tokenizers` rather than Python's `re` on the builder side: the two regex
engines disagree on which characters are word characters (measured: on 11,228 of the 1.1M
code points between two letters, mostly unassigned ones, superscript digits and spacing
marks), so two implementations of one pattern would be two rules.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from tokenizers import Regex, normalizers, pre_tokenizers

from vattclips.schema import WORD_COUNTS_FILE, WORD_COUNTS_SCHEMA

RULE = "vatt-words/1"  # recorded in word_counts.json and checked by the reader
WORD_PATTERN = r"[^\W_]+(?:'[^\W_]+)*"


def normalizer() -> normalizers.Normalizer:
    """Text -> the form words are taken from (a fresh object for a tokenizer to own)."""
    return normalizers.Sequence(
        [
            normalizers.Replace("\u2019", "'"),
            normalizers.NFD(),
            normalizers.Lowercase(),
            normalizers.StripAccents(),
        ]
    )


def pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    """Normalized text -> words: the matches of WORD_PATTERN; what lies between is dropped."""
    return pre_tokenizers.Split(Regex(WORD_PATTERN), behavior="removed", invert=True)


@functools.cache
def _rule() -> tuple[normalizers.Normalizer, pre_tokenizers.PreTokenizer]:
    return normalizer(), pre_tokenizer()


def split_words(text: str) -> list[str]:
    """The words of `text` by the rule, in order: "It's a Café!" -> ["it's", "a", "cafe"]."""
    norm, pre = _rule()
    return [word for word, _ in pre.pre_tokenize_str(norm.normalize_str(text))]


@dataclass
class WordCounts:
    """Word frequencies of a dataset's train captions (each caption counted once per video).

    `words` holds the `max_words` most frequent, most frequent first (ties by word); `tokens`
    counts every word, those of the cut tail included, so the share of tokens that a
    vocabulary of the first V words leaves as [UNK] is exact for any V <= len(words).
    """

    words: list[tuple[str, int]] = field(default_factory=list)
    tokens: int = 0  # words in all the counted captions
    distinct: int = 0  # distinct words seen, before the cut
    captions: int = 0  # distinct captions counted
    videos: int = 0  # train videos whose captions were counted
    videos_without_counts: int = 0  # train videos with no counts (built before counting)
    max_words: int = 0  # the cut
    rule: str = RULE

    def covered_tokens(self, vocab_words: int) -> int:
        """Tokens that the `vocab_words` most frequent words cover (the rest are [UNK])."""
        return sum(count for _, count in self.words[: max(0, vocab_words)])

    def unk_share(self, vocab_words: int) -> float:
        """Share of caption tokens outside the `vocab_words` most frequent words."""
        return 1.0 - self.covered_tokens(vocab_words) / self.tokens if self.tokens else 0.0

    def to_json(self) -> bytes:
        body = {
            "schema": WORD_COUNTS_SCHEMA,
            "rule": self.rule,
            "split": "train",
            "videos": self.videos,
            "videos_without_counts": self.videos_without_counts,
            "captions": self.captions,
            "tokens": self.tokens,
            "distinct_words": self.distinct,
            "max_words": self.max_words,
            "words": [[w, c] for w, c in self.words],
        }
        # One word per line: a 2^18-word file stays readable (and diffable) as text.
        head = json.dumps({k: v for k, v in body.items() if k != "words"}, sort_keys=True)
        rows = ",\n".join(json.dumps(row, ensure_ascii=False) for row in body["words"])
        return (head[:-1] + ', "words": [\n' + rows + "\n]}\n").encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str, name: str = WORD_COUNTS_FILE) -> WordCounts:
        """Parse a word_counts.json; ValueError naming `name` when it is not one."""
        try:
            body = json.loads(data)
        except ValueError as error:
            raise ValueError(f"{name}: not JSON ({error})") from None
        if not isinstance(body, dict) or body.get("schema") != WORD_COUNTS_SCHEMA:
            schema = body.get("schema") if isinstance(body, dict) else None
            raise ValueError(f"{name}: schema {schema!r}, expected {WORD_COUNTS_SCHEMA!r}")
        return cls(
            words=[(str(w), int(c)) for w, c in body.get("words", [])],
            tokens=int(body.get("tokens", 0)),
            distinct=int(body.get("distinct_words", 0)),
            captions=int(body.get("captions", 0)),
            videos=int(body.get("videos", 0)),
            videos_without_counts=int(body.get("videos_without_counts", 0)),
            max_words=int(body.get("max_words", 0)),
            rule=str(body.get("rule", "")),
        )


def count_words(texts: Iterable[str]) -> dict[str, int]:
    """Word frequencies of `texts` by the word rule."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(split_words(text))
    return dict(counts)


def most_frequent_first(counts: dict[str, int]) -> list[tuple[str, int]]:
    """(word, count) by count, most frequent first; equal counts by word (deterministic)."""
    return sorted(counts.items(), key=lambda wc: (-wc[1], wc[0]))


def merge_counts(parts: list[WordCounts]) -> WordCounts:
    """The counts of several datasets as one corpus (a mixture's vocabulary). `distinct` is
    then a lower bound (words past one dataset's cut are not known)."""
    if len(parts) == 1:
        return parts[0]
    total: dict[str, int] = {}
    for part in parts:
        for word, count in part.words:
            total[word] = total.get(word, 0) + count
    rules = {p.rule for p in parts}
    return WordCounts(
        words=most_frequent_first(total),
        tokens=sum(p.tokens for p in parts),
        distinct=max([len(total)] + [p.distinct for p in parts]),
        captions=sum(p.captions for p in parts),
        videos=sum(p.videos for p in parts),
        videos_without_counts=sum(p.videos_without_counts for p in parts),
        max_words=max((p.max_words for p in parts), default=0),
        rule=rules.pop() if len(rules) == 1 else "mixed",
    )
