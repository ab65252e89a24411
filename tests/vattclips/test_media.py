"""The one mp4 and the one flac decoder, on real H.264 and FLAC: the trainer's cropped,
resized clips and the frames and waveform as stored."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest

from tests.train.shardgen import SMALL as SPEC
from tests.train.shardgen import FixtureSpec, encode_flac, make_sample
from vattclips.audio import AudioDecodeError, decode_waveform, fit_length, flac_rate
from vattclips.video import CropBox, VideoDecodeError, decode_clip, decode_frames, frame_indices


def _plain(mp4: bytes) -> np.ndarray:
    """(T, H, W, 3): every frame through PyAV's own conversion, the reference."""
    with av.open(io.BytesIO(mp4)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def _matroska(mp4: bytes) -> bytes:
    """The same stream in a container without a frame count in its header."""
    mkv = io.BytesIO()
    with av.open(io.BytesIO(mp4)) as src, av.open(mkv, "w", format="matroska") as dst:
        out = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(video=0):
            if packet.dts is not None:
                packet.stream = out
                dst.mux(packet)
    return mkv.getvalue()


def test_frame_indices_cover_the_clip() -> None:
    assert frame_indices(32, 16).tolist() == list(range(1, 32, 2))
    assert frame_indices(4, 8).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert frame_indices(32, 32).tolist() == list(range(32))


def test_decoded_clip_matches_a_plain_decode_and_crop() -> None:
    raw = make_sample(SPEC, 0, 1)  # vid000: a red shape
    plain = _plain(raw["mp4"])
    box = CropBox(10, 8, 48, 48)
    ref = plain[:, 8:56, 10:58].transpose(3, 0, 1, 2)  # (3, T, 48, 48)
    clip = decode_clip(raw["mp4"], SPEC.frames, 48, lambda w, h: box)
    assert clip.shape == (3, SPEC.frames, 48, 48) and clip.dtype == np.uint8
    assert np.abs(clip.astype(int) - ref).mean() < 3  # same pixels, same channel order
    flipped = decode_clip(raw["mp4"], SPEC.frames, 48, lambda w, h: box, flip=True)
    assert np.array_equal(flipped, clip[..., ::-1])
    half = decode_clip(raw["mp4"], SPEC.frames // 2, 48, lambda w, h: box)
    assert np.array_equal(half, clip[:, 1::2])  # every second frame, spanning the clip
    # A container without a frame count in its header (Matroska) takes the other path.
    mkv = _matroska(raw["mp4"])
    assert np.array_equal(decode_clip(mkv, SPEC.frames // 2, 48, lambda w, h: box), half)


@pytest.mark.parametrize("short_side", [64, 30])  # 86 and 40 pixels wide: not multiples of 16
def test_frames_as_stored_are_every_pixel_of_a_plain_decode(short_side: int) -> None:
    raw = make_sample(FixtureSpec(short_side=short_side), 3, 0)
    plain = _plain(raw["mp4"])
    frames = decode_frames(raw["mp4"])
    assert frames.shape == plain.shape and frames.dtype == np.uint8
    assert frames.flags["C_CONTIGUOUS"] and np.array_equal(frames, plain)
    assert np.array_equal(decode_frames(raw["mp4"], 4), plain[[1, 3, 5, 7]])
    assert np.array_equal(decode_frames(_matroska(raw["mp4"]), 4), plain[[1, 3, 5, 7]])


def test_bad_mp4_bytes_are_a_decode_error() -> None:
    with pytest.raises(VideoDecodeError, match="cannot open mp4"):
        decode_frames(b"not a video at all")
    flac = make_sample(SPEC, 0, 0)["flac"]
    with pytest.raises(VideoDecodeError, match="no video stream"):
        decode_clip(flac, 4, 32)


def test_waveform_at_its_own_rate_or_resampled() -> None:
    rate = 16000
    t = np.arange(rate) / rate
    wave = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    flac = encode_flac(wave, rate)
    assert flac_rate(flac) == rate
    own = decode_waveform(flac)
    assert own.dtype == np.float32 and own.shape == (rate,)
    assert np.abs(own - wave).max() < 1e-4  # 16-bit: within a quantisation step
    up = decode_waveform(flac, 48000)
    assert abs(len(up) - 3 * rate) <= 64
    assert np.abs(fit_length(up, 3 * rate)[::3][100:-100] - wave[100:-100]).max() < 0.02
    assert fit_length(own, rate + 10)[-10:].tolist() == [0.0] * 10
    assert np.array_equal(fit_length(own, 100, offset=5), own[5:105])
    with pytest.raises(AudioDecodeError, match="cannot decode flac"):
        decode_waveform(b"\x00" * 100)
    with pytest.raises(AudioDecodeError):
        flac_rate(b"\x00" * 100)
