"""Pixel grids, soft shapes, smooth noise and the perspective warp SynthSpoof draws with.

Every renderer works in normalized image coordinates: x and y run from -1 (left, top)
to 1 (right, bottom) over pixel centres, whatever the image size, so the same scene
draws at any resolution. Arrays are float32: at 64 px numpy's per-call overhead, not
arithmetic, is the cost, so shapes are few broadcast expressions, never loops.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

F32 = np.float32
# The clip ufunc itself: np.clip's Python wrapper costs more than the work on 64x64.
clip = getattr(np, "_core", np).umath.clip


@lru_cache(maxsize=16)
def pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """The normalized (x, y) coordinates of a size x size image's pixel centres."""
    c = ((np.arange(size, dtype=F32) + F32(0.5)) / F32(size)) * F32(2) - F32(1)
    x, y = np.meshgrid(c, c)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def soft(d: np.ndarray, width: float) -> np.ndarray:
    """A coverage in [0, 1] from a signed distance (positive inside), ramped over `width`.

    The ramp of about one pixel is the renderer's anti-aliasing.
    """
    return clip(d * F32(1.0 / width) + F32(0.5), F32(0), F32(1))


def gradient(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Central differences (d/dy, d/dx) per pixel, one-sided at the border (np.gradient's)."""
    gy = np.empty_like(a)
    gx = np.empty_like(a)
    gy[1:-1] = (a[2:] - a[:-2]) * F32(0.5)
    gy[0], gy[-1] = a[1] - a[0], a[-1] - a[-2]
    gx[:, 1:-1] = (a[:, 2:] - a[:, :-2]) * F32(0.5)
    gx[:, 0], gx[:, -1] = a[:, 1] - a[:, 0], a[:, -1] - a[:, -2]
    return gy, gx


def gauss(x: np.ndarray, y: np.ndarray, cx: float, cy: float, sx: float, sy: float) -> np.ndarray:
    """An axis-aligned Gaussian bump of height 1 centred at (cx, cy)."""
    return np.exp(-(((x - F32(cx)) / F32(sx)) ** 2) - ((y - F32(cy)) / F32(sy)) ** 2)


@lru_cache(maxsize=64)
def _interp_matrix(size: int, cells: int) -> np.ndarray:
    """The (size, cells) matrix that linearly interpolates `cells` samples to `size` pixels."""
    pos = (np.arange(size) + 0.5) / size * (cells - 1)
    lo = np.clip(np.floor(pos).astype(int), 0, cells - 2)
    frac = pos - lo
    m = np.zeros((size, cells), dtype=F32)
    m[np.arange(size), lo] = 1 - frac
    m[np.arange(size), lo + 1] += frac
    return m


def smooth_noise(rng: np.random.Generator, size: int, cells: int, channels: int = 0) -> np.ndarray:
    """Value noise in [0, 1], (size, size) or (channels, size, size): a lattice upsampled.

    Two small matrix products instead of a resize call keep it cheap.
    """
    m = _interp_matrix(size, cells)
    if channels:
        lattice = rng.random((channels, cells, cells), dtype=F32)
        return m @ lattice @ m.T  # (channels, size, size)
    return m @ rng.random((cells, cells), dtype=F32) @ m.T


def homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 3x3 projective map that takes the four points `src` (4, 2) to `dst` (4, 2)."""
    a = np.zeros((8, 8))
    b = np.zeros(8)
    for i, ((sx, sy), (dx, dy)) in enumerate(zip(src, dst)):
        a[2 * i] = [sx, sy, 1, 0, 0, 0, -dx * sx, -dx * sy]
        a[2 * i + 1] = [0, 0, 0, sx, sy, 1, -dy * sx, -dy * sy]
        b[2 * i], b[2 * i + 1] = dx, dy
    return np.append(np.linalg.solve(a, b), 1.0).reshape(3, 3)


def warp_onto_quad(
    texture: np.ndarray, corners: np.ndarray, size: int, *, edge: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Paints a flat texture onto a quadrilateral of the image, as a camera sees a sheet.

    Args:
        texture: (c, h, w) float32, the sheet's content, channels first.
        corners: (4, 2) normalized image positions of the texture's top-left, top-right,
            bottom-right and bottom-left corners.
        size: the output image's side.
        edge: the anti-aliasing ramp of the sheet's outline, in output pixels.

    Returns:
        The warped texture (c, size, size) and the sheet's coverage (size, size) in [0, 1].
    """
    h, w = texture.shape[1:]
    unit = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float)
    inv = homography(np.asarray(corners, dtype=float), unit).astype(F32)
    x, y = pixel_grid(size)
    den = inv[2, 0] * x + inv[2, 1] * y + inv[2, 2]
    u = (inv[0, 0] * x + inv[0, 1] * y + inv[0, 2]) / den
    v = (inv[1, 0] * x + inv[1, 1] * y + inv[1, 2]) / den
    # Coverage: distance to the nearest sheet edge, in output pixels (locally affine).
    uy, ux = gradient(u)
    vy, vx = gradient(v)
    du = np.abs(ux) + np.abs(uy) + F32(1e-6)
    dv = np.abs(vx) + np.abs(vy) + F32(1e-6)
    inside = np.minimum(np.minimum(u, 1 - u) / du, np.minimum(v, 1 - v) / dv)
    coverage = soft(inside, edge)
    # Bilinear sampling at texel centres.
    fu = np.clip(u * w - 0.5, 0, w - 1.001)
    fv = np.clip(v * h - 0.5, 0, h - 1.001)
    iu = fu.astype(np.int32)
    iv = fv.astype(np.int32)
    au, av = fu - iu, fv - iv
    top = texture[:, iv, iu] * (1 - au) + texture[:, iv, iu + 1] * au
    bottom = texture[:, iv + 1, iu] * (1 - au) + texture[:, iv + 1, iu + 1] * au
    return (top * (1 - av) + bottom * av).astype(F32), coverage.astype(F32)


def jitter_quad(
    rng: np.random.Generator, cx: float, cy: float, half_w: float, half_h: float, tilt: float
) -> np.ndarray:
    """The corners of a centred rectangle seen in slight perspective: a quadrilateral.

    `tilt` is the largest corner displacement, as a fraction of the rectangle's size;
    one side shrinks against the other (a sheet turned away), plus a small roll.
    """
    base = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=float)
    turn_x, turn_y = rng.uniform(-tilt, tilt, size=2)
    # Turning about the vertical axis shortens one vertical edge, and vice versa.
    scale_y = 1 + turn_x * base[:, 0]
    scale_x = 1 + turn_y * base[:, 1]
    pts = np.stack([base[:, 0] * scale_x * half_w, base[:, 1] * scale_y * half_h], axis=1)
    roll = rng.uniform(-tilt, tilt) * 0.6
    c, s = np.cos(roll), np.sin(roll)
    pts = pts @ np.array([[c, s], [-s, c]])
    pts += rng.uniform(-tilt, tilt, size=(4, 2)) * np.array([half_w, half_h]) * 0.25
    return pts + np.array([cx, cy])
