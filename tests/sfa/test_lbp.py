"""The LBP texture filter against scikit-image."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from skimage.color import rgb2gray
from skimage.feature import local_binary_pattern

from fgav.core.errors import FgavError
from fgav.sfa import lbp


def reference(gray: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-image warns about float input
        return local_binary_pattern(gray, P=8, R=1, method="default")


def codes(x: torch.Tensor) -> np.ndarray:
    return (lbp(x) * 255).round().squeeze(1).numpy()


def test_gray_noise_matches_scikit_image_exactly() -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 40, 48), dtype=np.uint8)
    ours = codes(torch.from_numpy(images).float().unsqueeze(1) / 255)
    ref = np.stack([reference(im) for im in images])
    assert np.array_equal(ours[:, 1:-1, 1:-1], ref[:, 1:-1, 1:-1])
    assert len(np.unique(ours)) > 200, "noise exercises nearly every code"


def test_rgb_noise_uses_rgb2gray_weights() -> None:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (2, 33, 35, 3), dtype=np.uint8)
    ours = codes(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255)
    ref = np.stack([reference(rgb2gray(im)) for im in images])
    assert np.array_equal(ours[:, 1:-1, 1:-1], ref[:, 1:-1, 1:-1])


def test_smooth_image_within_tie_tolerance() -> None:
    """A photo-like image with flat patches: only exact ties may break the other way (< 5%)."""
    rng = np.random.default_rng(2)
    coarse = torch.from_numpy(rng.random((1, 1, 8, 8))).float()
    smooth = torch.nn.functional.interpolate(coarse, size=(64, 64), mode="bilinear", align_corners=False)
    gray = (smooth[0, 0].numpy() * 255).round().astype(np.uint8)
    gray[10:20, 10:30] = 128  # a flat region: ties everywhere
    ours = codes(torch.from_numpy(gray)[None, None].float() / 255)[0]
    ref = reference(gray)
    mismatch = (ours[1:-1, 1:-1] != ref[1:-1, 1:-1]).mean()
    assert mismatch < 0.05
    assert np.array_equal(ours[11:19, 11:29], ref[11:19, 11:29]), "a flat patch is 255 in both"


def test_output_shape_range_and_no_gradient() -> None:
    x = torch.rand(2, 3, 16, 20, requires_grad=True)
    t = lbp(x)
    assert t.shape == (2, 1, 16, 20)
    assert t.min() >= 0 and t.max() <= 1
    assert not t.requires_grad, "the code is piecewise constant: it gates, it carries no gradient"
    flat = lbp(torch.full((1, 1, 5, 5), 0.3))[..., 1:-1, 1:-1]
    assert torch.equal(flat, torch.ones_like(flat)), "flat: every bit set (the border reads zeros outside)"


@pytest.mark.parametrize("shape", [(3, 16, 16), (2, 2, 8, 8)])
def test_bad_shapes_are_clear_errors(shape: tuple[int, ...]) -> None:
    with pytest.raises(FgavError, match="lbp expects"):
        lbp(torch.rand(*shape))
