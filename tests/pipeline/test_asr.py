"""The ASR engines on real espeak-ng speech: faster-whisper with the packaged tiny.en model,
pocketsphinx, engine names, and transcripts that depend on their own audio alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline import asr, asr_whisper
from pipeline.synth import media as ms
from pipeline.wer import corpus_wer, edit_distance, word_error_rate, words

ROOT = Path(__file__).resolve().parents[2]
SENTENCES = (
    "the red ball rolls to the left",
    "a dog barks in the park",
    "a blue square moves up",
)


def _pcm(text: str, folder: Path) -> Path:
    """espeak-ng saying `text`, as the 16 kHz mono s16le PCM the pipeline hands to ASR."""
    wav = ms.synth_speech(text, folder / f"{text.replace(' ', '_')}.wav", words_per_minute=140)
    pcm = wav.with_suffix(".s16le")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav), "-af",
         "apad=pad_dur=1", "-ar", "16000", "-ac", "1", "-f", "s16le", str(pcm)],
        check=True,
    )  # fmt: skip
    return pcm


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("speech")
    return {text: _pcm(text, folder) for text in SENTENCES}


@pytest.fixture(scope="module")
def other_audio(tmp_path_factory, speech) -> list[Path]:
    """Audio unlike the speech (a loud tone, then noisy speech), as other videos of a worker."""
    folder = tmp_path_factory.mktemp("other")
    rng = np.random.default_rng(0)
    t = np.arange(3 * 16000) / 16000
    tone = 0.6 * np.sin(2 * np.pi * 1530 * t)
    said = np.fromfile(speech[SENTENCES[2]], np.int16) / 32768.0
    noisy = said + 0.05 * rng.standard_normal(len(said))
    out = []
    for i, x in enumerate((tone, noisy)):
        path = folder / f"other{i}.s16le"
        (np.clip(x, -1, 1) * 32767).astype("<i2").tofile(path)
        out.append(path)
    return out


def test_word_error_rate_counts_edits_per_reference_word():
    assert words("Red circle, moves DOWN.") == ["red", "circle", "moves", "down"]
    assert edit_distance(["a", "b", "c"], ["a", "x", "c", "d"]) == 2  # one swap, one insertion
    assert word_error_rate("a red ball", "Red ball.") == pytest.approx(1 / 3)
    assert word_error_rate("a red ball", "") == 1.0
    assert corpus_wer([("a b", "a b"), ("c d e f", "c")]) == pytest.approx(3 / 6)


def test_auto_is_faster_whisper_with_the_packaged_model():
    assert asr_whisper.packaged_model_dir() is not None  # installed by make setup
    assert asr.resolve("auto") == "faster-whisper:tiny.en"
    assert asr.resolve("pocketsphinx") == "pocketsphinx" and asr.engine_name_for("none") is None


def test_faster_whisper_transcribes_espeak_speech_with_word_times(speech):
    engine = asr.get_engine("faster-whisper:tiny.en")
    pairs = []
    for text, pcm in speech.items():
        segs = engine.transcribe(str(pcm), 16000)
        seconds = pcm.stat().st_size / 2 / 16000
        assert segs and all(0 <= s.start <= s.end <= seconds + 0.05 for s in segs)
        assert [s.start for s in segs] == sorted(s.start for s in segs)
        pairs.append((text, " ".join(s.text for s in segs)))
    assert corpus_wer(pairs) < 0.3, pairs


@pytest.mark.parametrize("name", ["faster-whisper:tiny.en", "pocketsphinx"])
def test_a_transcript_depends_on_its_own_audio_alone(speech, other_audio, name):
    """The same audio, transcribed by a fresh engine and by one that decoded other videos
    first, gives the same segments (so a resumed build equals an uninterrupted one)."""
    first = str(speech[SENTENCES[0]])
    alone = asr.load_engine(name).transcribe(first, 16000)
    engine = asr.load_engine(name)
    for other in other_audio:
        engine.transcribe(str(other), 16000)
    after_others = engine.transcribe(first, 16000)
    engine.transcribe(str(speech[SENTENCES[1]]), 16000)
    again = engine.transcribe(first, 16000)
    assert after_others == alone == again


def test_models_are_found_by_folder_or_in_the_users_hf_cache_never_downloaded(tmp_path):
    packaged = asr_whisper.packaged_model_dir()
    assert asr_whisper.resolve_model(packaged) == packaged
    with pytest.raises(asr_whisper.ModelNotFoundError, match="no CTranslate2 model"):
        asr_whisper.resolve_model(str(tmp_path))
    # A Hugging Face cache holding Systran/faster-whisper-base.en (the packaged files under
    # that name): the name resolves to its snapshot, offline.
    repo = tmp_path / "hub" / "models--Systran--faster-whisper-base.en"
    snap = repo / "snapshots" / "0123abc"
    snap.mkdir(parents=True)
    for f in os.listdir(packaged):
        (snap / f).symlink_to(Path(packaged, f))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abc")
    code = (
        "from pipeline.asr_whisper import resolve_model, ModelNotFoundError\n"
        "print(resolve_model('base.en'))\n"
        "try:\n    resolve_model('small.en')\n"
        "except ModelNotFoundError as e:\n    print('missing:', e)\n"
    )
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == str(snap)
    assert out[1].startswith("missing: faster-whisper model 'small.en'")


def test_unknown_engines_are_named_in_the_error():
    with pytest.raises(ValueError, match="unknown ASR engine 'whisperx'"):
        asr.load_engine("whisperx")
    with pytest.raises(ValueError, match="unknown ASR engine 'faster-whisper'"):
        asr.load_engine("faster-whisper")
