"""Decode a clip's `mp4` member to a uint8 frame array, cropped, resized and flipped on the way
(the trainer's clips: `decode_clip`), or as stored (`decode_frames`): the one mp4 decoder of
the format's readers (train/, the viewers, `vattclips.clips`).

Why an FFmpeg filter graph (crop -> scale -> hflip -> rgb24) rather than decoding to full-size
RGB and resizing in torch: swscale does crop, resize and colour conversion in one pass, and the
conversion of full-size frames to RGB was the slowest step (measured here: decode + full-size RGB
34 ms per 32-frame 340x256 clip, decode + graph to 224x224 RGB 21 ms, one core).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator

import av
import av.filter
import numpy as np

from vattclips.crop import CropBox


class VideoDecodeError(Exception):
    """An mp4 member that cannot be decoded into the asked number of frames."""


def frame_indices(available: int, wanted: int) -> np.ndarray:
    """`wanted` frame indices spread evenly over `available` frames (repeats when too few).

    E.g. 32 -> 16 takes every second frame, so the clip still spans its whole time window
    (and stays aligned with the audio of that window).
    """
    if available < 1 or wanted < 1:
        raise ValueError(f"need at least one frame, got available={available}, wanted={wanted}")
    # Centre of each of `wanted` equal bins over the source frames.
    idx = np.floor((np.arange(wanted) + 0.5) * available / wanted).astype(np.int64)
    return np.clip(idx, 0, available - 1)


def _build_graph(
    stream: av.video.stream.VideoStream,
    crop: CropBox | None,
    size: int | None,
    flip: bool,
    pixel_format: str = "gbrp",
) -> av.filter.Graph:
    graph = av.filter.Graph()
    nodes = [graph.add_buffer(template=stream)]
    if crop is not None:
        # Even offsets and sizes: yuv420p shares one chroma sample per 2x2 pixels, and FFmpeg's
        # crop rejects some odd boxes (a pixel less of crop changes nothing for augmentation).
        x, y = crop.x - crop.x % 2, crop.y - crop.y % 2
        w, h = max(2, crop.width - crop.width % 2), max(2, crop.height - crop.height % 2)
        nodes.append(graph.add("crop", f"{w}:{h}:{x}:{y}"))
    if size is not None:
        nodes.append(graph.add("scale", f"{size}:{size}:flags=bilinear"))
    if flip:
        nodes.append(graph.add("hflip"))
    # Planar RGB (G, B, R planes): copied plane by plane into the channels-first clip, where
    # packed rgb24 would need a transposing copy (measured: 16 vs 22 ms per 32-frame clip).
    # Frames as stored (no scale) are converted to packed rgb24: FFmpeg's unscaled yuv420p ->
    # gbrp conversion leaves the last columns black when the width is not a multiple of 16
    # (seen on an 86-pixel-wide clip: 6 black columns).
    nodes.append(graph.add("format", pixel_format))
    nodes.append(graph.add("buffersink"))
    for a, b in zip(nodes, nodes[1:]):
        a.link_to(b)
    graph.configure()
    return graph


def decode_clip(
    data: bytes,
    frames: int,
    size: int,
    crop_for: Callable[[int, int], CropBox] | None = None,
    flip: bool = False,
    span: tuple[int, int] | None = None,
) -> np.ndarray:
    """The clip as (3, frames, size, size) uint8 RGB, channels first as the model takes it.

    `crop_for(width, height)` returns the crop in source pixels (a function, because the frame
    size is only known once the file is open); None = the whole frame. Frames are taken evenly
    over the clip (`frame_indices`), or over `span` = (first, count) of its frames (a
    sub-window: temporal jitter); a file with fewer frames than its header says repeats its
    last one.
    """
    with _opened(data) as (container, stream):
        width, height = stream.codec_context.width, stream.codec_context.height
        crop = crop_for(width, height) if crop_for else CropBox(0, 0, width, height)
        graph = _build_graph(stream, crop, size, flip)

        def planes(frame: av.VideoFrame) -> np.ndarray:
            return _planes_rgb(graph, frame, size)

        return _decode(container, stream, frames, span, planes, (3, size, size), axis=1)


def decode_frames(data: bytes, frames: int | None = None) -> np.ndarray:
    """The frames of an mp4 as stored, (T, H, W, 3) uint8 RGB: every frame, or `frames` of them
    spread evenly over the clip (`frame_indices`)."""
    with _opened(data) as (container, stream):
        width, height = stream.codec_context.width, stream.codec_context.height
        graph = _build_graph(stream, None, None, False, "rgb24")

        def packed(frame: av.VideoFrame) -> np.ndarray:
            graph.push(frame)
            return graph.pull().to_ndarray()  # (H, W, 3)

        return _decode(container, stream, frames, None, packed, (height, width, 3), axis=0)


@contextlib.contextmanager
def _opened(
    data: bytes,
) -> Iterator[tuple[av.container.InputContainer, av.video.stream.VideoStream]]:
    try:
        container = av.open(io.BytesIO(data))
    except Exception as error:  # noqa: BLE001 - PyAV raises several types for bad input
        raise VideoDecodeError(f"cannot open mp4 ({len(data)} bytes): {error}") from error
    with container:
        if not container.streams.video:
            raise VideoDecodeError("mp4 has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "NONE"  # one core per loader worker; threads would oversubscribe
        yield container, stream


def _decode(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    frames: int | None,
    span: tuple[int, int] | None,
    convert: Callable[[av.VideoFrame], np.ndarray],
    frame_shape: tuple[int, ...],
    axis: int,
) -> np.ndarray:
    """`frames` converted frames (None: all) stacked along `axis` of the output."""
    if stream.frames > 0 and frames is not None:
        wanted = _pick(stream.frames, frames, span)
        return _decode_wanted(container, stream, convert, wanted, frame_shape, axis)
    # No frame count in the header (or every frame asked): convert every frame, then pick.
    every = [convert(frame) for frame in container.decode(stream)]
    if not every:
        raise VideoDecodeError("mp4 has no decodable frame")
    return np.stack([every[i] for i in _pick(len(every), frames, span)], axis=axis)


def _pick(available: int, frames: int | None, span: tuple[int, int] | None) -> np.ndarray:
    """Indices of the `frames` frames to keep (None: all), over all `available` or `span`."""
    if span is None:
        return frame_indices(available, available if frames is None else frames)
    first = min(max(0, span[0]), available - 1)
    count = max(1, min(span[1], available - first))
    return first + frame_indices(count, count if frames is None else frames)


def _decode_wanted(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    convert: Callable[[av.VideoFrame], np.ndarray],
    wanted: np.ndarray,
    frame_shape: tuple[int, ...],
    axis: int,
) -> np.ndarray:
    # Only the wanted frames are converted (all up to the last wanted are decoded: H.264
    # frames depend on each other), each straight into its slot of the clip.
    slots: dict[int, list[int]] = {}
    for t, i in enumerate(wanted.tolist()):
        slots.setdefault(i, []).append(t)
    shape = list(frame_shape)
    shape.insert(axis, len(wanted))
    out = np.empty(shape, np.uint8)  # e.g. (3, T, H, W) with axis 1
    clip = np.moveaxis(out, axis, 0)  # a view: clip[t] is frame t of `out`
    filled = 0  # output frames written so far, in order
    for i, frame in enumerate(container.decode(stream)):
        if i > wanted[-1]:
            break
        if i in slots:
            first, *repeats = slots[i]
            clip[first] = convert(frame)
            for t in repeats:
                clip[t] = clip[first]
            filled = slots[i][-1] + 1
    if filled == 0:
        raise VideoDecodeError("mp4 has no decodable frame")
    clip[filled:] = clip[filled - 1 : filled]  # a truncated file repeats its last frame
    return out


def _planes_rgb(graph: av.filter.Graph, frame: av.VideoFrame, size: int) -> np.ndarray:
    """`frame` through the graph, as (3, size, size) uint8 RGB."""
    graph.push(frame)
    rgb = graph.pull()  # gbrp: planes G, B, R; rows may be padded to line_size
    out = np.empty((3, size, size), np.uint8)
    for channel, plane in zip((1, 2, 0), rgb.planes):
        out[channel] = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:size, :size]
    return out
