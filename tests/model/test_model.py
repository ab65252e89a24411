"""VattModel end to end on the tiny config: shapes, DropToken, gradients, determinism,
save/load, torch.compile, bf16 autocast, masks and other input sizes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from model import VattModel, get_config, vatt_loss
from model.config import VattConfig


def inputs(cfg: VattConfig, batch: int = 3, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    video = torch.rand(batch, 3, cfg.video_frames, cfg.video_size, cfg.video_size, generator=gen)
    text = torch.randint(1, cfg.vocab_size, (batch, 2, cfg.text_max_tokens), generator=gen)
    text[:, :, 5:] = 0  # padding
    text[0, 1] = 0  # an empty caption slot
    return {
        "video": video * 2 - 1,
        "audio": torch.randn(batch, cfg.audio_samples, generator=gen),
        "text_ids": text,
    }


@pytest.fixture(scope="module")
def cfg() -> VattConfig:
    # tiny with shorter inputs, for speed: 2 x 4 x 4 = 32 video tokens, 40 audio tokens.
    return get_config("tiny", video_frames=8, video_size=64, audio_samples=40 * 128)


@pytest.fixture()
def model(cfg: VattConfig) -> VattModel:
    torch.manual_seed(0)
    return VattModel(cfg)


def test_output_shapes_and_absent_modalities(model: VattModel, cfg: VattConfig) -> None:
    x = inputs(cfg)
    out = model.eval()(**x)
    assert out["video_va"].shape == (3, cfg.va_dim)
    assert out["video_vt"].shape == (3, cfg.vt_dim)
    assert out["audio_va"].shape == (3, cfg.va_dim)
    assert out["text_vt"].shape == (3, 2, cfg.vt_dim)
    assert set(model(video=x["video"])) == {"video_va", "video_vt"}
    assert set(model(text_ids=x["text_ids"][:, 0])) == {"text_vt"}
    assert model(text_ids=x["text_ids"][:, 0])["text_vt"].shape == (3, cfg.vt_dim)


def test_droptoken_shortens_video_and_audio_in_training_only(
    model: VattModel, cfg: VattConfig
) -> None:
    lengths: dict[str, int] = {}
    for name in ("video", "audio", "text"):
        model.transformer(name).register_forward_pre_hook(
            lambda _m, args, name=name: lengths.__setitem__(name, args[0].shape[1])
        )
    x = inputs(cfg)
    model.train()(**x)
    # 32 video tokens -> 16 kept, 40 audio -> 20, plus [AGG]; text is never dropped.
    assert lengths == {"video": 1 + 16, "audio": 1 + 20, "text": 1 + cfg.text_max_tokens}
    model.eval()(**x)
    assert lengths == {"video": 1 + 32, "audio": 1 + 40, "text": 1 + cfg.text_max_tokens}


def test_eval_is_deterministic_and_training_is_not(model: VattModel, cfg: VattConfig) -> None:
    x = inputs(cfg)
    model.eval()
    first, second = model(**x), model(**x)
    for key in first:
        assert torch.equal(first[key], second[key])
    model.train()
    assert not torch.allclose(model(**x)["video_va"], model(**x)["video_va"])


def test_gradients_reach_every_parameter(model: VattModel, cfg: VattConfig) -> None:
    x = inputs(cfg, batch=4)
    out = model.train()(**x)
    losses = vatt_loss(out, text_mask=(x["text_ids"] != 0).any(-1))
    losses["loss"].backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name
    # The padding row of the word table never learns.
    assert (model.text_embed.words.weight.grad[0] == 0).all()


def test_save_pretrained_round_trip(model: VattModel, cfg: VattConfig, tmp_path: Path) -> None:
    x = inputs(cfg)
    model.train()(**x)  # move the BatchNorm running statistics off their initial values
    model.eval()
    expected = model(**x)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    loaded = VattModel.from_pretrained(tmp_path).eval()
    saved, restored = model.config.to_dict(), loaded.config.to_dict()
    restored["_name_or_path"] = saved["_name_or_path"]  # where it was loaded from
    assert restored == saved
    got = loaded(**x)
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=0, atol=0)


def test_backbones_compile_without_graph_breaks(model: VattModel, cfg: VattConfig) -> None:
    x = inputs(cfg, batch=2)
    model.train()
    flat_text = x["text_ids"].reshape(-1, cfg.text_max_tokens)
    # Video covers the patch path (audio runs the same code), text the T5 path.
    for encode, arg in ((model.encode_video, x["video"]), (model.encode_text, flat_text)):
        torch._dynamo.reset()
        # fullgraph=True raises on any graph break; aot_eager also traces the backward.
        compiled = torch.compile(encode, backend="aot_eager", fullgraph=True)
        pooled = compiled(arg)
        pooled.sum().backward()
        assert pooled.shape[0] == arg.shape[0] and torch.isfinite(pooled).all()


def test_bf16_autocast_runs_and_stays_close_to_fp32(model: VattModel, cfg: VattConfig) -> None:
    x = inputs(cfg)
    model.eval()
    reference = model(**x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        half = model(**x)
        loss = vatt_loss(half)["loss"]
    assert torch.isfinite(loss)
    for key in reference:
        assert half[key].dtype == torch.bfloat16
        cosine = F.cosine_similarity(half[key].float(), reference[key], dim=-1)
        assert cosine.min() > 0.98, key


def test_padding_does_not_change_text_embeddings(model: VattModel, cfg: VattConfig) -> None:
    ids = inputs(cfg)["text_ids"][:, 0]  # (3, 16), 5 words then padding
    longer = F.pad(ids, (0, 8))  # 8 more padding tokens
    model.eval()
    torch.testing.assert_close(
        model(text_ids=longer)["text_vt"], model(text_ids=ids)["text_vt"], rtol=1e-5, atol=1e-5
    )
    changed = ids.clone()
    changed[:, 2] = (changed[:, 2] % (cfg.vocab_size - 1)) + 1  # a different real word
    assert not torch.allclose(model(text_ids=changed)["text_vt"], model(text_ids=ids)["text_vt"])


def test_other_input_sizes_interpolate_positions(model: VattModel, cfg: VattConfig) -> None:
    model.eval()
    video = torch.rand(2, 3, 12, 96, 80) * 2 - 1  # grid 3 x 6 x 5 instead of 2 x 4 x 4
    audio = torch.randn(2, 64 * 128)  # 64 tokens instead of 40
    out = model(video=video, audio=audio)
    assert out["video_va"].shape == (2, cfg.va_dim) and torch.isfinite(out["video_va"]).all()
    assert out["audio_va"].shape == (2, cfg.va_dim) and torch.isfinite(out["audio_va"]).all()


def test_bad_inputs_raise_naming_the_shape(model: VattModel) -> None:
    with pytest.raises(ValueError, match=r"\(2, 3, 15, 64, 64\)"):
        model(video=torch.zeros(2, 3, 15, 64, 64))
    with pytest.raises(ValueError, match="B, 3, T, H, W"):
        model(video=torch.zeros(2, 16, 64, 64))
    with pytest.raises(ValueError, match="1000"):
        model(audio=torch.zeros(2, 1000))
    with pytest.raises(ValueError, match="text_ids"):
        model(text_ids=torch.zeros(2, 3, 4, 5, dtype=torch.long))


def test_modality_agnostic_model_shares_one_transformer() -> None:
    cfg = get_config("tiny", shared_backbone="tiny")
    model = VattModel(cfg).eval()
    assert not hasattr(model, "video_transformer")
    assert model.transformer("video") is model.transformer("text") is model.shared_transformer
    out = model(**inputs(cfg))
    assert out["text_vt"].shape == (3, 2, cfg.vt_dim)
    ids = inputs(cfg)["text_ids"][:, 0]  # 5 words, 11 padding tokens
    torch.testing.assert_close(
        model(text_ids=ids[:, :8])["text_vt"], model(text_ids=ids)["text_vt"], rtol=1e-5, atol=1e-5
    )
    with pytest.raises(ValueError, match="longer than the 16 positions"):
        model(text_ids=F.pad(ids, (0, 4)))
