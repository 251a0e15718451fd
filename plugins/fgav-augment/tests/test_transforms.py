"""The transforms of fgav-augment, checked by hand: flips, rotation, brightness, hue."""

from __future__ import annotations

import colorsys
import math

import pytest
import torch

from fgav_augment import transforms as T


def _images(n: int = 3, size: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_flips_swap_rows_and_columns() -> None:
    x = _images()
    assert torch.equal(T.vflip(x)[:, :, 0], x[:, :, -1])
    assert torch.equal(T.hflip(x)[..., 0], x[..., -1])
    assert torch.equal(T.vflip(T.vflip(x)), x)


@pytest.mark.parametrize(("degrees", "k"), [(90, 1), (180, 2), (-90, 3), (0, 0)])
def test_rotation_by_right_angles_equals_rot90(degrees: float, k: int) -> None:
    x = _images(size=12)
    assert torch.allclose(T.rotate(x, degrees), torch.rot90(x, k, (-2, -1)), atol=1e-5)


def _blob(size: int, cx: float, cy: float, sigma: float = 2.0) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                            indexing="ij")
    g = torch.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma**2))
    return g.expand(1, 3, size, size).clone()


def _centroid(img: torch.Tensor) -> tuple[float, float]:
    m = img[0, 0]
    ys, xs = torch.meshgrid(torch.arange(m.shape[0], dtype=torch.float32), torch.arange(m.shape[1], dtype=torch.float32),
                            indexing="ij")
    return float((m * xs).sum() / m.sum()), float((m * ys).sum() / m.sum())


def test_rotation_by_30_degrees_moves_a_point_counter_clockwise_about_the_centre() -> None:
    size, radius = 64, 16.0
    centre = (size - 1) / 2
    rotated = T.rotate(_blob(size, centre + radius, centre), 30)
    cx, cy = _centroid(rotated)
    # Counter-clockwise as displayed: the point right of the centre moves up (y grows downwards).
    assert cx == pytest.approx(centre + radius * math.cos(math.radians(30)), abs=0.3)
    assert cy == pytest.approx(centre - radius * math.sin(math.radians(30)), abs=0.3)


def test_rotation_fills_the_corners_by_reflection_not_black() -> None:
    x = torch.full((1, 3, 16, 16), 0.5)
    assert torch.allclose(T.rotate(x, 30), x, atol=1e-5)  # a flat image stays flat: no black corners


def test_brightness_by_hand() -> None:
    x = torch.tensor([0.5, 0.9, 0.1, 0.0]).view(1, 1, 2, 2).expand(1, 3, 2, 2)
    out = T.brightness(x, 1.2)
    assert torch.allclose(out[0, 0].flatten(), torch.tensor([0.6, 1.0, 0.12, 0.0]))


PIXELS = [(0.2, 0.5, 0.9), (0.9, 0.1, 0.3), (0.4, 0.4, 0.4), (1.0, 0.0, 0.0), (0.05, 0.7, 0.2), (0.6, 0.6, 0.1)]


def _as_image(pixels: list[tuple[float, float, float]]) -> torch.Tensor:
    return torch.tensor(pixels).T.reshape(1, 3, len(pixels), 1)


def test_rgb_hsv_round_trip_agrees_with_colorsys() -> None:
    x = _as_image(PIXELS)
    hsv = T.rgb_to_hsv(x)[0, :, :, 0].T
    for got, pixel in zip(hsv.tolist(), PIXELS):
        assert got == pytest.approx(list(colorsys.rgb_to_hsv(*pixel)), abs=1e-6)
    assert torch.allclose(T.hsv_to_rgb(T.rgb_to_hsv(x)), x, atol=1e-6)


@pytest.mark.parametrize("shift", [0.1, 0.5, -0.25])
def test_hue_shift_agrees_with_colorsys(shift: float) -> None:
    out = T.hue(_as_image(PIXELS), shift)[0, :, :, 0].T
    for got, pixel in zip(out.tolist(), PIXELS):
        h, s, v = colorsys.rgb_to_hsv(*pixel)
        assert got == pytest.approx(list(colorsys.hsv_to_rgb((h + shift) % 1.0, s, v)), abs=1e-5)


def test_every_transform_is_differentiable() -> None:
    for transform in (T.vflip, T.hflip, T.rotate, T.brightness, T.hue):
        x = (_images(2, 8) * 0.8).requires_grad_(True)  # below 1/1.2: brightness does not clip
        transform(x).sum().backward()
        assert x.grad is not None and x.grad.abs().sum() > 0, transform.__name__
