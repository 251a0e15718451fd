"""Scenes: environment backgrounds, the four illuminations, shading and the camera.

CelebA-Spoof labels a spoof photo's illumination (1 normal, 2 strong, 3 back, 4 dark)
and environment (1 indoor, 2 outdoor); live photos carry 0 but are taken under the
same variety of light and places, so light and place are never a live/spoof cue by
themselves. The camera (gain, white balance, blur, noise, JPEG) treats both alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from fgav.data.synth.faces import PersonLayers, Pose, render_person
from fgav.data.synth.geometry import F32, clip, gauss, gradient, pixel_grid, smooth_noise, soft
from fgav.data.synth.identity import Subject


@dataclass(frozen=True)
class Lighting:
    """One illumination: a key light plus ambient, seen through the camera's exposure."""

    direction: np.ndarray  # unit vector toward the light; z points at the camera
    ambient: float
    diffuse: float
    rim: float  # light from behind, catching the silhouette's edges
    color: np.ndarray  # RGB tint of the light, (3, 1, 1) to broadcast over images
    background: float  # gain of the background (a bright window for back light)
    exposure: float
    noise: float  # extra sensor noise in the dark


def sample_lighting(rng: np.random.Generator, illumination: int) -> Lighting:
    """Draws a light for illumination 1-4 (normal, strong, back, dark)."""
    az, el = rng.uniform(-0.6, 0.6), rng.uniform(0.1, 0.6)
    tint = np.array([1.0, 1.0, 1.0]) + rng.uniform(-0.06, 0.06, 3)
    if illumination == 2:  # strong: a hard light from the side, near clipping
        az = (1 if rng.random() < 0.5 else -1) * rng.uniform(0.6, 1.1)
        amb, dif, rim, bg, exp_, noise = 0.25, 1.2, 0.0, 1.0, rng.uniform(1.1, 1.35), 1.0
    elif illumination == 3:  # back: the background glows, the face falls into shade
        amb, dif, rim, bg, exp_, noise = 0.35, 0.25, 0.7, rng.uniform(1.5, 2.0), 0.9, 1.3
    elif illumination == 4:  # dark: underexposed, noisy, warm
        amb, dif, rim, bg, exp_, noise = 0.45, 0.45, 0.0, 0.8, rng.uniform(0.22, 0.4), 2.5
        tint = tint * np.array([1.1, 0.95, 0.75])
    else:
        amb, dif, rim, bg, exp_, noise = 0.45, 0.65, 0.0, 1.0, rng.uniform(0.9, 1.1), 1.0
    d = np.array([np.sin(az) * np.cos(el), -np.sin(el), np.cos(az) * np.cos(el)])
    return Lighting(
        direction=d.astype(F32), ambient=amb, diffuse=dif, rim=rim,
        color=(tint / tint.mean()).astype(F32).reshape(3, 1, 1), background=float(bg), exposure=float(exp_),
        noise=float(noise),
    )  # fmt: skip


def shade(height: np.ndarray, pixel: float, light: Lighting, *, specular: float = 0.0,
          shininess: float = 12.0) -> tuple[np.ndarray, np.ndarray]:
    """Lambertian shading of a height field (plus rim light), and its specular layer.

    Args:
        height: (H, W) heights in the same units as `pixel` (the side of one pixel).
        pixel: one pixel's side in height units, to turn differences into slopes.
        light: the illumination.
        specular: the strength of a Blinn-Phong highlight (0 for matte).
        shininess: its exponent.

    Returns:
        The diffuse intensity (H, W) and the specular layer (H, W), both >= 0.
    """
    gy, gx = gradient(height)
    nx, ny = -gx / F32(pixel), -gy / F32(pixel)
    inv = 1 / np.sqrt(nx * nx + ny * ny + 1)
    lx, ly, lz = (float(v) for v in light.direction)
    ndotl = np.maximum((nx * F32(lx) + ny * F32(ly) + F32(lz)) * inv, F32(0))
    diffuse = F32(light.ambient) + F32(light.diffuse) * ndotl + F32(light.rim) * (1 - inv) ** 2
    if not specular:
        return diffuse, np.zeros_like(diffuse)
    hz = lz + 1.0
    hn = np.sqrt(lx * lx + ly * ly + hz * hz)
    ndoth = np.maximum((nx * F32(lx / hn) + ny * F32(ly / hn) + F32(hz / hn)) * inv, F32(0))
    return diffuse, F32(specular) * ndoth**shininess


def background(rng: np.random.Generator, size: int, environment: int) -> np.ndarray:
    """An indoor (1) or outdoor (2) backdrop, (3, size, size) in [0, 1].

    Indoor: a lit wall with door and picture frames, a lamp's glow. Outdoor: sky,
    foliage texture and ground; high-frequency and saturated greens and blues.
    """
    x, y = pixel_grid(size)
    if environment == 2:
        sky = (np.array([0.45, 0.65, 0.95]) * rng.uniform(0.8, 1.1)).astype(F32)[:, None, None]
        top = sky + (np.array([0.9, 0.93, 1.0], F32)[:, None, None] - sky) * (clip(y + 1, 0, 2) * F32(0.5))
        horizon = F32(rng.uniform(-0.5, 0.4)) + F32(0.15) * np.sin(x * F32(rng.uniform(2, 5)))
        leaves = smooth_noise(rng, size, int(rng.integers(6, 14)), 3)
        green = (np.array([0.2, 0.45, 0.15]) * rng.uniform(0.6, 1.3)).astype(F32)[:, None, None]
        foliage = green * (F32(0.4) + F32(1.2) * leaves)
        ground = soft(y - horizon, 2.0 / size)
        out = top * (1 - ground) + foliage * ground
        if rng.random() < 0.5:  # a building edge
            edge = F32(rng.uniform(-1, 1))
            wall = soft((x - edge) * F32((1 if rng.random() < 0.5 else -1)), 2.0 / size)
            out = out * (1 - wall) + rng.uniform(0.4, 0.85, 3).astype(F32)[:, None, None] * wall
        return out.astype(F32)
    wall = rng.uniform(0.35, 0.85, 3) * rng.uniform(0.8, 1.0)
    out = wall.astype(F32)[:, None, None] * (F32(0.85) + F32(0.3) * smooth_noise(rng, size, 3))
    axis = x[0]
    for _ in range(int(rng.integers(1, 4))):  # door, shelf or picture frame
        cx, cy, hw, hh = rng.uniform(-1, 1), rng.uniform(-1, 0.6), rng.uniform(0.1, 0.5), rng.uniform(0.1, 0.8)
        # An axis-aligned box is the outer product of two 1-D ramps: two tiny arrays.
        box = np.outer(soft(F32(hh) - np.abs(axis - F32(cy)), 2.0 / size), soft(F32(hw) - np.abs(axis - F32(cx)), 2.0 / size))
        out = out + (rng.uniform(0.1, 0.9, 3).astype(F32)[:, None, None] - out) * box
    lamp = gauss(x, y, rng.uniform(-1, 1), rng.uniform(-1.2, -0.4), 0.5, 0.4)
    return clip(out + F32(0.25) * lamp, F32(0), F32(1)).astype(F32)


@dataclass(frozen=True)
class Camera:
    """The capturing camera's nuisances, drawn once per photo."""

    gains: np.ndarray  # per-channel white balance
    blur: float  # Gaussian sigma in pixels
    noise: float  # sensor noise sigma
    quality: int  # JPEG quality


def sample_camera(rng: np.random.Generator, difficulty: float, *, blurry: bool = False) -> Camera:
    """Draws the camera nuisances; more difficult means blurrier, noisier, more JPEG."""
    d = float(difficulty)
    gains = 1 + rng.uniform(-0.06, 0.06, 3) * (0.5 + d)
    blur = rng.uniform(0.0, 0.3 + 0.9 * d) + (1.4 if blurry else 0.0)
    return Camera(
        gains=gains.astype(F32), blur=float(blur), noise=float(rng.uniform(0.004, 0.01 + 0.04 * d)),
        quality=int(rng.integers(int(92 - 55 * d), 96)),
    )  # fmt: skip


@lru_cache(maxsize=256)
def _blur_matrix(size: int, sigma: float) -> np.ndarray:
    """The (size, size) matrix of a Gaussian blur along one axis, edges renormalized.

    Blurring is B @ image @ B.T: two small matrix products beat a filter call at 64 px.
    """
    d = np.arange(size)[:, None] - np.arange(size)[None, :]
    m = np.exp(-0.5 * (d / sigma) ** 2) * (np.abs(d) <= 2.5 * sigma + 1)
    return (m / m.sum(axis=1, keepdims=True)).astype(F32)


def _dct_matrix() -> np.ndarray:
    k = np.arange(8)
    m = np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / 16) * np.sqrt(2 / 8)
    m[0] /= np.sqrt(2)
    return m.astype(F32)


_DCT = _dct_matrix()
# JPEG's luminance table (Annex K); chroma is quantized twice as coarsely here.
_QTABLE = np.array(
    [[16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55],
     [14, 13, 16, 24, 40, 57, 69, 56], [14, 17, 22, 29, 51, 87, 80, 62],
     [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
     [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99]], dtype=F32
) / F32(255)  # fmt: skip
_YCC = np.array([[0.299, 0.587, 0.114], [-0.169, -0.331, 0.5], [0.5, -0.419, -0.081]], dtype=F32)
_YCC_INV = np.linalg.inv(_YCC).astype(F32)


def jpeg_like(img: np.ndarray, quality: int) -> np.ndarray:
    """JPEG's loss on a (3, H, W) image: 8x8 block DCT of YCbCr, quantized with JPEG's table.

    The blocking, ringing and chroma smearing of a real JPEG at that quality, in a
    handful of array operations (a codec round trip costs more than the rest).
    """
    h, w = img.shape[1:]
    scale = (5000 / quality if quality < 50 else 200 - 2 * quality) / 100
    q = np.maximum(_QTABLE * F32(scale), F32(1e-3))
    q = np.stack([q, q * 2, q * 2])[:, None, None]  # (3, 1, 1, 8, 8)
    ph, pw = -h % 8, -w % 8
    ycc = (_YCC @ img.reshape(3, -1)).reshape(img.shape)
    if ph or pw:
        ycc = np.pad(ycc, ((0, 0), (0, ph), (0, pw)), mode="edge")
    bh, bw = ycc.shape[1] // 8, ycc.shape[2] // 8
    blocks = ycc.reshape(3, bh, 8, bw, 8).transpose(0, 1, 3, 2, 4)
    coef = _DCT @ blocks @ _DCT.T
    coef = np.round(coef / q) * q
    blocks = _DCT.T @ coef @ _DCT
    ycc = blocks.transpose(0, 1, 3, 2, 4).reshape(3, bh * 8, bw * 8)[:, :h, :w]
    return (_YCC_INV @ np.ascontiguousarray(ycc).reshape(3, -1)).reshape(3, h, w)


def capture(rng: np.random.Generator, image: np.ndarray, camera: Camera, light: Lighting) -> np.ndarray:
    """Photographs a (3, H, W) scene: exposure, white balance, blur, noise, JPEG; (H, W, 3) uint8."""
    img = clip(image * (F32(light.exposure) * camera.gains[:, None, None]), F32(0), F32(1))
    if camera.blur > 0.25:
        b = _blur_matrix(img.shape[1], round(camera.blur, 2))
        img = b @ img @ b.T
    img = img + rng.standard_normal(img.shape, dtype=F32) * F32(camera.noise * light.noise)
    if camera.quality < 95:
        img = jpeg_like(img, camera.quality)
    out = (clip(img, F32(0), F32(1)) * F32(255) + F32(0.5)).astype(np.uint8)
    return np.ascontiguousarray(out.transpose(1, 2, 0))


@dataclass
class Portrait:
    """A lit person in front of a backdrop, in linear light, with the person's layers."""

    image: np.ndarray  # (3, H, W), may exceed 1 before the camera clips it
    specular: np.ndarray  # (H, W) the highlight layer added to the skin
    layers: PersonLayers


def portrait(
    rng: np.random.Generator, size: int, subject: Subject, attrs: np.ndarray, pose: Pose,
    light: Lighting, environment: int, *, sheen: float = 0.05, shininess: float = 12.0,
    backdrop: bool = True,
) -> Portrait:
    """Renders `subject` lit by `light`, over an `environment` backdrop (or black)."""
    layers = render_person(rng, size, subject, attrs, pose)
    diffuse, spec = shade(layers.height, layers.pixel, light, specular=sheen, shininess=shininess)
    spec = spec * layers.skin
    person = layers.albedo * (diffuse * light.color) + spec
    if backdrop:
        back = background(rng, size, environment) * F32(light.background)
    else:
        back = np.zeros_like(person)
    a = layers.alpha
    return Portrait(image=(back + (person - back) * a).astype(F32), specular=spec, layers=layers)
