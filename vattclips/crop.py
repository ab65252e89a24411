"""A crop of a clip's frames in pixels: what the trainer's augmentation chooses and the mp4
decoder (`vattclips.video`) applies. Its own module, free of PyAV, so that code which only plans
crops (`train/augment.py`, hence the training step and `bench/model_gpu.py` on a GPU machine
that has no PyAV) does not load the decoder."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CropBox:
    """A crop of the source frame in pixels (x, y = top-left corner)."""

    x: int
    y: int
    width: int
    height: int
