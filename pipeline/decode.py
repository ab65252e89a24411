"""Cut every clip of one video from a single ffmpeg decode pass.

One ffmpeg process decodes the source once: its video goes through `fps` (constant rate from
any input, variable frame rates included), `scale` (display rotation is applied by ffmpeg's
autorotate before the filters) and out as raw yuv420p frames on stdout; its audio is mixed down
to mono, resampled and written as float32 PCM on a second pipe (and, when ASR is needed, as
16 kHz PCM to a local file). Python slices the two streams into the planned windows and
encodes each clip (H.264 mp4, FLAC) in-process with PyAV. Memory holds the frames of the
windows that are open (one clip, or a few when windows overlap), whatever the video's length.
A row's span (`start`/`end`) makes the pass seek to its start and stop after its last window;
an audio-only input (allowed by `--allow-audio-only`) has only the audio pipe.
"""

from __future__ import annotations

import ctypes
import functools
import io
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import av
import ffmpeg
import numpy as np

from clifields import option
from pipeline.clips import ClipSpec, Window, output_size
from pipeline.errors import StageError
from pipeline.ffmpeg_args import local_media_arg
from pipeline.ffmpeg_process import FfmpegProcess
from pipeline.probe import Probe

log = logging.getLogger(__name__)

ASR_SAMPLE_RATE = 16000


class Interrupted(BaseException):
    """ffmpeg was stopped by a signal sent from outside: the build is being stopped. A
    BaseException, so that the per-video `except Exception` does not record it as a failure."""


@dataclass(frozen=True)
class EncodeOptions:
    crf: int = option(23, help="H.264 quality of the clips (x264 CRF: lower is better, larger)")
    preset: str = option("veryfast", help="x264 preset of the clips (speed against size)")
    # no flag: parallelism comes from the runner's workers, one encoder thread each
    ffmpeg_threads: int = option(1, flag=None, help="encoder threads per clip")


@dataclass
class ClipMedia:
    window: Window
    width: int
    height: int
    mp4: bytes | None  # None: an audio-only input
    flac: bytes | None
    audio_padded: int  # samples of silence appended where the source audio ended early


class _AudioReader(threading.Thread):
    """Reads float32 PCM from a pipe into a buffer that the clip cutter takes windows from.

    It never blocks ffmpeg (the buffer is unbounded), so the two pipes cannot deadlock; the
    cutter trims what no open window needs, so the buffer holds only the interleaving skew.
    """

    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.buf = bytearray()
        self.base = 0  # sample index of buf[0]
        self.eof = False
        self.cond = threading.Condition()

    def run(self) -> None:
        with os.fdopen(self.fd, "rb", buffering=0) as f:
            while True:
                chunk = f.read(1 << 16)
                with self.cond:
                    if not chunk:
                        self.eof = True
                        self.cond.notify_all()
                        return
                    self.buf += chunk
                    self.cond.notify_all()

    def take(self, first: int, n: int) -> tuple[np.ndarray, int]:
        """Samples [first, first+n) as float32 and how many were padded with silence."""
        end_byte = (first + n - self.base) * 4
        with self.cond:
            while len(self.buf) < end_byte and not self.eof:
                self.cond.wait(timeout=1.0)
            lo = max(0, (first - self.base) * 4)
            data = bytes(self.buf[lo:end_byte])
        out = np.zeros(n, dtype=np.float32)
        got = np.frombuffer(data[: len(data) // 4 * 4], dtype=np.float32)
        out[: len(got)] = got
        return out, n - len(got)

    def trim(self, keep_from: int) -> None:
        with self.cond:
            drop = min(len(self.buf) // 4, max(0, keep_from - self.base))
            if drop:
                del self.buf[: drop * 4]
                self.base += drop


@functools.cache
def fill_new_heap_memory() -> None:
    """Have malloc fill the memory it hands out (glibc's M_PERTURB), once per process.

    libx264's macroblock-tree rate control reads heap memory it never wrote, so the same
    frames encoded to different bytes depending on what the process had allocated and freed
    before (measured: the first encode after other work differed, at any width; with
    `mbtree=0` it does not, but clips then grow 2.3x at the same crf). With every new block
    filled, a clip's bytes depend on its frames alone, and a resumed build equals an
    uninterrupted one. Costs a memset per allocation (no measurable change in encode time).
    """
    try:
        ctypes.CDLL(None).mallopt(-6, 0xA5)  # M_PERTURB = -6 (malloc.h)
    except (OSError, AttributeError):  # not glibc (macOS): nothing to set
        log.debug("mallopt(M_PERTURB) unavailable; encodes may vary between processes")


def encode_mp4(
    frames: list[bytes], width: int, height: int, fps: float, opts: EncodeOptions
) -> bytes:
    """Raw yuv420p frames -> H.264 mp4 bytes at a constant `fps`, no audio track."""
    fill_new_heap_memory()
    buf = io.BytesIO()
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.options = {
            "crf": str(opts.crf),
            "preset": opts.preset,
            "threads": "1",
        }
        for i, raw in enumerate(frames):
            plane = np.frombuffer(raw, dtype=np.uint8).reshape(height * 3 // 2, width)
            frame = av.VideoFrame.from_ndarray(plane, format="yuv420p")
            frame.pts, frame.time_base = i, 1 / rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def encode_flac(samples: np.ndarray, sample_rate: int) -> bytes:
    """Mono float waveform in [-1, 1] -> 16-bit FLAC bytes."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype(np.int16)
    buf = io.BytesIO()
    with av.open(buf, "w", format="flac") as out:
        stream = out.add_stream("flac", rate=sample_rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
        frame.sample_rate, frame.pts = sample_rate, 0
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def ffmpeg_command(
    path: str,
    probe: Probe,
    spec: ClipSpec,
    size: tuple[int, int] | None,
    until: float,
    audio_fd: int | None,
    asr_path: str | None,
    opts: EncodeOptions,
    seek: float = 0.0,
) -> list[str]:
    """The one decode pass: raw frames on stdout, PCM on `audio_fd`, 16 kHz PCM to `asr_path`.

    `seek` > 0 starts the pass that far into the source (input seeking: ffmpeg jumps to the
    keyframe before it, decodes from there and drops what precedes `seek`, so frame 0 and
    sample 0 of the outputs are at `seek`); `until` then counts from `seek`. `size` None:
    an audio-only input, no video output.

    The graph is built with ffmpeg-python and compiled to an argument list, which
    `FfmpegProcess` runs (ffmpeg-python's own runners cannot pass the audio pipe's descriptor,
    set a deadline or a session). Its filters form one `-filter_complex` graph (the same
    filters as `-vf`/`-af` chains: the same bytes out, tests/pipeline/test_decode.py); the
    global options, which ffmpeg-python places after the outputs, are given as strings.
    """
    inputs: dict = {"t": f"{until:.3f}", "threads": opts.ffmpeg_threads}
    if seek > 0:
        inputs["ss"] = f"{seek:.6f}"
    src = ffmpeg.input(local_media_arg(path), **inputs)
    outputs = []
    if size is not None:
        width, height = size
        fps = Fraction(spec.fps).limit_denominator(1001)
        video = (
            src["v:0"]
            .filter("fps", fps=str(fps), start_time=0)
            .filter("scale", width, height, flags="bilinear")
            .filter("setsar", 1)
            .filter("format", "yuv420p")
        )
        outputs.append(video.output("pipe:1", f="rawvideo"))
    if audio_fd is not None:
        outputs.append(_mono_pcm(src, spec.sample_rate, f"pipe:{audio_fd}", "f32le"))
    if asr_path is not None:
        outputs.append(_mono_pcm(src, ASR_SAMPLE_RATE, local_media_arg(asr_path), "s16le"))
    graph = ffmpeg.merge_outputs(*outputs).global_args(
        "-nostdin", "-hide_banner", "-loglevel", "error", "-filter_complex_threads", "1"
    )
    return graph.compile(overwrite_output=asr_path is not None)  # -y: the ASR file is ours


def _mono_pcm(src, rate: int, target: str, sample_format: str):
    """The first audio stream, resampled to `rate` from its first sample (gaps filled: async),
    mixed down to mono, as raw PCM of `sample_format` to `target`."""
    resampled = src["a:0"].filter("aresample", rate, **{"async": 1, "first_pts": 0})
    return resampled.output(target, ac=1, f=sample_format)


def _read_exact(stream: io.BufferedReader, buf: bytearray) -> bool:
    view, got = memoryview(buf), 0
    while got < len(buf):
        n = stream.readinto(view[got:])
        if not n:
            return False
        got += n
    return True


def cut_clips(
    path: str,
    source: str,
    probe: Probe,
    windows: list[Window],
    spec: ClipSpec,
    opts: EncodeOptions = EncodeOptions(),
    timeout: float = 600.0,
    asr_path: str | None = None,
) -> Iterator[ClipMedia]:
    """Yield the clips of `windows` (sorted by start) from one ffmpeg pass over `path`.

    The pass starts at the windows' `offset` (a span's start: ffmpeg seeks there). An
    audio-only probe gives clips with `mp4` None. Raises StageError("decode") after yielding
    what it could when ffmpeg fails, times out or the stream ends before the last window; the
    message says how many clips were lost.
    """
    if not windows:
        return
    size = output_size(probe.width, probe.height, spec.short_side) if probe.has_video else None
    width, height = size or (0, 0)
    until = windows[-1].end + 0.5
    audio_r = audio_w = None
    if probe.has_audio:
        audio_r, audio_w = os.pipe()
    cmd = ffmpeg_command(
        path,
        probe,
        spec,
        size,
        until,
        audio_w,
        asr_path if probe.has_audio else None,
        opts,
        seek=windows[0].offset,
    )
    proc = FfmpegProcess(cmd, timeout, (audio_w,) if audio_w is not None else ())
    audio = _AudioReader(audio_r) if audio_r is not None else None
    cut = _Cutter(windows, spec, opts, width, height, audio)
    try:
        if audio is not None:
            audio.start()
        if size is not None:
            yield from cut.video_clips(proc.stdout)
        elif audio is not None:
            yield from cut.audio_clips()
        # what is left (at most `until` - last end = 0.5 s) is drained: the ASR file is whole
        proc.finish()
    finally:
        proc.close()  # before the audio reader's join: a killed child ends its pipe
        if audio is not None:
            audio.join(timeout=5)
    if cut.done < len(windows):
        if proc.stopped_from_outside:
            # stopped from outside (Ctrl-C, a shutdown), not by this video: no failure row
            # may be committed for it, so the worker stops too and a re-run decodes it
            raise Interrupted(f"{source}: ffmpeg was stopped by signal {-proc.returncode}")
        lost = len(windows) - cut.done
        why = proc.failure()
        if why is None and size is None:
            why = f"the audio stream ended at {cut.audio_end:.2f}s of the decoded span"
        elif why is None:
            why = f"the video stream ended at frame {cut.frame} at {spec.fps:g} fps"
        # a timeout may pass on a less loaded worker; a broken stream will not
        raise StageError(
            "decode", f"{source}: {why}; {lost} of {len(windows)} clips lost", proc.timed_out
        )


class _Cutter:
    """Slices the decoded streams of one pass into the planned windows and encodes each clip."""

    def __init__(
        self,
        windows: list[Window],
        spec: ClipSpec,
        opts: EncodeOptions,
        width: int,
        height: int,
        audio: _AudioReader | None,
    ) -> None:
        self.windows, self.spec, self.opts = windows, spec, opts
        self.width, self.height, self.audio = width, height, audio
        self.done = 0  # clips yielded
        self.frame = 0  # frames read (video)
        self.audio_end = 0.0  # seconds of audio decoded when it ran short (audio-only)

    def _flac(self, w: Window, pending: list[Window]) -> tuple[bytes | None, int]:
        if self.audio is None:
            return None, 0
        pcm, padded = self.audio.take(w.first_sample, w.samples)
        self.audio.trim(pending[0].first_sample if pending else w.first_sample + w.samples)
        return encode_flac(pcm, self.spec.sample_rate), padded

    def video_clips(self, stdout: io.BufferedReader) -> Iterator[ClipMedia]:
        frame_bytes = self.width * self.height * 3 // 2
        pending = list(self.windows)
        open_frames: dict[int, list[bytes]] = {}
        scratch = bytearray(frame_bytes)
        last_needed = self.windows[-1].first_frame + self.windows[-1].frames
        while pending and self.frame < last_needed:
            idx = self.frame
            needed = any(w.first_frame <= idx < w.first_frame + w.frames for w in pending)
            buf = bytearray(frame_bytes) if needed else scratch
            if not _read_exact(stdout, buf):
                break
            if needed:
                raw = bytes(buf)
                for w in pending:
                    if w.first_frame <= idx < w.first_frame + w.frames:
                        open_frames.setdefault(w.clip, []).append(raw)
            self.frame += 1
            while pending and len(open_frames.get(pending[0].clip, ())) == pending[0].frames:
                w = pending.pop(0)
                frames = open_frames.pop(w.clip)
                mp4 = encode_mp4(frames, self.width, self.height, self.spec.fps, self.opts)
                flac, padded = self._flac(w, pending)
                self.done += 1
                yield ClipMedia(w, self.width, self.height, mp4, flac, padded)

    def audio_clips(self) -> Iterator[ClipMedia]:
        """Audio-only input: the audio stream is the clock; a window it does not reach (to
        within one frame period) is lost, as frames are for a video."""
        pending = list(self.windows)
        tolerance = int(self.spec.sample_rate / self.spec.fps)
        while pending:
            w = pending.pop(0)
            flac, padded = self._flac(w, pending)
            if padded > tolerance:
                self.audio_end = (w.first_sample + w.samples - padded) / self.spec.sample_rate
                return
            self.done += 1
            yield ClipMedia(w, 0, 0, None, flac, padded)
