"""VATT in plain PyTorch: tokenizers of the three modalities, Transformer backbones, DropToken,
common-space heads, NCE and MIL-NCE losses, configs. No Ray, no Beam, no file formats."""

from model.classifier import VattForClassification, resize_positions, set_droptoken
from model.config import CONFIG_NAMES, VattConfig, get_config
from model.losses import mil_nce_loss, nce_loss, vatt_loss
from model.tokenizer import (
    encode_texts,
    load_tokenizer,
    text_vocab_size,
    train_word_tokenizer,
    word_tokenizer,
)
from model.vatt import VattModel

__all__ = [
    "CONFIG_NAMES",
    "VattConfig",
    "VattForClassification",
    "VattModel",
    "encode_texts",
    "get_config",
    "load_tokenizer",
    "mil_nce_loss",
    "nce_loss",
    "resize_positions",
    "set_droptoken",
    "text_vocab_size",
    "train_word_tokenizer",
    "vatt_loss",
    "word_tokenizer",
]
