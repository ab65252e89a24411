"""VATT in plain PyTorch: tokenizers of the three modalities, Transformer backbones, DropToken,
common-space heads, NCE and MIL-NCE losses, configs. No Ray, no Beam, no file formats.

Importing `model` registers VATT with transformers' Auto classes (`AutoConfig`/`AutoModel`
.from_pretrained of a saved folder then work), and makes `save_pretrained` write `auto_map`
and the model's source files into the folder, so that a copy on the Hugging Face Hub loads
anywhere with `trust_remote_code=True`, without this package.
"""

from transformers import AutoConfig, AutoModel

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

AutoConfig.register(VattConfig.model_type, VattConfig, exist_ok=True)
AutoModel.register(VattConfig, VattModel, exist_ok=True)
VattConfig.register_for_auto_class()  # -> config.json "auto_map" + the .py files saved beside
VattModel.register_for_auto_class("AutoModel")

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
