"""Batched, differentiable image transforms on ``(B,3,H,W)`` tensors in [0,1].

Pure functions, no state: the augmenters in :mod:`fgav_augment.augmenters` compose them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

DEFAULT_DEGREES = 30.0
DEFAULT_BRIGHTNESS = 1.2
DEFAULT_HUE_SHIFT = 0.1  # a tenth of the hue circle: 36 degrees


def vflip(x: Tensor) -> Tensor:
    """The vertical flip (top and bottom swapped): ``x.flip(-2)``."""
    return x.flip(-2)


def hflip(x: Tensor) -> Tensor:
    """The horizontal flip (left and right swapped): ``x.flip(-1)``."""
    return x.flip(-1)


def rotate(x: Tensor, degrees: float = DEFAULT_DEGREES) -> Tensor:
    """Rotation by ``degrees`` counter-clockwise (as displayed) about the image centre.

    Bilinear sampling (``grid_sample``, pixel centres as in ``align_corners=False``);
    the corners that come from outside the image are filled by reflection, so no
    black border appears. A multiple of 90 degrees on a square image moves pixel
    centres onto pixel centres: ``rotate(x, 90)`` equals ``torch.rot90(x, 1, (-2, -1))``.
    """
    b, _, h, w = x.shape
    theta = math.radians(degrees)
    cos, sin = math.cos(theta), math.sin(theta)
    # The grid maps each output pixel to the input point it reads: the inverse rotation.
    # Normalized coordinates are scaled by the aspect so that a non-square image rotates rigidly.
    aspect = w / h
    matrix = torch.tensor(
        [[cos, -sin / aspect, 0.0], [sin * aspect, cos, 0.0]], dtype=x.dtype, device=x.device
    )
    grid = F.affine_grid(matrix.expand(b, 2, 3), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def brightness(x: Tensor, factor: float = DEFAULT_BRIGHTNESS) -> Tensor:
    """Every channel multiplied by ``factor``, clipped to [0,1]."""
    return (x * factor).clamp(0, 1)


def rgb_to_hsv(x: Tensor) -> Tensor:
    """RGB ``(..., 3, H, W)`` in [0,1] to HSV, each in [0,1] (hue as a fraction of the circle)."""
    r, g, b = x.unbind(dim=-3)
    maxc, _ = x.max(dim=-3)
    minc, _ = x.min(dim=-3)
    chroma = maxc - minc
    flat = chroma == 0
    ones = torch.ones_like(maxc)
    s = chroma / torch.where(flat, ones, maxc)
    c = torch.where(flat, ones, chroma)
    rc, gc, bc = (maxc - r) / c, (maxc - g) / c, (maxc - b) / c
    is_r = maxc == r
    is_g = (maxc == g) & ~is_r
    is_b = ~is_g & ~is_r
    h = is_r * (bc - gc) + is_g * (2.0 + rc - bc) + is_b * (4.0 + gc - rc)
    h = torch.fmod(h / 6.0 + 1.0, 1.0)
    return torch.stack((h, s, maxc), dim=-3)


def hsv_to_rgb(x: Tensor) -> Tensor:
    """HSV ``(..., 3, H, W)`` (each in [0,1]) to RGB in [0,1]."""
    h, s, v = x.unbind(dim=-3)
    sector = torch.floor(h * 6.0)
    f = h * 6.0 - sector
    sector = sector.long() % 6
    p = (v * (1.0 - s)).clamp(0, 1)
    q = (v * (1.0 - s * f)).clamp(0, 1)
    t = (v * (1.0 - s * (1.0 - f))).clamp(0, 1)
    # One row per hue sector (0-5): which of v, p, q, t each channel takes there.
    table = (
        torch.stack((v, q, p, p, t, v), dim=-3),
        torch.stack((t, v, v, q, p, p), dim=-3),
        torch.stack((p, p, t, v, v, q), dim=-3),
    )
    pick = (sector.unsqueeze(-3) == torch.arange(6, device=x.device).view(6, 1, 1)).to(x.dtype)
    return torch.stack([(channel * pick).sum(dim=-3) for channel in table], dim=-3)


def hue(x: Tensor, shift: float = DEFAULT_HUE_SHIFT) -> Tensor:
    """The hue turned by ``shift`` (a fraction of the colour circle), saturation and value kept."""
    hsv = rgb_to_hsv(x)
    h = torch.remainder(hsv[..., 0:1, :, :] + shift, 1.0)
    return hsv_to_rgb(torch.cat((h, hsv[..., 1:, :, :]), dim=-3)).clamp(0, 1)


__all__ = [
    "DEFAULT_BRIGHTNESS",
    "DEFAULT_DEGREES",
    "DEFAULT_HUE_SHIFT",
    "brightness",
    "hflip",
    "hsv_to_rgb",
    "hue",
    "rgb_to_hsv",
    "rotate",
    "vflip",
]
