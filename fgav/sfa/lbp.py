"""The texture filter T(x) of SFA: local binary patterns, batched in torch (GPU-able).

It reproduces ``skimage.feature.local_binary_pattern(gray, P=8, R=1, method="default")``:
neighbour ``i`` sits at angle ``2*pi*i/8`` (row offset ``-sin``, column offset ``cos``,
both rounded to 5 decimals as scikit-image does), diagonal neighbours are bilinearly
interpolated from their four pixels, bit ``i`` (weight ``2**i``) is set where the
neighbour is ``>=`` the centre, and pixels outside the image read as 0.

The code is piecewise constant in the image: it carries no gradient. SFA uses it as a
gate on the VAE's map, so it is computed under ``torch.no_grad``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from fgav.core.errors import FgavError

# scikit-image's rgb2gray weights (ITU-R BT.709).
GRAY_WEIGHTS = (0.2125, 0.7154, 0.0721)
POINTS = 8


def _offsets() -> list[tuple[float, float]]:
    """Row and column offsets of the 8 neighbours, in scikit-image's order and rounding."""
    angles = [2 * math.pi * i / POINTS for i in range(POINTS)]
    return [(round(-math.sin(a), 5) + 0.0, round(math.cos(a), 5) + 0.0) for a in angles]


def to_gray(x: Tensor) -> Tensor:
    """Grayscale ``(B,1,H,W)`` of ``(B,3,H,W)`` images by scikit-image's weights (or ``x`` if one channel)."""
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise FgavError(f"lbp expects images (B,3,H,W) or (B,1,H,W), not shape {tuple(x.shape)}")
    if x.shape[1] == 1:
        return x
    w = torch.tensor(GRAY_WEIGHTS, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


@torch.no_grad()
def lbp(x: Tensor) -> Tensor:
    """LBP codes / 255 (8 neighbours, radius 1) of images in [0,1], shape ``(B,1,H,W)``.

    Args:
        x: images ``(B,3,H,W)`` (turned grayscale by scikit-image's ``rgb2gray``
            weights) or ``(B,1,H,W)``, floats in [0,1].

    Returns:
        The codes divided by 255, in [0,1], on ``x``'s device, without gradient.
        On 8-bit images they equal scikit-image's ``local_binary_pattern(gray, 8, 1)``
        on interior pixels; only exact ties of an interpolated diagonal neighbour
        with the centre (flat regions of a photograph) may break the other way.

    Raises:
        FgavError: ``x`` is not a batch of 1- or 3-channel images.
    """
    if not torch.is_floating_point(x):
        raise FgavError(f"lbp expects float images in [0,1], not dtype {x.dtype}")
    gray = to_gray(x.detach())
    if gray.dtype not in (torch.float32, torch.float64):
        gray = gray.float()
    height, width = gray.shape[-2:]
    padded = F.pad(gray, (1, 1, 1, 1), value=0.0)  # scikit-image's constant mode, cval 0

    def shifted(dr: int, dc: int) -> Tensor:
        """The image moved so that pixel (r, c) reads (r + dr, c + dc)."""
        return padded[..., 1 + dr : 1 + dr + height, 1 + dc : 1 + dc + width]

    codes = torch.zeros_like(gray)
    for bit, (rp, cp) in enumerate(_offsets()):
        r0, c0 = math.floor(rp), math.floor(cp)
        r1, c1 = math.ceil(rp), math.ceil(cp)
        dr, dc = rp - r0, cp - c0
        # Interpolate differences from the centre, not values: a flat patch then gives
        # an exact 0 (bit set), as scikit-image's float64 arithmetic does.
        top = (1 - dc) * (shifted(r0, c0) - gray) + dc * (shifted(r0, c1) - gray)
        bottom = (1 - dc) * (shifted(r1, c0) - gray) + dc * (shifted(r1, c1) - gray)
        diff = (1 - dr) * top + dr * bottom
        codes += (diff >= 0).to(gray.dtype) * float(2**bit)
    return (codes / 255.0).to(x.dtype)
