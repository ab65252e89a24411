"""The demo corpus: generated videos with planted, learnable links between the three modalities.

Each video is a run of SCENES of 3.2 s or 6.4 s starting at t=0, so the pipeline's 3.2 s clips
line up with scenes. A scene shows one large shape of one colour moving in one direction over a
mildly textured grey background. Its sound follows the object: the colour sets the pitch of a
tone, the shape its timbre (pure / odd harmonics / pulsed). Its caption names it, with varied
wording. So colour is visible, audible and written; shape is visible, audible and written;
direction is visible and written.

Most videos carry captions, in all the formats the pipeline reads (WebVTT, YouTube rolling
WebVTT, SRT, HowTo100M JSON, CSV). `speech_videos` have no captions: espeak-ng says each
scene's description, then the scene's tone follows, for the ASR path. `silent_videos` have no
audio stream. A few videos vary the technical side as web video does (sizes, portrait, display
rotation, variable frame rate, 5.1 or 8 kHz audio, WebM), all carrying the same planted content.

`manifest.jsonl` lists the videos with the ground truth in a pass-through column `scenes`;
`concepts.json` holds the concept table. Same seed, same files.
"""

from __future__ import annotations

import bisect
import csv
import json
import logging
import math
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.synth.media import read_wav, synth_speech, vfr_frame_time, write_frames_video

logger = logging.getLogger(__name__)

SCENE_UNIT_S = 3.2  # = the pipeline's default clip length; scenes last 1 or 2 units
VIDEO_UNITS = (4, 6)  # videos last 4-6 units: 12.8-19.2 s


@dataclass(frozen=True)
class Colour:
    name: str
    rgb: tuple[int, int, int]
    tone_hz: float  # fundamental of the scene's tone; all < 4 kHz so 8 kHz audio keeps them


# Ordered by hue, pitch rising with it; neighbours are ~1.5x apart (well separated at 16 kHz).
COLOURS: tuple[Colour, ...] = (
    Colour("red", (220, 30, 30), 330.0),
    Colour("orange", (245, 140, 20), 490.0),
    Colour("yellow", (240, 220, 40), 720.0),
    Colour("green", (40, 170, 50), 1050.0),
    Colour("blue", (30, 70, 220), 1530.0),
    Colour("purple", (140, 50, 180), 2240.0),
)
COLOUR_BY_NAME = {c.name: c for c in COLOURS}

# Shape -> timbre of its tone.
SHAPES: dict[str, str] = {
    "circle": "pure sine",
    "square": "odd harmonics 1/k (square-like), up to 7 kHz or 0.45 x the sample rate",
    "triangle": "sine pulsed 4 times a second",
}
DIRECTIONS = ("left", "right", "up", "down")

# Words a caption may use for each shape and direction (the test checks captions with these).
SHAPE_WORDS: dict[str, tuple[str, ...]] = {
    "circle": ("circle", "round shape", "ball", "disc"),
    "square": ("square", "box", "square block"),
    "triangle": ("triangle", "three-sided shape"),
}
DIRECTION_WORDS: dict[str, tuple[str, ...]] = {
    "left": ("left", "to the left", "leftward"),
    "right": ("right", "to the right", "rightward"),
    "up": ("up", "upward", "toward the top"),
    "down": ("down", "downward", "toward the bottom"),
}
CAPTION_TEMPLATES = (
    "a {colour} {shape} moves {direction}",
    "the {colour} {shape} is moving {direction}",
    "a {colour} {shape} going {direction}",
    "look, a {colour} {shape}, sliding {direction}",  # the comma exercises CSV quoting
    "here a {shape} in {colour} drifts {direction}",
)
SPEECH_TEMPLATE = "a {colour} {shape} moves {direction}"  # plain words that ASR knows

CAPTION_FORMATS = ("vtt", "srt", "json", "csv", "vtt_rolling")
_CAPTION_SUFFIX = {
    "vtt": ".vtt",
    "vtt_rolling": ".vtt",
    "srt": ".srt",
    "json": ".json",
    "csv": ".csv",
}

# Technical variants, most important first (a small corpus gets the first ones). Each goes to
# one video; "needs_audio" ones skip silent videos, "no_speech" ones skip speech videos.
_VARIANTS: tuple[tuple[str, bool, bool], ...] = (  # (name, needs_audio, no_speech)
    ("rotate90", False, False),
    ("vfr", False, False),
    ("surround51", True, False),
    ("audio8k", True, True),  # 8 kHz speech would be poor ASR input
    ("webm", False, False),
    ("portrait", False, False),
    ("hd360", False, False),
    ("portrait", False, False),
    ("hd360", False, False),
    ("hd360", False, False),
)

_TONE_LEVEL = 0.25
_SPEECH_PEAK = 0.7
_SPEECH_LEAD_S = 0.2  # speech starts this long into its scene
_TONE_AFTER_SPEECH_S = 0.15  # in speech videos the tone fills the scene once speech is over
_NOISE_LEVEL = 0.01
_FADE_S = 0.015  # ramps at scene edges so tone changes do not click


@dataclass(frozen=True)
class Scene:
    start: float
    end: float
    colour: str
    shape: str
    direction: str
    text: str  # the caption (or the spoken sentence in speech videos)
    size: float  # shape area as a fraction of the frame
    offset: float  # position across the motion axis, fraction of the frame


@dataclass(frozen=True)
class VideoSpec:
    id: str
    width: int  # display size
    height: int
    fps: float
    sample_rate: int
    channels: int  # 0 = no audio stream
    rotation: int
    vfr: bool
    container: str  # "mp4" or "webm"
    caption_format: str | None  # None: no captions file
    speech: bool
    scenes: tuple[Scene, ...]
    variants: tuple[str, ...]
    background_seed: int

    @property
    def duration(self) -> float:
        return self.scenes[-1].end


@dataclass
class _Assignment:
    speech: bool = False
    silent: bool = False
    variant: str = ""  # one of _VARIANTS' names, "" = none


class _Deck:
    """Draws items in shuffled rounds, so every item comes up about equally often across the
    corpus (uniform draws left some colour x shape pairs with 2 scenes in 150)."""

    def __init__(self, items: list, rng: np.random.Generator) -> None:
        self._items, self._rng, self._cards = items, rng, []

    def draw(self, avoid: object = None) -> Any:
        """The next card that is not `avoid` (a new shuffled round when none is left)."""
        while True:
            for k, card in enumerate(self._cards):
                if card != avoid:
                    return self._cards.pop(k)
            self._cards += [self._items[i] for i in self._rng.permutation(len(self._items))]


def _plan_scenes(
    rng: np.random.Generator, speech: bool, concepts: _Deck, directions: _Deck
) -> tuple[Scene, ...]:
    units = int(rng.integers(VIDEO_UNITS[0], VIDEO_UNITS[1] + 1))
    scenes: list[Scene] = []
    start_unit, previous = 0, None
    while start_unit < units:
        length = 2 if units - start_unit >= 2 and rng.random() < 0.3 else 1
        colour, shape = concepts.draw(avoid=previous)  # consecutive scenes differ
        direction = directions.draw()
        if speech:
            text = SPEECH_TEMPLATE.format(colour=colour, shape=shape, direction=direction)
        else:
            template = CAPTION_TEMPLATES[rng.integers(len(CAPTION_TEMPLATES))]
            shape_word = SHAPE_WORDS[shape][rng.integers(len(SHAPE_WORDS[shape]))]
            dir_words = DIRECTION_WORDS[direction]
            text = template.format(
                colour=colour, shape=shape_word, direction=dir_words[rng.integers(len(dir_words))]
            )
        scenes.append(
            Scene(
                start=round(start_unit * SCENE_UNIT_S, 3),
                end=round((start_unit + length) * SCENE_UNIT_S, 3),
                colour=colour,
                shape=shape,
                direction=direction,
                text=text,
                size=round(float(rng.uniform(0.2, 0.3)), 3),
                offset=round(float(rng.uniform(0.42, 0.58)), 3),
            )
        )
        start_unit += length
        previous = (colour, shape)
    return tuple(scenes)


def _assign(
    n_videos: int, speech_videos: int, silent_videos: int, rng: np.random.Generator
) -> list[_Assignment]:
    """Which videos speak, which are silent, which carry which technical variant."""
    if n_videos < 1 or speech_videos < 0 or silent_videos < 0:
        raise ValueError(
            f"bad demo corpus sizes: n_videos={n_videos} (>= 1), speech_videos={speech_videos}"
            f" and silent_videos={silent_videos} (>= 0)"
        )
    if speech_videos + silent_videos > n_videos:
        raise ValueError(
            f"speech_videos ({speech_videos}) + silent_videos ({silent_videos}) "
            f"exceed n_videos ({n_videos})"
        )
    slots = [_Assignment() for _ in range(n_videos)]
    order = rng.permutation(n_videos)
    for i in order[:speech_videos]:
        slots[i].speech = True
    for i in order[speech_videos : speech_videos + silent_videos]:
        slots[i].silent = True
    order = rng.permutation(n_videos)
    for name, needs_audio, no_speech in _VARIANTS:
        for i in order:
            s = slots[i]
            if s.variant or (needs_audio and s.silent) or (no_speech and s.speech):
                continue
            s.variant = name
            break
        else:
            logger.info("demo corpus: no video left for variant %s (corpus too small)", name)
    return slots


def plan_corpus(
    n_videos: int = 40, seed: int = 0, speech_videos: int = 6, silent_videos: int = 3
) -> list[VideoSpec]:
    """Decide every video's content and technical form (no files written)."""
    rng = np.random.default_rng(seed)
    slots = _assign(n_videos, speech_videos, silent_videos, rng)
    concepts = _Deck([(c.name, shape) for c in COLOURS for shape in SHAPES], rng)
    directions = _Deck(list(DIRECTIONS), rng)
    specs: list[VideoSpec] = []
    captioned = 0
    for i, slot in enumerate(slots):
        vrng = np.random.default_rng([seed, i])  # this video's form and wording
        variant = slot.variant
        # rotate90: a phone video, stored landscape and shown portrait.
        width, height = {"portrait": (240, 320), "rotate90": (240, 320), "hd360": (640, 360)}.get(
            variant, (320, 240)
        )
        fps = float(vrng.choice([15.0, 20.0, 25.0, 25.0, 30.0]))  # 3.2 s = a whole frame count
        if variant == "hd360":
            fps = 15.0  # keeps the big frames cheap to generate
        sample_rate = int(vrng.choice([44100, 48000]))
        channels = int(vrng.choice([1, 1, 2]))
        if variant == "surround51":
            channels = 6
        if variant == "audio8k":
            sample_rate = 8000
        if variant == "webm":
            sample_rate = 48000  # Opus
        if slot.silent:
            channels = 0
        caption_format = None
        if not slot.speech:
            caption_format = CAPTION_FORMATS[captioned % len(CAPTION_FORMATS)]
            captioned += 1
        kinds = ["speech"] * slot.speech + ["silent"] * slot.silent + [variant] * bool(variant)
        specs.append(
            VideoSpec(
                id=f"demo_{i:03d}",
                width=width,
                height=height,
                fps=fps,
                sample_rate=sample_rate,
                channels=channels,
                rotation=90 if variant == "rotate90" else 0,
                vfr=variant == "vfr",
                container="webm" if variant == "webm" else "mp4",
                caption_format=caption_format,
                speech=slot.speech,
                scenes=_plan_scenes(vrng, slot.speech, concepts, directions),
                variants=tuple(kinds),
                background_seed=int(vrng.integers(2**31)),
            )
        )
    return specs


# ---- pictures ---------------------------------------------------------------------------------


def _background(spec: VideoSpec) -> np.ndarray:
    """A static, low-saturation grey with a soft wave pattern and fine grain; (H, W, 3) uint8."""
    rng = np.random.default_rng(spec.background_seed)
    h, w = spec.height, spec.width
    grey = rng.uniform(70, 180) + rng.uniform(-12, 12, size=3)  # (3,)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle, period = rng.uniform(0, math.pi), rng.uniform(40, 120)
    wave = 10.0 * np.sin((xx * math.cos(angle) + yy * math.sin(angle)) * 2 * math.pi / period)
    grain = rng.normal(0.0, 3.0, size=(h, w, 1))
    img = grey[None, None, :] + wave[..., None] + grain  # (H, W, 3)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def shape_centre(scene: Scene, t: float, width: int, height: int) -> tuple[float, float]:
    """Where the shape's centre is (x, y in pixels) at time t: it crosses 30% of the frame
    along its direction during the scene, at `scene.offset` across it."""
    p = min(max((t - scene.start) / (scene.end - scene.start), 0.0), 1.0)
    along = 0.35 + 0.3 * p
    if scene.direction == "left":
        return (1.0 - along) * width, scene.offset * height
    if scene.direction == "right":
        return along * width, scene.offset * height
    if scene.direction == "up":
        return scene.offset * width, (1.0 - along) * height
    return scene.offset * width, along * height


def _shape_mask(
    shape: str, cx: float, cy: float, area: float, xx: np.ndarray, yy: np.ndarray
) -> np.ndarray:
    """Boolean (H, W) mask of a shape of `area` pixels centred at (cx, cy)."""
    dx, dy = xx - cx, yy - cy
    if shape == "circle":
        return dx * dx + dy * dy <= area / math.pi
    if shape == "square":
        half = math.sqrt(area) / 2
        return (np.abs(dx) <= half) & (np.abs(dy) <= half)
    # Equilateral triangle pointing up, its bounding box centred at (cx, cy) (not its
    # centroid, which would push the apex out of the frame): side a, height a*sqrt(3)/2.
    side = math.sqrt(4 * area / math.sqrt(3))
    tri_h = side * math.sqrt(3) / 2
    below_apex = dy + tri_h / 2
    return (dy <= tri_h / 2) & (below_apex >= math.sqrt(3) * np.abs(dx))


def render_frames(spec: VideoSpec) -> Iterator[np.ndarray]:
    """The video's frames in display orientation, (H, W, 3) uint8, each drawn for the time it
    is shown at (for a variable-frame-rate video, `vfr_frame_time`)."""
    background = _background(spec)
    yy, xx = np.mgrid[0 : spec.height, 0 : spec.width].astype(np.float32)
    starts = [s.start for s in spec.scenes]
    pixel = np.dtype((np.void, 3))
    rgb = {c.name: np.array(c.rgb, dtype=np.uint8).view(pixel)[0] for c in COLOURS}
    n_frames = round(spec.duration * spec.fps)
    for n in range(n_frames):
        t = vfr_frame_time(n, spec.fps) if spec.vfr else n / spec.fps
        scene = spec.scenes[max(bisect.bisect_right(starts, t) - 1, 0)]
        cx, cy = shape_centre(scene, t, spec.width, spec.height)
        area = scene.size * spec.width * spec.height
        # Test only the pixels of a box around the shape (its half-size <= sqrt(area) * 0.8).
        r = 0.8 * math.sqrt(area)
        x0, x1 = max(int(cx - r), 0), min(int(cx + r) + 2, spec.width)
        y0, y1 = max(int(cy - r), 0), min(int(cy + r) + 2, spec.height)
        frame = background.copy()
        box = frame[y0:y1, x0:x1]  # a view: writing it draws on the frame
        mask = _shape_mask(scene.shape, cx, cy, area, xx[y0:y1, x0:x1], yy[y0:y1, x0:x1])
        # Pixels as 3-byte items: one masked store instead of a masked store per channel.
        box.view(pixel)[..., 0][mask] = rgb[scene.colour]
        yield frame


# ---- sound ------------------------------------------------------------------------------------


def _tone(colour: str, shape: str, t: np.ndarray, sample_rate: int) -> np.ndarray:
    """The scene's tone over times t (s): pitch from the colour, timbre from the shape."""
    f0 = COLOUR_BY_NAME[colour].tone_hz
    phase = 2 * math.pi * f0 * t
    if shape == "square":
        top = min(7000.0, 0.45 * sample_rate)  # below Nyquist at 16 kHz and at this rate
        ks = [k for k in range(1, 40, 2) if k * f0 <= top]
        wave = sum(np.sin(k * phase) / k for k in ks)
        return wave / sum(1 / k for k in ks) * 1.3  # about the loudness of the sine
    wave = np.sin(phase)
    if shape == "triangle":
        wave = wave * np.clip(0.5 + 2.0 * np.sin(2 * math.pi * 4.0 * t), 0.0, 1.0)
    return wave


def _resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    # Linear interpolation: fine for espeak's 22 kHz speech going UP to 44.1/48 kHz.
    n_out = round(len(x) * rate_out / rate_in)
    return np.interp(np.arange(n_out) * rate_in / rate_out, np.arange(len(x)), x)


def render_audio(spec: VideoSpec, speech_dir: Path | None = None) -> np.ndarray | None:
    """The video's audio, float32 (n,) or (n, channels) in [-1, 1]; None for a silent video.
    Speech videos need `speech_dir`, a folder for espeak-ng's WAV files."""
    if spec.channels == 0:
        return None
    sr = spec.sample_rate
    n = round(spec.duration * sr)
    t = np.arange(n) / sr  # (n,)
    mono = np.zeros(n, dtype=np.float64)
    fade = round(_FADE_S * sr)
    for scene in spec.scenes:
        a, b = round(scene.start * sr), round(scene.end * sr)
        tone_from = 0
        if spec.speech:
            if speech_dir is None:
                raise ValueError(f"{spec.id} is a speech video: render_audio needs speech_dir")
            # A tone under the voice halves pocketsphinx's word accuracy (measured), so the
            # voice goes first and the scene's tone follows it.
            speech = _speech_for(scene, sr, b - a, speech_dir)
            mono[a : a + len(speech)] += speech
            tone_from = min(len(speech) + round(_TONE_AFTER_SPEECH_S * sr), b - a - 2 * fade)
        envelope = np.ones(b - a)
        envelope[:tone_from] = 0.0
        envelope[tone_from : tone_from + fade] = np.linspace(0.0, 1.0, fade)
        envelope[-fade:] = np.linspace(1.0, 0.0, fade)
        mono[a:b] += _TONE_LEVEL * envelope * _tone(scene.colour, scene.shape, t[a:b], sr)
    noise = np.random.default_rng(spec.background_seed + 1).normal(0.0, _NOISE_LEVEL, n)
    mono = (mono + noise).astype(np.float32)
    if spec.channels == 1:
        return mono
    if spec.channels == 6:
        # 5.1 (FL FR FC LFE BL BR): the voice of the scene in front, a little in the back.
        gains = np.array([0.6, 0.6, 0.8, 0.0, 0.25, 0.25], dtype=np.float32)
    else:
        gains = np.ones(spec.channels, dtype=np.float32)
    return mono[:, None] * gains[None, :]  # (n, channels)


def _speech_for(scene: Scene, sample_rate: int, n: int, speech_dir: Path) -> np.ndarray:
    """espeak-ng saying the scene's text after `_SPEECH_LEAD_S` of silence: at most n samples,
    ending where the speech ends."""
    lead = round(_SPEECH_LEAD_S * sample_rate)
    speech_dir.mkdir(parents=True, exist_ok=True)
    # Slow speech with short gaps between words suits pocketsphinx best (it then finds about
    # half of the colour/shape/direction words, measured on the default corpus); speak faster
    # only when a scene is too short for it.
    for wpm in (130, 160, 200):
        wav = speech_dir / f"{scene.text.replace(' ', '_')}_{wpm}.wav"
        if not wav.exists():
            synth_speech(scene.text, wav, words_per_minute=wpm, word_gap_ms=50)
        speech, rate = read_wav(wav)
        speech = _resample(speech, rate, sample_rate)
        if len(speech) <= n - lead - round(0.3 * sample_rate):
            break
    speech = speech[: n - lead] * (_SPEECH_PEAK / max(float(np.abs(speech).max()), 1e-6))
    return np.concatenate([np.zeros(lead), speech])


# ---- captions ---------------------------------------------------------------------------------


def _ts(seconds: float, sep: str = ".") -> str:
    ms = round(seconds * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _vtt_rolling(scenes: tuple[Scene, ...]) -> str:
    """YouTube auto-caption style: each cue repeats the previous line and reveals the new one
    word by word with inline timestamps; a 10 ms cue holds the finished line."""
    out = ["WEBVTT", "Kind: captions", "Language: en", ""]
    previous = " "
    for scene in scenes:
        words = scene.text.split()
        step = 0.6 * (scene.end - scene.start) / len(words)
        line = words[0] + "".join(
            f"<{_ts(scene.start + (i + 1) * step)}><c> {w}</c>" for i, w in enumerate(words[1:])
        )
        hold = round(scene.end - 0.01, 3)
        out += [f"{_ts(scene.start)} --> {_ts(hold)} align:start position:0%", previous, line, ""]
        out += [f"{_ts(hold)} --> {_ts(scene.end)} align:start position:0%", scene.text, " ", ""]
        previous = scene.text
    return "\n".join(out)


def write_captions(spec: VideoSpec, path: Path) -> Path:
    """Write the video's scene captions in `spec.caption_format`."""
    scenes, fmt = spec.scenes, spec.caption_format
    if fmt == "vtt":
        cues = [
            f"{i}\n{_ts(s.start)} --> {_ts(s.end)}\n{s.text}\n" for i, s in enumerate(scenes, 1)
        ]
        path.write_text("WEBVTT\n\n" + "\n".join(cues), encoding="utf-8")
    elif fmt == "vtt_rolling":
        path.write_text(_vtt_rolling(scenes), encoding="utf-8")
    elif fmt == "srt":
        cues = [
            f"{i}\r\n{_ts(s.start, ',')} --> {_ts(s.end, ',')}\r\n{s.text}\r\n"
            for i, s in enumerate(scenes, 1)
        ]
        # Windows-made SRT: CRLF, and a BOM on every other video.
        encoding = "utf-8-sig" if spec.background_seed % 2 else "utf-8"
        path.write_bytes("\r\n".join(cues).encode(encoding))
    elif fmt == "json":
        doc = {
            "start": [s.start for s in scenes],
            "end": [s.end for s in scenes],
            "text": [s.text for s in scenes],
        }
        path.write_text(json.dumps(doc), encoding="utf-8")
    elif fmt == "csv":
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["start", "end", "text"])
            writer.writerows([s.start, s.end, s.text] for s in scenes)
    else:
        raise ValueError(f"unknown caption format {fmt!r} for {spec.id}")
    return path


# ---- the corpus -------------------------------------------------------------------------------


def _write_video(spec: VideoSpec, out_dir: Path, speech_dir: Path) -> dict:
    """Write one video (and its captions); return its manifest row."""
    video = Path("videos") / f"{spec.id}.{spec.container}"
    write_frames_video(
        out_dir / video,
        render_frames(spec),
        spec.fps,
        (spec.width, spec.height),
        render_audio(spec, speech_dir),
        spec.sample_rate,
        rotation=spec.rotation,
        vfr=spec.vfr,
        container=spec.container,
    )
    row: dict = {"id": spec.id, "video": video.as_posix()}
    if spec.caption_format is not None:
        captions = Path("captions") / f"{spec.id}{_CAPTION_SUFFIX[spec.caption_format]}"
        write_captions(spec, out_dir / captions)
        row["captions"] = captions.as_posix()
    scene_keys = ("start", "end", "colour", "shape", "direction", "text")
    row["scenes"] = [{k: getattr(s, k) for k in scene_keys} for s in spec.scenes]
    row["variants"] = list(spec.variants)
    return row


def concept_table() -> dict:
    """The planted concepts: colours (RGB, tone), shapes (timbre), directions."""
    return {
        "scene_seconds": [SCENE_UNIT_S, 2 * SCENE_UNIT_S],
        "colours": [asdict(c) for c in COLOURS],
        "shapes": SHAPES,
        "directions": list(DIRECTIONS),
        "caption_formats": list(CAPTION_FORMATS),
    }


def write_demo_corpus(
    out_dir: str | Path,
    n_videos: int = 40,
    seed: int = 0,
    speech_videos: int = 6,
    silent_videos: int = 3,
    workers: int = 2,
) -> Path:
    """Write the demo corpus under `out_dir`; return the manifest path (out_dir/manifest.jsonl).

    The manifest is written last (under a temporary name, then renamed), so its presence means
    the corpus is complete. `workers` videos are made at a time (each is one ffmpeg process
    fed by a Python renderer)."""
    out_dir = Path(out_dir)
    specs = plan_corpus(n_videos, seed, speech_videos, silent_videos)
    (out_dir / "videos").mkdir(parents=True, exist_ok=True)
    (out_dir / "captions").mkdir(exist_ok=True)
    manifest = out_dir / "manifest.jsonl"
    manifest.unlink(missing_ok=True)
    (out_dir / "concepts.json").write_text(json.dumps(concept_table(), indent=1) + "\n")
    t0 = time.monotonic()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="demo_speech_") as speech_tmp:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            # One speech folder per video: threads never share a half-written WAV.
            jobs = [pool.submit(_write_video, s, out_dir, Path(speech_tmp, s.id)) for s in specs]
            for done, (spec, job) in enumerate(zip(specs, jobs), 1):
                rows.append(job.result())
                logger.info(
                    "demo corpus: %d/%d videos (%s, %.1f s, %s) after %.1f s",
                    done, len(specs), spec.id, spec.duration,
                    "+".join(spec.variants) or "plain", time.monotonic() - t0,
                )  # fmt: skip
    tmp = manifest.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(manifest)
    seconds = sum(s.duration for s in specs)
    logger.info(
        "demo corpus: %d videos, %.0f s of video in %s (%.1f s)",
        len(specs), seconds, out_dir, time.monotonic() - t0,
    )  # fmt: skip
    return manifest
