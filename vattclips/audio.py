"""Decode a clip's `flac` member to a mono float waveform (at the model's sample rate, or the
member's own): the one flac decoder of the format's readers (train/, the viewers,
`vattclips.clips`)."""

from __future__ import annotations

import io

import av
import numpy as np


class AudioDecodeError(Exception):
    """A flac member that cannot be decoded."""


def _pcm(frame: av.AudioFrame) -> np.ndarray | None:
    # Mono 16-bit at the wanted rate (the shard format's flac) converts without swresample.
    if frame.format.name in ("s16", "s16p") and len(frame.layout.channels) == 1:
        return frame.to_ndarray()[0].astype(np.float32) * (1.0 / 32768.0)
    return None


def decode_waveform(data: bytes, sample_rate: int | None = None) -> np.ndarray:
    """(S,) float32 in [-1, 1], mono, resampled to `sample_rate` (FFmpeg's swresample); None
    keeps the member's own rate (`flac_rate`)."""
    try:
        with av.open(io.BytesIO(data)) as container:
            if not container.streams.audio:
                raise AudioDecodeError("flac has no audio stream")
            stream = container.streams.audio[0]
            sample_rate = sample_rate or stream.rate
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            direct = stream.rate == sample_rate
            chunks: list[np.ndarray] = []
            for frame in container.decode(stream):
                pcm = _pcm(frame) if direct else None
                if pcm is not None:
                    chunks.append(pcm)
                    continue
                direct = False  # once resampling, every frame goes through the resampler
                chunks.extend(f.to_ndarray()[0] for f in resampler.resample(frame))
            if not direct:
                chunks.extend(f.to_ndarray()[0] for f in resampler.resample(None))  # flush
    except AudioDecodeError:
        raise
    except Exception as error:  # noqa: BLE001 - PyAV raises several types for bad input
        raise AudioDecodeError(f"cannot decode flac ({len(data)} bytes): {error}") from error
    if not chunks:
        raise AudioDecodeError("flac has no samples")
    return np.concatenate(chunks).astype(np.float32, copy=False)


def flac_rate(data: bytes) -> int:
    """The sample rate of a flac member, from its header."""
    try:
        with av.open(io.BytesIO(data)) as container:
            if not container.streams.audio:
                raise AudioDecodeError("flac has no audio stream")
            return int(container.streams.audio[0].rate)
    except AudioDecodeError:
        raise
    except Exception as error:  # noqa: BLE001 - PyAV raises several types for bad input
        raise AudioDecodeError(f"cannot read flac ({len(data)} bytes): {error}") from error


def fit_length(wave: np.ndarray, samples: int, offset: int | None = None) -> np.ndarray:
    """`wave` cut or zero-padded to exactly `samples`.

    `offset` = start of the cut when the wave is longer (None = centred); resampling rounds, so
    a wave is often a few samples off the nominal length.
    """
    if len(wave) >= samples:
        start = (len(wave) - samples) // 2 if offset is None else min(offset, len(wave) - samples)
        return wave[start : start + samples]
    return np.pad(wave, (0, samples - len(wave)))
