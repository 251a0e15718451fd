"""The geometric map heads: depth and reflection (Eq. 9), a conv then an upsample."""

from __future__ import annotations

from typing import Any, ClassVar

import torch.nn.functional as F
from torch import Tensor, nn

from fgav.core.interfaces import AuxHead


class MapHead(AuxHead):
    """A geometric map: a 3x3 conv, then a bilinear upsample to ``map_size``; MSE."""

    channels: ClassVar[int] = 1

    def __init__(self, in_channels: int, *, map_size: int = 14, channels: int | None = None, **options: Any) -> None:
        """Build the map generator.

        Args:
            in_channels: the backbone's channels.
            map_size: the side of the square output map (the paper's 14).
            channels: the map's channels (default: the class's).
        """
        super().__init__(in_channels, **options)
        self.map_size = int(map_size)
        self.out_channels = int(channels or self.channels)
        self.conv = nn.Conv2d(in_channels, self.out_channels, kernel_size=3, padding=1)

    def forward(self, features: Tensor) -> Tensor:
        """Return the map ``(B, channels, map_size, map_size)``."""
        size = (self.map_size, self.map_size)
        return F.interpolate(self.conv(features), size=size, mode="bilinear", align_corners=False)

    def target(self, batch: Any) -> Tensor:
        """The ground-truth map, resized (area) to ``map_size`` and matched in channels."""
        target = batch[self.target_key].float()
        if target.dim() == 3:
            target = target.unsqueeze(1)
        if target.shape[-2:] != (self.map_size, self.map_size):
            target = F.adaptive_avg_pool2d(target, self.map_size)
        if target.shape[1] != self.out_channels:
            target = target.mean(dim=1, keepdim=True).expand(-1, self.out_channels, -1, -1)
        return target

    def loss(self, pred: Tensor, target: Tensor) -> Tensor:
        """Per-sample mean squared error, shape ``(B,)``."""
        return (pred.float() - target.float()).pow(2).flatten(1).mean(dim=1)


class DepthHead(MapHead):
    """Depth map: the face's depth for live images, zero for spoof (14x14, MSE)."""

    name: ClassVar[str] = "depth"
    target_key: ClassVar[str] = "depth"
    loss_weight: ClassVar[float] = 0.1


class ReflectionHead(MapHead):
    """Reflection map: the reflection layer for spoof images, zero for live (14x14, MSE)."""

    name: ClassVar[str] = "reflection"
    target_key: ClassVar[str] = "reflection"
    loss_weight: ClassVar[float] = 0.1
