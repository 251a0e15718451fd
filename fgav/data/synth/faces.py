"""The face renderer: a person's albedo, coverage and height field, drawn from shapes.

A person is painted back to front (clothes, long hair, neck, ears, hair, face skin,
eyes, brows, nose, mouth, beard, jewellery, glasses, hat) as soft-edged shapes in face
units, plus a height field (an ellipsoid head with a nose, eye sockets and lips) that
the scene lights and that the depth label is read from. No shading happens here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fgav.data.synth.geometry import F32, clip, gauss, pixel_grid, soft
from fgav.data.synth.identity import A, Subject


@dataclass(frozen=True)
class Pose:
    """Where the face sits in the image and how it is turned.

    `scale` is the face's half-height in normalized image units (the image is 2 wide).
    """

    cx: float = 0.0
    cy: float = 0.0
    scale: float = 0.5
    roll: float = 0.0
    yaw: float = 0.0
    expression: float = 0.0  # per-photo jitter of the mouth and eyes, in [-1, 1]


def sample_pose(rng: np.random.Generator, *, scale: float = 0.5, spread: float = 1.0) -> Pose:
    """A frontal-ish pose with CelebA-like jitter (a detector's crop keeps faces centred)."""
    j = rng.uniform(-1, 1, size=6) * spread
    return Pose(
        cx=0.06 * j[0], cy=0.04 + 0.05 * j[1], scale=scale * (1 + 0.08 * j[2]),
        roll=0.12 * j[3], yaw=0.35 * j[4], expression=float(j[5] / max(spread, 1e-6)),
    )  # fmt: skip


@dataclass
class PersonLayers:
    """What the face renderer hands to the scene, each (H, W) unless said otherwise."""

    albedo: np.ndarray  # (3, H, W) in [0, 1], channels first
    alpha: np.ndarray  # the person's coverage (head, hair, neck, shoulders)
    height: np.ndarray  # the whole person's height field, face units, for shading
    face: np.ndarray  # the face skin's coverage (forehead to chin)
    depth: np.ndarray  # the face's height field in [0, 1], zero off the face
    glasses: np.ndarray  # the eyeglasses frame's coverage
    holes: np.ndarray  # eyes and mouth: where a region mask is cut open
    skin: np.ndarray  # visible skin, where texture and sheen apply
    pixel: float  # one pixel in face units


def _lerp(base: np.ndarray, color: np.ndarray | tuple[float, ...], cover: np.ndarray) -> None:
    """Paints `color` (3,) or (3, H, W) over `base` (3, H, W) in place, weighted by `cover` (H, W).

    Channels first: the coverage then broadcasts over whole planes, four times faster
    than over a trailing axis of three.
    """
    color = np.asarray(color, dtype=F32)
    base += ((color.reshape(3, 1, 1) if color.ndim == 1 else color) - base) * cover


def _face_window(size: int, pose: Pose, half_width: float) -> tuple[slice, slice]:
    """The pixel rows and columns that can hold a facial feature (brows to chin, ear to ear)."""
    c, s = math.cos(pose.roll), math.sin(pose.roll)
    hw = half_width + 0.16
    corners = [(sx * hw, sy) for sx in (-1, 1) for sy in (-0.62, 1.12)]
    cols = [(pose.cx + pose.scale * (c * u - s * v) + 1) * size / 2 for u, v in corners]
    rows = [(pose.cy + pose.scale * (s * u + c * v) + 1) * size / 2 for u, v in corners]

    def span(lo: float, hi: float) -> slice:
        return slice(min(max(math.floor(lo) - 2, 0), size), min(max(math.ceil(hi) + 2, 0), size))

    return span(min(rows), max(rows)), span(min(cols), max(cols))


def render_person(
    rng: np.random.Generator, size: int, subject: Subject, attrs: np.ndarray, pose: Pose
) -> PersonLayers:
    """Draws `subject` wearing `attrs` at `pose` into a size x size frame.

    The generator is consumed the same way whatever the attributes, so turning one
    attribute on or off changes only the pixels that attribute draws.
    """
    on = {name: bool(attrs[i]) for name, i in A.items()}
    hat_color = rng.uniform(0.05, 0.9, 3)
    frame_color = rng.uniform(0.02, 0.25, 3) * (1 if rng.random() < 0.7 else 3.0)
    lipstick = np.array([0.70, 0.08, 0.18]) * rng.uniform(0.8, 1.2, 3)
    metal = (0.95, 0.80, 0.35) if rng.random() < 0.5 else (0.85, 0.85, 0.9)
    grain = rng.random((size, size), dtype=F32)

    X, Y = pixel_grid(size)
    c, s = np.cos(pose.roll), np.sin(pose.roll)
    dx, dy = X - F32(pose.cx), Y - F32(pose.cy)
    x = (F32(c) * dx + F32(s) * dy) / F32(pose.scale)
    y = (F32(-s) * dx + F32(c) * dy) / F32(pose.scale)
    px = 2.0 / (size * pose.scale)
    sh = F32(0.22 * pose.yaw)  # features slide toward the turned side
    xs = x - sh
    xa = np.abs(xs)
    w0, hv = subject.face_w, subject.hair_volume
    smile = on["Smiling"]

    # Face outline: an ellipse whose lower half narrows to the chin.
    wy = F32(w0) * (1 - F32(subject.jaw) * np.maximum(y, F32(0)) ** 2)
    r2 = (x / wy) ** 2 + y * y
    face = soft((1 - np.sqrt(r2)) * F32(0.8), px)
    hair_line = F32(-0.6 if not on["Bangs"] else -0.3) + F32(0.28) * (x / F32(w0)) ** 2
    if on["Bangs"]:  # a fringe with a ragged edge
        hair_line = hair_line + F32(0.03) * np.cos(x * F32(38))
    if on["Receding_Hairline"]:
        hair_line = hair_line - F32(0.25) * (x / F32(w0)) ** 2
    face_vis = face * soft(y - hair_line, px)

    # Height field (face units): ellipsoid head, nose, eye sockets, lips.
    face_h = F32(0.55) * np.sqrt(clip(1 - r2, 0, 1))
    # Facial features only touch the face's box: draw them in that window (a view).
    win = _face_window(size, pose, w0)
    x_, y_, xs_, xa_ = x, y, xs, xa
    x, y, xs, xa = x[win], y[win], xs[win], xa[win]
    nose = subject.nose
    fh = face_h[win]
    fh += F32(0.22 * nose) * gauss(x, y, 1.6 * float(sh), 0.12, 0.07 * nose, 0.26)
    fh += F32(0.08) * gauss(x, y, 1.8 * float(sh), 0.33, 0.09 * nose, 0.08)
    fh -= F32(0.07) * gauss(xa, y, subject.eye_x, subject.eye_y, 0.13, 0.08)
    fh += F32(0.04) * gauss(xs, y, 0, subject.mouth_y, subject.mouth_w, 0.07)
    x, y, xs, xa = x_, y_, xs_, xa_
    face_h *= face
    depth = clip(face_h / F32(0.85), 0, 1)
    hx, hy = x / F32(w0 + 0.1 + hv), (y + F32(0.12)) / F32(1.02 + 0.5 * hv)
    dome_r2 = hx * hx + hy * hy
    head = soft((1 - np.sqrt(dome_r2)) * F32(0.9), px)
    neck = soft(F32(0.4) - np.abs(x), px) * soft(F32(1.6) - y, px) * soft(y - F32(0.3), px)
    sx, sy = x / F32(1.75), (y - F32(2.2)) / F32(0.9)
    body = soft((1 - np.sqrt(sx * sx + sy * sy)) * F32(0.9), px)
    height = np.maximum(F32(0.45) * np.sqrt(clip(1 - dome_r2, 0, 1)) * head, face_h)
    height = np.maximum(height, F32(0.28) * np.sqrt(clip(1 - (x / 0.4) ** 2, 0, 1)) * neck)
    height = np.maximum(height, F32(0.35) * np.sqrt(clip(1 - sx * sx - sy * sy, 0, 1)))

    skin_tex = subject.skin[:, None, None] * (F32(0.95) + F32(0.1) * grain)
    # Hair strands: the grain smeared down the rows, as light catching locks.
    strands = grain * F32(0.2)
    strands[1:] += strands[:-1].copy()
    strands[2:] += grain[:-2] * F32(0.2)
    strands += F32(0.7)
    hair_tex = subject.hair[:, None, None] * strands
    albedo = np.empty((3, size, size), F32)
    albedo[:] = subject.clothes[:, None, None]
    if subject.long_hair:
        locks = soft(F32(w0 + 0.22 + hv) - np.abs(x), px) * soft(F32(1.25 + hv) - y, px)
        _lerp(albedo, hair_tex, locks * soft(y + F32(0.2), px))
    _lerp(albedo, subject.skin * F32(0.85), neck)
    ears = soft(1 - np.sqrt(((xa - F32(w0)) / F32(0.09)) ** 2 + ((y + F32(0.02)) / F32(0.17)) ** 2), px * 5)
    _lerp(albedo, subject.skin * F32(0.9), ears)
    short = soft(F32(-0.12) - y, px * 2) if not subject.long_hair else F32(1)
    if on["Bald"]:  # a bare scalp, a little hair left above the ears
        _lerp(albedo, subject.skin * F32(1.05), head * soft(F32(0.15) - y, px))
        _lerp(albedo, hair_tex, head * soft(xa - F32(w0 * 0.85), px) * soft(y + F32(0.5), px) * short)
    else:
        _lerp(albedo, hair_tex, head * short)
    skin = face_vis
    _lerp(albedo, skin_tex, face_vis)
    full, face_full = albedo, face
    albedo, x, y, xs, xa, grain = albedo[:, win[0], win[1]], x[win], y[win], xs[win], xa[win], grain[win]
    face, face_vis = face[win], face_vis[win]
    if on["5_o_Clock_Shadow"]:
        stubble = face_vis * soft(y - F32(0.2), px * 3) * (F32(0.25) + F32(0.25) * grain)
        _lerp(albedo, subject.skin * F32(0.45), stubble)
    if on["Rosy_Cheeks"]:
        _lerp(albedo, (0.92, 0.35, 0.38), F32(0.5) * gauss(xa, y, 0.42, 0.22, 0.13, 0.1) * face_vis)

    # Eyes: almond openings, iris, pupil and the upper lid; smiling narrows them.
    ey, ew = subject.eye_y, subject.eye_w
    eh = subject.eye_h * (0.75 if smile else 1.0) * (1 + 0.1 * pose.expression)
    t = (xa - F32(subject.eye_x)) / F32(ew)
    half = F32(eh) * np.maximum(1 - t * t, F32(0))
    eye = soft(half - np.abs(y - F32(ey)), px * 0.7) * face_vis
    if on["Heavy_Makeup"]:
        _lerp(albedo, (0.45, 0.25, 0.45), F32(0.5) * gauss(t, y, 0, ey - 0.08, 1.1, 0.05) * face_vis)
    _lerp(albedo, (0.93, 0.91, 0.88), eye)
    ix = F32(subject.eye_x) + F32(0.04 * pose.yaw) * np.sign(xs)
    ir = np.sqrt((xa - ix) ** 2 + (y - F32(ey)) ** 2)
    _lerp(albedo, subject.iris, eye * soft(F32(0.055) - ir, px * 0.7))
    _lerp(albedo, (0.03, 0.02, 0.02), eye * soft(F32(0.022) - ir, px * 0.7))
    lid = soft(F32(max(0.018, 0.35 * px)) - np.abs(y - F32(ey) + half), px * 0.7) * soft(1 - np.abs(t), px)
    _lerp(albedo, (0.1, 0.06, 0.05), lid * face_vis)

    # Eyebrows: arcs above the eyes in a darker shade of the hair.
    tb = (xa - F32(subject.eye_x + 0.01)) / F32(ew * 1.5)
    arch = 0.07 if on["Arched_Eyebrows"] else 0.03
    by = F32(ey - 0.15) - F32(arch) * np.maximum(1 - tb * tb, F32(0))
    thick = 0.055 if on["Bushy_Eyebrows"] else (0.04 if on["Male"] else 0.028)
    brow = soft(F32(thick) - np.abs(y - by), px * 0.7) * soft(1 - np.abs(tb), px * 3) * face_vis
    _lerp(albedo, subject.hair * F32(0.6), brow)
    nostril = gauss(xa, y, 0.06 * nose + 0.02, 0.36 + 0.04 * (nose - 1), 0.03, 0.018) * face_vis
    _lerp(albedo, subject.skin * F32(0.35), F32(0.8) * nostril)

    # Mouth: a centre curve (corners up when smiling), lips around an opening.
    my, mw = subject.mouth_y, subject.mouth_w * (1.12 if smile else 1.0)
    tm = xs / F32(mw)
    taper = np.sqrt(clip(1 - tm * tm, 0, 1))
    curv = -0.1 if smile else 0.015 * (1 + pose.expression)
    yc = F32(my) + F32(curv) * (tm * tm - F32(0.3))
    gap = (0.05 if smile else 0.035) if on["Mouth_Slightly_Open"] else 0.0
    lo, hi = yc - F32(gap + subject.lips * 0.9) * taper, yc + F32(gap + subject.lips * 1.2) * taper
    if on["Mustache"]:
        band = soft(np.minimum(y - (lo - F32(0.1)), lo - y + F32(0.01)), px) * soft(F32(mw * 1.1) - xa, px)
        _lerp(albedo, subject.hair * F32(0.7), band * face_vis)
    if on["Goatee"]:
        chin = soft(1 - np.sqrt((xs / F32(0.2)) ** 2 + ((y - F32(0.86)) / F32(0.18)) ** 2), px * 4)
        _lerp(albedo, subject.hair * F32(0.7), chin * face_vis)
    if on["Sideburns"]:
        burns = soft(xa - F32(w0 - 0.13), px) * soft(F32(0.15) - y, px) * soft(y + F32(0.45), px)
        _lerp(albedo, subject.hair * F32(0.8), burns * face_vis)
    lip_color = lipstick if on["Wearing_Lipstick"] else subject.skin * F32(0.95) * np.array([1, 0.65, 0.62], F32)
    lips = soft(np.minimum(y - lo, hi - y), px * 0.7) * soft(1 - np.abs(tm), px * 2) * face_vis
    _lerp(albedo, lip_color, lips)
    opening = soft(F32(max(gap, px * 0.2)) * taper - np.abs(y - yc), px * 0.7) * soft(1 - np.abs(tm), px * 2)
    _lerp(albedo, (0.25, 0.06, 0.06) if gap else tuple(np.asarray(lip_color, dtype=float) * 0.55), opening * face_vis)
    if gap and smile:  # upper teeth
        _lerp(albedo, (0.92, 0.9, 0.85), opening * soft(yc - y, px * 0.5) * face_vis)

    # Jewellery, glasses, hat: in front of the face.
    if on["Wearing_Earrings"]:
        ring = soft(F32(0.05) - np.sqrt((xa - F32(w0 + 0.02)) ** 2 + (y - F32(0.2)) ** 2), px * 0.7)
        _lerp(albedo, metal, ring)
    glasses = np.zeros((size, size), F32)
    holes = np.zeros((size, size), F32)
    if on["Eyeglasses"]:  # two rims, a bridge and the temples, at least half a pixel thick
        fw = F32(max(0.03, 0.45 * px))
        rx, ry = F32(ew * 1.45), F32(0.12)
        rim = np.sqrt(((xa - F32(subject.eye_x)) / rx) ** 2 + ((y - F32(ey + 0.01)) / ry) ** 2)
        frame = soft(fw - np.abs(rim - 1) * ry, px * 0.7)
        bar = soft(fw - np.abs(y - F32(ey - 0.03)), px * 0.7)
        frame = np.maximum(frame, bar * soft(F32(subject.eye_x) - rx - xa + fw, px * 0.7))
        frame = np.maximum(frame, bar * soft(xa - F32(subject.eye_x) - rx + fw, px * 0.7) * soft(F32(w0) - xa, px))
        glasses[win] = frame
        _lerp(albedo, frame_color, frame)
    holes[win] = np.maximum(soft(half + F32(0.04) - np.abs(y - F32(ey)), px), np.maximum(lips, opening)) * face
    albedo, x, y, xs, xa, face = full, x_, y_, xs_, xa_, face_full
    if on["Wearing_Necklace"]:
        chain = soft(F32(max(0.03, 0.4 * px)) - np.abs(y - F32(1.1) - F32(0.35) * x * x), px * 0.7)
        _lerp(albedo, metal, chain * soft(F32(0.5) - np.abs(x), px))
    alpha = np.maximum(np.maximum(body, neck), np.maximum(head * short, face))
    if subject.long_hair:
        alpha = np.maximum(alpha, locks * soft(y + F32(0.2), px))
    alpha = np.maximum(alpha, ears)
    if on["Wearing_Hat"]:
        crown = head * soft(F32(-0.45) - y, px) + soft(F32(0.07) - np.abs(y + F32(0.48)), px) * soft(
            F32(w0 + 0.35) - np.abs(x), px
        )
        crown = clip(crown, 0, 1)
        _lerp(albedo, hat_color, crown)
        alpha = np.maximum(alpha, crown)
        skin = skin * (1 - crown)
    return PersonLayers(
        albedo=albedo, alpha=alpha, height=height, face=face, depth=depth.astype(F32),
        glasses=glasses.astype(F32), holes=holes.astype(F32), skin=skin, pixel=px,
    )  # fmt: skip
