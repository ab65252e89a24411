"""Offline speech recognition for videos without captions, behind a small interface.

`pocketsphinx` (installed from PyPI with its English model) runs on any CPU and gives word
timestamps. `whisper:/path/to/model` runs a Hugging Face Whisper checkpoint from a local
folder (GPU workers); nothing is ever downloaded at run time.
"""

from __future__ import annotations

import functools
import logging
from typing import Protocol

import numpy as np

from pipeline.captions import Segment
from pipeline.errors import StageError

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
        self._decoder = Decoder(samprate=16000, loglevel="FATAL")
        self._segmenter_cls = Segmenter

    def transcribe(self, pcm_path: str, sample_rate: int) -> list[Segment]:
        if sample_rate != 16000:
            raise ValueError("pocketsphinx's English model wants 16 kHz audio")
        words: list[tuple[float, float, str]] = []
        segmenter = self._segmenter_cls(sample_rate=sample_rate)
        d = self._decoder
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


@functools.lru_cache(maxsize=4)
def get_engine(name: str) -> AsrEngine:
    """An engine by name, loaded once per worker process: `pocketsphinx`, `whisper:<dir>`."""
    if name == "pocketsphinx":
        return PocketsphinxEngine()
    if name.startswith("whisper:"):
        return WhisperEngine(name.split(":", 1)[1])
    raise ValueError(
        f"unknown ASR engine {name!r}: use 'pocketsphinx' or 'whisper:<local model dir>'"
    )


def engine_name_for(asr: str) -> str | None:
    """The engine an `--asr` option asks for, or None when ASR is off."""
    if asr == "none":
        return None
    return "pocketsphinx" if asr == "auto" else asr


def transcribe(engine_name: str, pcm_path: str, sample_rate: int, source: str) -> list[Segment]:
    try:
        return get_engine(engine_name).transcribe(pcm_path, sample_rate)
    except Exception as exc:  # noqa: BLE001 - an ASR failure is this video's, not the job's
        raise StageError(
            "asr", f"{source}: {engine_name} failed ({type(exc).__name__}: {exc})"
        ) from exc
