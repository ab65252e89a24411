"""Write small `vatt-clips` datasets for tests: real H.264 mp4, real FLAC, real tars.

Each synthetic video has its own look (colour, shape, motion), sound (a tone) and words
("red circle moving left"), so a model can learn to match the three and retrieval has an
answer. A labelled spec writes `vatt-clips/2` (docs/shard-format.md): the planted class is the
video's colour (single-label: a `cls` member and json `label`/`label_index`) or its colour and
motion (multi-label: json lists only), its tone is the class's, and every `audio_only_every`-th
video is written as audio-only samples (no mp4, json `has_video` false). Geometry defaults are small so a dataset is written in a second or two; any reader of
the format (docs/shard-format.md) must accept them, since fps, frames, short side, sample rate
and samples are options of the format.
"""

from __future__ import annotations

import io
import json
import math
import tarfile
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import webdataset as wds

from vattclips.nearest import nearest_k
from vattclips.tables import FAILURES_SCHEMA

COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 200, 60),
    "blue": (50, 70, 230),
    "yellow": (230, 220, 40),
    "purple": (160, 50, 200),
    "orange": (240, 140, 30),
    "white": (235, 235, 235),
    "cyan": (40, 210, 220),
}
SHAPES = ("circle", "square")
MOTIONS = ("left", "right", "up", "down")


@dataclass(frozen=True)
class FixtureSpec:
    videos: int = 12
    clips_per_video: int = 4
    frames: int = 8
    fps: int = 10
    short_side: int = 64
    sample_rate: int = 16000
    neighbors: int = 5
    val_videos: int = 3  # the last ones go to val
    samples_per_shard: int = 12
    no_audio_every: int = 5  # every 5th video has no audio track
    labels: str = ""  # "" (unlabelled, vatt-clips/1), "single" (colour) or "multi" (+ motion)
    audio_only_every: int = 0  # labelled specs: every n-th video has no mp4 (0: none)

    @property
    def width(self) -> int:
        return int(round(self.short_side * 4 / 3 / 2)) * 2

    @property
    def clip_seconds(self) -> float:
        return self.frames / self.fps

    @property
    def samples(self) -> int:
        return int(round(self.clip_seconds * self.sample_rate))


def video_words(v: int) -> tuple[str, str, str]:
    colour = list(COLOURS)[v % len(COLOURS)]
    shape = SHAPES[(v // len(COLOURS)) % len(SHAPES)]
    motion = MOTIONS[(v // 2) % len(MOTIONS)]
    return colour, shape, motion


LABELLED = FixtureSpec(
    videos=24,
    clips_per_video=2,
    val_videos=8,
    labels="single",
    audio_only_every=7,
    samples_per_shard=8,
)  # 8 colours: 2 train + 1 val each
SMALL = FixtureSpec(samples_per_shard=6)  # 36 train clips in 6 shards, 12 val clips in 2


def video_labels(spec: FixtureSpec, v: int) -> list[str]:
    """The planted class names of video v: its colour (and its motion when multi-label)."""
    colour, _, motion = video_words(v)
    return [colour, motion] if spec.labels == "multi" else [colour]


def label_names(spec: FixtureSpec) -> list[str]:
    """dataset.json `labels`: the sorted set of all names, as the pipeline writes it."""
    return sorted({name for v in range(spec.videos) for name in video_labels(spec, v)})


def is_audio_only(spec: FixtureSpec, v: int) -> bool:
    n = spec.audio_only_every
    return bool(spec.labels) and n > 0 and v % n == n - 1


def encode_mp4(frames: np.ndarray, fps: int) -> bytes:
    """(T, H, W, 3) uint8 -> H.264 yuv420p mp4 bytes."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


def encode_flac(wave: np.ndarray, rate: int) -> bytes:
    """(S,) float in [-1, 1] -> 16-bit mono FLAC bytes."""
    pcm = (np.clip(wave, -1, 1) * 32767).astype(np.int16)[None]
    buf = io.BytesIO()
    with av.open(buf, "w", format="flac") as container:
        stream = container.add_stream("flac", rate=rate, layout="mono")
        stream.format = "s16"
        for i in range(0, pcm.shape[1], 4096):
            frame = av.AudioFrame.from_ndarray(pcm[:, i : i + 4096], format="s16", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


def render_clip(spec: FixtureSpec, v: int, clip: int) -> np.ndarray:
    colour, shape, motion = video_words(v)
    h, w = spec.short_side, spec.width
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(v * 1000 + clip)
    out = np.empty((spec.frames, h, w, 3), np.uint8)
    r = h // 5
    # A static texture (real footage is temporally coherent; per-frame noise would make H.264
    # decode far slower than on real clips) under a slow global brightness drift.
    texture = rng.integers(20, 50, (h, w, 3), dtype=np.uint8)
    for t in range(spec.frames):
        p = (clip * spec.frames + t) / (spec.clips_per_video * spec.frames)  # 0..1 over the video
        dx, dy = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}[motion]
        cx = w / 2 + dx * (p - 0.5) * (w - 2 * r)
        cy = h / 2 + dy * (p - 0.5) * (h - 2 * r)
        if shape == "circle":
            inside = (xx - cx) ** 2 + (yy - cy) ** 2 < r**2
        else:
            inside = (abs(xx - cx) < r) & (abs(yy - cy) < r)
        img = texture + np.uint8(t % 8)
        img[inside] = COLOURS[colour]
        out[t] = img
    return out


def render_audio(spec: FixtureSpec, v: int, clip: int) -> np.ndarray:
    t = (np.arange(spec.samples) + clip * spec.samples) / spec.sample_rate
    # Labelled: the tone of the class (its colour), so the audio tower has the label too.
    tone = list(COLOURS).index(video_words(v)[0]) if spec.labels else v
    freq = 220.0 * 2 ** (tone / 6.0)
    return (0.4 * np.sin(2 * math.pi * freq * t)).astype(np.float32)


def captions(spec: FixtureSpec, v: int) -> list[dict]:
    """One caption per half clip over the whole video."""
    colour, shape, motion = video_words(v)
    step = spec.clip_seconds / 2
    n = spec.clips_per_video * 2
    phrasing = ("a {c} {s} moving {m}", "the {c} {s} goes {m}", "{c} {s} {m}")
    return [
        {
            "start": round(i * step, 3),
            "end": round((i + 1) * step, 3),
            "text": phrasing[i % 3].format(c=colour, s=shape, m=motion),
        }
        for i in range(n)
    ]


def nearest(caps: list[dict], start: float, end: float, k: int) -> list[dict]:
    return nearest_k(caps, start, end, k, lambda c: (c["start"], c["end"]))


def make_sample(spec: FixtureSpec, v: int, clip: int) -> dict:
    video_id = f"vid{v:03d}"
    key = f"{video_id}_{clip:05d}"
    start, end = clip * spec.clip_seconds, (clip + 1) * spec.clip_seconds
    caps = captions(spec, v)
    segments = [c for c in caps if c["end"] > start and c["start"] < end]
    has_audio = (v % spec.no_audio_every) != spec.no_audio_every - 1
    audio_only = is_audio_only(spec, v)
    has_audio = has_audio or audio_only  # an audio-only sample always has its audio
    meta = {
        "schema": "vatt-clips/2" if spec.labels else "vatt-clips/1",
        "key": key,
        "video_id": video_id,
        "clip": clip,
        "source": f"synthetic://{video_id}.mp4",
        "start": start,
        "end": end,
        "fps": spec.fps,
        "frames": spec.frames,
        "width": spec.width,
        "height": spec.short_side,
        "sample_rate": spec.sample_rate,
        "samples": spec.samples,
        "has_audio": has_audio,
        "audio_padded": 0,
        "text_source": "captions:json",
        "segments": segments,
        "neighbors": nearest(caps, start, end, spec.neighbors),
        "probe": {},
        "meta": {},
    }
    sample = {"__key__": key, "txt": " ".join(c["text"] for c in segments).encode("utf-8")}
    if spec.labels:
        names, index = video_labels(spec, v), label_names(spec)
        indices = [index.index(n) for n in names]
        multi = spec.labels == "multi"
        meta["label"] = names if multi else names[0]
        meta["label_index"] = indices if multi else indices[0]
        meta["has_video"] = not audio_only
        if not multi:
            sample["cls"] = str(indices[0]).encode("utf-8")
    sample["json"] = json.dumps(meta).encode("utf-8")
    if not audio_only:
        sample["mp4"] = encode_mp4(render_clip(spec, v, clip), spec.fps)
    if has_audio:
        sample["flac"] = encode_flac(render_audio(spec, v, clip), spec.sample_rate)
    return sample


def write_tar(path: Path, samples: list[dict], in_key_order: bool = True) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    ordered = sorted(samples, key=lambda s: s["__key__"]) if in_key_order else samples
    with open(path, "wb") as f, wds.TarWriter(f, mtime=0) as writer:
        for sample in ordered:
            writer.write(sample)
    return path.stat().st_size


def write_dataset(root: Path, spec: FixtureSpec = FixtureSpec()) -> Path:
    """A complete dataset root: shards/, dataset.json, index.parquet, failures.parquet."""
    root = Path(root)
    by_split: dict[str, list[dict]] = {"train": [], "val": []}
    for v in range(spec.videos):
        split = "val" if v >= spec.videos - spec.val_videos else "train"
        for clip in range(spec.clips_per_video):
            by_split[split].append(make_sample(spec, v, clip))
    shards, rows = [], []
    for split, samples in by_split.items():
        for n, i in enumerate(range(0, len(samples), spec.samples_per_shard)):
            chunk = samples[i : i + spec.samples_per_shard]
            name = f"shards/{split}-{n:06d}.tar"
            size = write_tar(root / name, chunk)
            shards.append({"name": name, "split": split, "samples": len(chunk), "bytes": size})
            for s in chunk:
                meta = json.loads(s["json"])
                rows.append(
                    {
                        "key": s["__key__"],
                        "shard": name,
                        "split": split,
                        "video_id": meta["video_id"],
                        "source": meta["source"],
                        "clip": meta["clip"],
                        "start": meta["start"],
                        "end": meta["end"],
                        "has_audio": meta["has_audio"],
                        "text_chars": len(s["txt"]),
                        "n_segments": len(meta["segments"]),
                        "n_neighbors": len(meta["neighbors"]),
                    }
                )
    summary = {
        "schema": "vatt-clips/2" if spec.labels else "vatt-clips/1",
        "created_by": "tests/train/shardgen.py",
        "options": {
            "clip_seconds": spec.clip_seconds,
            "fps": spec.fps,
            "frames": spec.frames,
            "short_side": spec.short_side,
            "sample_rate": spec.sample_rate,
            "samples": spec.samples,
            "neighbors": spec.neighbors,
        },
        "counts": {
            "videos_in": spec.videos,
            "videos_ok": spec.videos,
            "videos_failed": 0,
            "samples": len(rows),
            "samples_by_split": {k: len(v) for k, v in by_split.items()},
        },
        "shards": shards,
    }
    if spec.labels:
        summary["labels"] = label_names(spec)
        summary["multi_label"] = spec.labels == "multi"
    (root / "dataset.json").write_text(json.dumps(summary, indent=1))
    pq.write_table(pa.Table.from_pylist(rows), root / "index.parquet")
    pq.write_table(FAILURES_SCHEMA.empty_table(), root / "failures.parquet")
    return root


def write_layout_dataset(
    root: Path, videos: int, clips_per_video: int, shard_samples: int, spread: bool = True
) -> Path:
    """A train split of `videos` videos of `clips_per_video` clips whose samples hold only a
    `json` member (video id, clip): for measuring how the sampling stages mix clips
    (`ClipStream.video_id_batches` never decodes), at realistic counts (HowTo100M: ~120 clips
    per video) that media would make slow to write.

    `spread`: clips placed as the shard builder places them (`pipeline.shards`, the same plan);
    else side by side in video order, the layout of builds before clips were spread.
    """
    from pipeline.records import VideoRecord
    from pipeline.shards import assign_in_memory
    from vattclips.schema import shard_name

    root = Path(root)
    ids = [f"vid{v:05d}" for v in range(videos)]
    if spread:
        records = [
            VideoRecord(
                vid,
                0,
                vid,
                "train",
                clips_per_video,
                clips_per_video,
                spill=vid,
                offsets=list(range(clips_per_video + 1)),
            )
            for vid in ids
        ]
        plan = assign_in_memory(records, shard_samples, 1 << 40)
        layout = [[(c.video_id, c.start) for c in refs] for refs in plan.values()]
    else:
        clips = [(vid, c) for vid in ids for c in range(clips_per_video)]
        layout = [clips[i : i + shard_samples] for i in range(0, len(clips), shard_samples)]
    shards, rows = [], []
    for n, members in enumerate(layout):
        name = shard_name("train", n)
        samples = [
            {"__key__": f"{vid}_{c:05d}", "json": json.dumps({"video_id": vid, "clip": c}).encode()}
            for vid, c in members
        ]
        size = write_tar(root / name, samples, in_key_order=False)
        shards.append({"name": name, "split": "train", "samples": len(samples), "bytes": size})
        rows += [
            {"key": s["__key__"], "shard": name, "split": "train", "video_id": vid}
            for s, (vid, _) in zip(samples, members)
        ]
    summary = {"schema": "vatt-clips/1", "created_by": "tests/train/shardgen.py", "shards": shards}
    (root / "dataset.json").write_text(json.dumps(summary, indent=1))
    pq.write_table(pa.Table.from_pylist(rows), root / "index.parquet")
    return root


def truncate(path: Path, keep_fraction: float = 0.5) -> None:
    """Cut a file short, as an interrupted upload would (a corrupt shard)."""
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: int(len(data) * keep_fraction)])


def tar_members(path: Path) -> list[str]:
    with tarfile.open(path) as tar:
        return tar.getnames()
