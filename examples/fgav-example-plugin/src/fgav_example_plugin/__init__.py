"""A minimal third-party fgav plugin: a tiny CNN backbone and a face-brightness head.

Installed with ``pip install -e examples/fgav-example-plugin``, it is found through the
``fgav`` entry-point group; fgav itself is not changed.
"""

from __future__ import annotations

from typing import Any, ClassVar

import fgav
from torch import Tensor, nn


class TinyCNN(fgav.Backbone):
    """A three-layer CNN at stride 8: a fast backbone for experiments and tests."""

    name: ClassVar[str] = "example-tinycnn"

    def __init__(self, *, width: int = 16, image_size: int = 64, **options: Any) -> None:
        super().__init__(**options)
        self.out_channels = 4 * width
        layers: list[nn.Module] = []
        channels = 3
        for out in (width, 2 * width, 4 * width):
            layers += [nn.Conv2d(channels, out, 3, stride=2, padding=1), nn.BatchNorm2d(out), nn.ReLU()]
            channels = out
        self.body = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Return the feature map ``(B, 4*width, H/8, W/8)``."""
        return self.body(x)


class BrightnessHead(fgav.AuxHead):
    """Mean face brightness, regressed from the image itself (no label needed; MSE)."""

    name: ClassVar[str] = "example-brightness"
    target_key: ClassVar[str] = ""  # target() computes the ground truth from the image
    loss_weight: ClassVar[float] = 0.1

    def __init__(self, in_channels: int, **options: Any) -> None:
        super().__init__(in_channels, **options)
        self.fc = nn.Linear(in_channels, 1)

    def forward(self, features: Tensor) -> Tensor:
        """Return the predicted brightness ``(B, 1)``."""
        return self.fc(features.mean(dim=(2, 3)))

    def target(self, batch: Any) -> Tensor:
        """The image's mean intensity ``(B, 1)``."""
        return batch["image"].float().mean(dim=(1, 2, 3)).unsqueeze(1)

    def loss(self, pred: Tensor, target: Tensor) -> Tensor:
        """Per-sample squared error ``(B,)``."""
        return (pred - target).pow(2).squeeze(1)


@fgav.hookimpl
def fgav_backbones() -> list[type]:
    """This plugin's backbone."""
    return [TinyCNN]


@fgav.hookimpl
def fgav_heads() -> list[type]:
    """This plugin's head."""
    return [BrightnessHead]


__all__ = ["BrightnessHead", "TinyCNN"]
