"""fgav-cam: class activation maps of the live/spoof decision as fgav augmenters (Tab. 2).

``gradcam``, ``gradcam++``, ``scorecam``, ``ablationcam``, ``eigencam`` and ``layercam``
through the ``grad-cam`` package, registered through the ``fgav`` entry-point group.
``pytorch_grad_cam`` itself is imported only when a map is computed.
"""

from __future__ import annotations

import fgav

from fgav_cam.augmenter import (
    CAM_AUGMENTERS,
    DEFAULT_ALPHA,
    AblationCAMAugmenter,
    CAMAugmenter,
    EigenCAMAugmenter,
    GradCAMAugmenter,
    GradCAMPlusPlusAugmenter,
    LayerCAMAugmenter,
    LiveSpoofNet,
    ScoreCAMAugmenter,
)


@fgav.hookimpl
def fgav_augmenters() -> list[type]:
    """Grad-CAM, Grad-CAM++, Score-CAM, Ablation-CAM, Eigen-CAM and Layer-CAM (Tab. 2)."""
    return list(CAM_AUGMENTERS)


__all__ = [
    "CAM_AUGMENTERS",
    "DEFAULT_ALPHA",
    "AblationCAMAugmenter",
    "CAMAugmenter",
    "EigenCAMAugmenter",
    "GradCAMAugmenter",
    "GradCAMPlusPlusAugmenter",
    "LayerCAMAugmenter",
    "LiveSpoofNet",
    "ScoreCAMAugmenter",
]
