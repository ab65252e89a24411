"""The run's word vocabulary: the most frequent words of the whole train corpus.

A dataset built by this project holds `word_counts.json` next to `dataset.json`: the words of
every train caption counted by the Beam job (docs/shard-format.md). The vocabulary is its
`vocab_size` - 2 most frequent words (+ [PAD], [UNK]), the paper's fixed 2^16-word vocabulary
for the paper configs. A mixture of datasets sums their counts. A dataset built before the
counts existed falls back to learning the vocabulary from a sample of its clips, and says so.
Either way the share of caption tokens that become [UNK] is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from transformers import PreTrainedTokenizerFast

from model import word_tokenizer
from train.text import caption_corpus
from vattclips.dataset import list_shards, read_word_counts
from vattclips.words import (
    RULE,
    WORD_COUNTS_FILE,
    WordCounts,
    count_words,
    merge_counts,
    most_frequent_first,
)

logger = logging.getLogger(__name__)


def _why_not(root: str, counts: WordCounts | None) -> str | None:
    if counts is None:
        return f"{root} has no {WORD_COUNTS_FILE} (built before whole-corpus word counts)"
    if counts.rule != RULE:
        return f"{root}/{WORD_COUNTS_FILE} counts words by rule {counts.rule!r}, not {RULE!r}"
    return None


def build_vocabulary(
    roots: Sequence[str], vocab_size: int, max_samples: int
) -> tuple[PreTrainedTokenizerFast, WordCounts]:
    """The tokenizer of a run on the train splits of `roots`, and the counts it came from
    (whole-corpus counts, or those of the sampled captions when a root has none)."""
    found = [read_word_counts(root) for root in roots]
    reasons = [r for r in (_why_not(root, c) for root, c in zip(roots, found)) if r]
    if not reasons:
        counts = merge_counts([c for c in found if c is not None])
        source = "the whole train split"
    else:
        logger.info(
            "%s: learning the vocabulary from up to %d clips of up to 32 shards instead; "
            "rebuild the dataset for a vocabulary of its whole corpus",
            "; ".join(reasons),
            max_samples,
        )
        urls = [u for root in roots for u in list_shards(root, "train").urls]
        texts = [t for t in caption_corpus(urls, max_samples=max_samples) if t.strip()]
        sampled = count_words(texts)
        counts = WordCounts(
            words=most_frequent_first(sampled),
            tokens=sum(sampled.values()),
            distinct=len(sampled),
            captions=len(texts),
        )
        source = "the sampled captions only"
    tokenizer = word_tokenizer((w for w, _ in counts.words), vocab_size)
    kept = len(tokenizer) - 2
    logger.info(
        "vocabulary: the %d most frequent of %d distinct words (%d tokens in %d captions of %s); "
        "[UNK] share of those caption tokens: %.2f%%",
        kept,
        counts.distinct,
        counts.tokens,
        counts.captions,
        source,
        100 * counts.unk_share(kept),
    )
    if counts.videos_without_counts:
        logger.warning(
            "%d train videos have no word counts (processed by a build from before counting); "
            "their words are missing from the vocabulary",
            counts.videos_without_counts,
        )
    return tokenizer, counts
