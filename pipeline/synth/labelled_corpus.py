"""The labelled demo corpus: classification videos of the demo corpus's world, for downstream tests.

Each video is ONE scene of the demo corpus (pipeline.synth.demo_corpus): a shape of one colour
moving one way, sounding its colour's pitch in its shape's timbre, drawn and voiced by the same
renderer, so a model pretrained on the demo corpus has seen these things and read captions
that name them ("a red circle moves left"). The class is one attribute of the scene, the
colour by default (visible, audible and in every caption: the best candidate for zero-shot),
or the shape or the direction; the other two attributes vary within each class so that no
nuisance is constant. Videos last 6.4 s (two 3.2 s clips) and carry no captions: like
UCF101 or ESC-50, the labels are the only text.

`manifest.jsonl` has `id`, `video`, `label`, `split` (the first `per_class - val_per_class`
videos of a class are train, the rest val) and pass-through `colour`, `shape`, `direction`
(so any attribute can serve as the label). `concepts.json` records the classes. Same seed,
same bytes.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.synth.demo_corpus import (
    COLOURS,
    DIRECTIONS,
    SCENE_UNIT_S,
    SHAPES,
    SPEECH_TEMPLATE,
    Scene,
    VideoSpec,
    concept_table,
    render_audio,
    render_frames,
)
from pipeline.synth.media import write_frames_video

logger = logging.getLogger(__name__)

ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "colour": tuple(c.name for c in COLOURS),
    "shape": tuple(SHAPES),
    "direction": DIRECTIONS,
}
VIDEO_UNITS = 2  # 6.4 s: two clips per video (the probes average a video's clips)
_SEED_SALT = 7919  # keeps these videos' backgrounds and sizes apart from the demo corpus's


@dataclass(frozen=True)
class LabelledVideo:
    spec: VideoSpec
    label: str
    split: str


def plan_labelled(
    per_class: int = 12, val_per_class: int = 4, label_by: str = "colour", seed: int = 0
) -> list[LabelledVideo]:
    """Every video's scene, label and split (no files written).

    Video j of a class takes the other attributes' values j mod their counts, so within a
    class they cycle together (with the defaults, colour classes see all 3 x 4 shape x
    direction pairs exactly once).
    """
    if label_by not in ATTRIBUTES:
        raise ValueError(f"label_by must be one of {', '.join(ATTRIBUTES)}, got {label_by!r}")
    if per_class < 2 or not 1 <= val_per_class < per_class:
        raise ValueError(
            f"need per_class >= 2 and 1 <= val_per_class < per_class, got {per_class} and "
            f"{val_per_class}"
        )
    videos = []
    for c, label in enumerate(ATTRIBUTES[label_by]):
        for j in range(per_class):
            values = {
                name: label if name == label_by else options[j % len(options)]
                for name, options in ATTRIBUTES.items()
            }
            i = c * per_class + j
            rng = np.random.default_rng([seed, _SEED_SALT, i])
            scene = Scene(
                start=0.0,
                end=round(VIDEO_UNITS * SCENE_UNIT_S, 3),
                colour=values["colour"],
                shape=values["shape"],
                direction=values["direction"],
                text=SPEECH_TEMPLATE.format(**values),
                size=round(float(rng.uniform(0.2, 0.3)), 3),
                offset=round(float(rng.uniform(0.42, 0.58)), 3),
            )
            spec = VideoSpec(
                id=f"labelled_{i:03d}",
                width=320,
                height=240,
                fps=float(rng.choice([15.0, 20.0, 25.0])),
                sample_rate=int(rng.choice([44100, 48000])),
                channels=1,
                rotation=0,
                vfr=False,
                container="mp4",
                caption_format=None,
                speech=False,
                scenes=(scene,),
                variants=(),
                background_seed=int(rng.integers(2**31)),
            )
            split = "val" if j >= per_class - val_per_class else "train"
            videos.append(LabelledVideo(spec, label, split))
    return videos


def _write(video: LabelledVideo, out_dir: Path) -> dict:
    spec = video.spec
    path = Path("videos") / f"{spec.id}.mp4"
    write_frames_video(
        out_dir / path,
        render_frames(spec),
        spec.fps,
        (spec.width, spec.height),
        render_audio(spec),
        spec.sample_rate,
    )
    scene = spec.scenes[0]
    return {
        "id": spec.id,
        "video": path.as_posix(),
        "label": video.label,
        "split": video.split,
        "colour": scene.colour,
        "shape": scene.shape,
        "direction": scene.direction,
    }


def write_labelled_corpus(
    out_dir: str | Path,
    per_class: int = 12,
    val_per_class: int = 4,
    label_by: str = "colour",
    seed: int = 0,
    workers: int = 2,
) -> Path:
    """Write the labelled corpus under `out_dir`; return its manifest (written last, so its
    presence means the corpus is complete)."""
    out_dir = Path(out_dir)
    videos = plan_labelled(per_class, val_per_class, label_by, seed)
    (out_dir / "videos").mkdir(parents=True, exist_ok=True)
    manifest = out_dir / "manifest.jsonl"
    manifest.unlink(missing_ok=True)
    concepts = {
        **concept_table(),
        "label_by": label_by,
        "classes": list(ATTRIBUTES[label_by]),
        "per_class": {"train": per_class - val_per_class, "val": val_per_class},
        "clips_per_video": VIDEO_UNITS,
    }
    (out_dir / "concepts.json").write_text(json.dumps(concepts, indent=1) + "\n")
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        rows = []
        for done, row in enumerate(pool.map(lambda v: _write(v, out_dir), videos), 1):
            rows.append(row)
            if done % 12 == 0 or done == len(videos):
                logger.info(
                    "labelled corpus: %d/%d videos after %.1f s",
                    done, len(videos), time.monotonic() - t0,
                )  # fmt: skip
    tmp = manifest.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(manifest)
    logger.info(
        "labelled corpus: %d classes (by %s) x %d videos (%d val) in %s (%.1f s)",
        len(ATTRIBUTES[label_by]), label_by, per_class, val_per_class, out_dir,
        time.monotonic() - t0,
    )  # fmt: skip
    return manifest
