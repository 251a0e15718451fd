"""fgav-augment: the data-augmentation baselines of the paper's Tab. 2 as fgav augmenters.

``vflip``, ``hflip``, ``rotate30``, ``brightness``, ``hue`` and ``ensemble`` (the average
of the paper's three combinations), registered through the ``fgav`` entry-point group.
"""

from __future__ import annotations

import fgav

from fgav_augment.augmenters import (
    AUGMENTERS,
    Brightness,
    Ensemble,
    GeometricAugmenter,
    HorizontalFlip,
    Hue,
    Rotate30,
    VerticalFlip,
)


@fgav.hookimpl
def fgav_augmenters() -> list[type]:
    """Flips, rotation, brightness, hue and their ensemble (Tab. 2)."""
    return list(AUGMENTERS)


__all__ = [
    "AUGMENTERS",
    "Brightness",
    "Ensemble",
    "GeometricAugmenter",
    "HorizontalFlip",
    "Hue",
    "Rotate30",
    "VerticalFlip",
]
