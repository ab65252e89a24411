"""Word-level tokenizer: training, [PAD]/[UNK] ids, encoding, save/load, foreign tokenizers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, pre_tokenizers
from tokenizers.models import WordLevel
from transformers import PreTrainedTokenizerFast

from model import (
    VattModel,
    encode_texts,
    get_config,
    load_tokenizer,
    train_word_tokenizer,
    word_tokenizer,
)
from model.tokenizer import text_vocab_size
from vattclips.words import split_words

CORPUS = [
    "Cut the onion into small pieces.",
    "now cut the carrot",
    "the onion goes into the pan",
    "Stir the pan, then add salt",
]


def test_trained_vocabulary_has_pad_0_unk_1_and_the_most_frequent_words() -> None:
    tok = train_word_tokenizer(CORPUS, vocab_size=6)
    vocab = tok.get_vocab()
    assert len(vocab) == 6 and vocab["[PAD]"] == 0 and vocab["[UNK]"] == 1
    assert tok.pad_token_id == 0 and tok.unk_token_id == 1
    # "the" (5 times), "onion", "cut", "into", "pan" (2) outrank the words seen once.
    assert "the" in vocab and "salt" not in vocab
    with pytest.raises(ValueError, match="vocab_size"):
        train_word_tokenizer(CORPUS, vocab_size=2**16 + 1)


def test_encode_texts_lowercases_truncates_pads_and_maps_unknown_words() -> None:
    tok = train_word_tokenizer(CORPUS, vocab_size=100)
    ids = encode_texts(tok, ["CUT the Onion", "", "zebra " * 20], max_tokens=4)
    vocab = tok.get_vocab()
    assert ids.dtype == torch.long and ids.shape == (3, 4)
    assert ids[0].tolist() == [vocab["cut"], vocab["the"], vocab["onion"], 0]
    assert ids[1].tolist() == [0, 0, 0, 0]
    assert ids[2].tolist() == [1, 1, 1, 1]


def test_save_and_load_round_trip_feeds_the_model(tmp_path: Path) -> None:
    tok = train_word_tokenizer(CORPUS, vocab_size=50)
    tok.save_pretrained(tmp_path)
    loaded = load_tokenizer(tmp_path)
    texts = ["stir the onion", "add salt now"]
    assert torch.equal(encode_texts(loaded, texts), encode_texts(tok, texts))
    cfg = get_config("tiny", vocab_size=text_vocab_size(loaded))
    out = VattModel(cfg).eval()(text_ids=encode_texts(loaded, texts)[:, None])
    assert out["text_vt"].shape == (2, 1, cfg.vt_dim)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_tokenizer(tmp_path / "nowhere")


def test_a_tokenizer_without_pad_id_0_gets_ids_shifted(tmp_path: Path) -> None:
    # A foreign tokenizer whose id 0 is a real token ([UNK]) and [PAD] is 3.
    vocab = {"[UNK]": 0, "hello": 1, "world": 2, "[PAD]": 3}
    backend = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]"
    ).save_pretrained(tmp_path)
    tok = load_tokenizer(tmp_path)
    ids = encode_texts(tok, ["hello world", "unknown hello"], max_tokens=3)
    assert ids.tolist() == [[2, 3, 0], [1, 2, 0]]  # every id + 1, 0 left for padding
    assert text_vocab_size(tok) == 5


HARD_TEXTS = [
    "It's a Café, isn't it?",
    "don't  'quoted' rock'n'roll 3.5kg under_score -- well-known",
    "naïve ÜBER straße İstanbul ĳ ﬁne ½ x² ٣٤ 東京タワー",
    "it\u2019s typographic, ''double'' quotes' end",
    "tabs\tand\nnewlines \u00a0no-break\u2003em-space",
]


def test_contractions_take_one_slot_and_punctuation_none() -> None:
    tok = word_tokenizer(["it's", "a", "cafe", "isn't", "it"], vocab_size=16)
    ids = encode_texts(tok, ["It’s a café, isn't it?"], max_tokens=8)[0].tolist()
    vocab = tok.get_vocab()
    assert ids == [vocab[w] for w in ("it's", "a", "cafe", "isn't", "it")] + [0, 0, 0]


def test_the_tokenizer_splits_by_the_counting_rule_also_after_save_and_load(
    tmp_path: Path,
) -> None:
    tok = train_word_tokenizer(HARD_TEXTS, vocab_size=200)
    tok.save_pretrained(tmp_path)
    for loaded in (tok, load_tokenizer(tmp_path)):
        for text in HARD_TEXTS:
            words = split_words(text)
            assert loaded.tokenize(text) == words
            assert 1 not in loaded(text, add_special_tokens=False)["input_ids"]  # all counted


def test_word_tokenizer_keeps_the_ranked_words_up_to_the_vocab_size() -> None:
    tok = word_tokenizer(["the", "onion", "cut", "the", "pan"], vocab_size=5)
    assert tok.get_vocab() == {"[PAD]": 0, "[UNK]": 1, "the": 2, "onion": 3, "cut": 4}
