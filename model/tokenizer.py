"""Word-level text tokenizer (the paper's 2^16-word vocabulary) and caption encoding.

`word_tokenizer` makes a word-level Hugging Face tokenizer from a ranked word list (the
dataset's whole-corpus word counts, `word_counts.json`), `train_word_tokenizer` from a corpus of
texts; both split words by the shard format's one rule (`vattclips.words`) and give a
`PreTrainedTokenizerFast` ([PAD] = 0, [UNK] = 1) that `save_pretrained` writes to a folder.
`load_tokenizer` opens that folder or any local Hugging Face tokenizer folder.

The model reserves id 0 for padding. A tokenizer whose padding id is not 0 (or that has none)
gets every id shifted by one in `encode_texts`; `text_vocab_size` gives the matching
`VattConfig.vocab_size`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from vattclips import words as word_rules

PAD_TOKEN = "[PAD]"
UNK_TOKEN = "[UNK]"
MAX_VOCAB = 2**16


def word_tokenizer(words: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A word-level tokenizer of [PAD] (id 0), [UNK] (id 1) and the first `vocab_size` - 2 of
    `words` (most frequent first), splitting text by the shard format's word rule
    (`vattclips.words`: the one the corpus word counts were made with)."""
    if not 2 < vocab_size <= MAX_VOCAB:
        raise ValueError(f"vocab_size={vocab_size} must be in (2, {MAX_VOCAB}]")
    vocab = {PAD_TOKEN: 0, UNK_TOKEN: 1}
    for word in words:
        if len(vocab) >= vocab_size:
            break
        vocab.setdefault(word, len(vocab))
    tokenizer = Tokenizer(WordLevel(vocab=vocab, unk_token=UNK_TOKEN))
    tokenizer.normalizer = word_rules.normalizer()
    tokenizer.pre_tokenizer = word_rules.pre_tokenizer()
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token=PAD_TOKEN, unk_token=UNK_TOKEN
    )


def train_word_tokenizer(
    texts: Iterable[str], vocab_size: int = 8192, min_frequency: int = 1
) -> PreTrainedTokenizerFast:
    """Learn a word-level vocabulary of at most `vocab_size` entries (specials included): the
    most frequent words of `texts` seen at least `min_frequency` times.

    Words are split by the word rule (`vattclips.words`: lower-cased, accents stripped, runs of
    letters and digits joined across inner apostrophes, punctuation dropped); words outside the
    vocabulary map to [UNK].
    """
    ranked = word_rules.most_frequent_first(word_rules.count_words(texts))
    return word_tokenizer((w for w, c in ranked if c >= min_frequency), vocab_size)


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerBase:
    """A tokenizer from a local folder written by `save_pretrained` (never the network)."""
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"tokenizer folder {str(path)!r} does not exist")
    return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)


def _id_offset(tokenizer: PreTrainedTokenizerBase) -> int:
    """0 when the tokenizer pads with id 0, else 1 (every id shifted to free 0 for padding)."""
    return 0 if tokenizer.pad_token_id == 0 else 1


def text_vocab_size(tokenizer: PreTrainedTokenizerBase) -> int:
    """The `VattConfig.vocab_size` that covers every id `encode_texts` can produce."""
    return len(tokenizer) + _id_offset(tokenizer)


def encode_texts(
    tokenizer: PreTrainedTokenizerBase, texts: list[str], max_tokens: int = 16
) -> torch.Tensor:
    """Token ids of each text, truncated to `max_tokens` and 0-padded: LongTensor (N, max_tokens).

    No special tokens are added (the model has its own [AGG]); an empty text is all padding.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens={max_tokens} must be at least 1")
    offset = _id_offset(tokenizer)
    encoded = tokenizer(
        list(texts), add_special_tokens=False, truncation=True, max_length=max_tokens
    )["input_ids"]
    ids = torch.zeros(len(encoded), max_tokens, dtype=torch.long)
    for row, tokens in enumerate(encoded):
        if tokens:
            ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long) + offset
    return ids
