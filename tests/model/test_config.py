"""Named configs, validation, tower sizes and the Hugging Face config round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from model import CONFIG_NAMES, VattConfig, get_config
from model.config import TowerSize, tower_size


def test_named_configs_and_paper_geometry() -> None:
    assert CONFIG_NAMES == ("tiny", "bbs", "mbs", "lbs", "ma-medium")
    bbs = get_config("bbs")
    assert (bbs.video_tokens, bbs.audio_tokens, bbs.video_grid) == (1568, 1200, (8, 14, 14))
    assert (bbs.video_frames, bbs.video_size, bbs.audio_samples) == (32, 224, 153_600)
    assert (bbs.audio_sample_rate, bbs.text_max_tokens, bbs.num_neighbors) == (48_000, 16, 5)
    assert (bbs.vocab_size, bbs.temperature, bbs.mil_nce_weight) == (2**16, 0.07, 1.0)
    assert bbs.loss_reduction == "sum"  # the paper's L = NCE + MIL-NCE
    assert bbs.tower("video") == TowerSize(12, 768, 3072, 12)
    assert bbs.tower("text") == TowerSize(6, 512, 2048, 8)
    assert get_config("lbs").tower("video") == TowerSize(24, 1024, 4096, 16)
    ma = get_config("ma-medium")
    assert ma.modality_agnostic and ma.tower("audio") == ma.tower("text") == tower_size("medium")
    tiny = get_config("tiny")
    assert (tiny.video_tokens, tiny.audio_tokens, tiny.vocab_size) == (196, 400, 8192)
    assert tiny.audio_samples / tiny.audio_sample_rate == pytest.approx(3.2)


def test_unknown_names_and_fields_raise() -> None:
    with pytest.raises(ValueError, match="valid names: tiny, bbs, mbs, lbs, ma-medium"):
        get_config("vatt-huge")
    with pytest.raises(ValueError, match="colour"):
        get_config("tiny", colour=3)
    with pytest.raises(ValueError, match="unknown Transformer size 'giant'"):
        get_config("bbs", video_backbone="giant")
    with pytest.raises(ValueError, match="video_size=100"):
        get_config("tiny", video_size=100)
    with pytest.raises(ValueError, match="audio_samples=1000"):
        get_config("tiny", audio_samples=1000)
    with pytest.raises(ValueError, match="loss_reduction='avg'"):
        get_config("tiny", loss_reduction="avg")
    with pytest.raises(ValueError, match="video_drop_rate=1.0"):
        get_config("tiny", video_drop_rate=1.0)
    with pytest.raises(ValueError, match="vocab_size"):
        get_config("tiny", vocab_size=2**16 + 1)
    with pytest.raises(ValueError, match="modality"):
        get_config("tiny").tower("smell")


def test_overrides_and_round_trip(tmp_path: Path) -> None:
    cfg = get_config("mbs", video_drop_rate=0.25, temperature=0.1)
    assert cfg.video_drop_rate == 0.25 and cfg.temperature == 0.1 and cfg.model_type == "vatt"
    cfg.save_pretrained(tmp_path)
    loaded = VattConfig.from_pretrained(tmp_path)
    assert loaded.video_backbone == "medium" and loaded.video_drop_rate == 0.25
    assert loaded.shared_backbone is None and loaded.temperature == 0.1
