"""The ten spoof types of CelebA-Spoof, each rendered by the physics of its medium.

- Prints (1 photo, 2 poster, 3 A4): the subject's photo loses gamut (lifted blacks,
  dull whites, less saturation), is halftoned (a rotated dot screen per ink), gets
  paper fibres, is lit as a flat sheet and seen in slight perspective, border and
  room around it. A glossy photo shows a broad specular sheen.
- Masks (4 face, 5 upper body, 6 region): a printed cut-out held on a real wearer;
  the region mask has holes at eyes and mouth where the wearer's own skin shows.
- Replays (7 PC, 8 pad, 9 phone): an emissive screen: display gamma, an RGB
  sub-pixel grid that beats against the camera's pixels (moire), a bezel, and a
  specular glare of the room's light on the glass.
- 3D mask (10): the face as smooth plastic, untextured, with a broad uniform specular.

`cue` in [0, 1] scales every medium cue (0: none, 1: obvious); the caller derives it
from the difficulty knob.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fgav.data.synth.faces import Pose
from fgav.data.synth.geometry import F32, clip, gauss, jitter_quad, pixel_grid, smooth_noise, soft, warp_onto_quad
from fgav.data.synth.identity import Subject, sample_image_attributes, sample_subject
from fgav.data.synth.scene import Lighting, background, portrait, sample_lighting, shade


@dataclass
class SpoofRender:
    """A spoof scene in linear light, before the camera."""

    image: np.ndarray  # (3, H, W)
    reflection: np.ndarray  # (H, W) glare / specular layer in [0, 1]
    face: np.ndarray  # (H, W) coverage of the presented face, for the bounding box


def _paste(content: np.ndarray, shape: tuple[int, int], top: int, left: int, fill: np.ndarray) -> np.ndarray:
    """Places `content` (c, h, w) on a sheet of `shape` filled with `fill` (c,)."""
    sheet = np.empty((content.shape[0], *shape), dtype=F32)
    sheet[:] = np.asarray(fill, F32)[:, None, None]
    h, w = content.shape[1:]
    sheet[:, top : top + h, left : left + w] = content
    return sheet


def _printed(rng: np.random.Generator, photo: np.ndarray, cue: float, cell: float) -> np.ndarray:
    """Prints an RGB photo: reduced gamut, a halftone dot screen per ink, paper fibres."""
    size = photo.shape[1]
    gray = photo.mean(axis=0, keepdims=True)
    g = gray + (photo - gray) * F32(1 - 0.45 * cue)
    g = F32(0.08 * cue) + clip(g, 0, 1) * F32(1 - 0.18 * cue)
    x, y = pixel_grid(size)
    ang = np.deg2rad(np.array([15.0, 75.0, 45.0]) + rng.uniform(0, 90), dtype=F32)
    ca, sa = np.cos(ang)[:, None, None], np.sin(ang)[:, None, None]
    u = (x * ca + y * sa) * F32(np.pi * size / cell)
    v = (y * ca - x * sa) * F32(np.pi * size / cell)
    screen = F32(0.5) + F32(0.25) * (np.cos(u) + np.cos(v))
    dots = soft(g - screen, 0.3)
    g = g + (dots - g) * F32(0.55 * cue)
    fibres = smooth_noise(rng, size, max(4, size // 2))
    return (g * (F32(1 - 0.1 * cue) + F32(0.2 * cue) * fibres)).astype(F32)


def _flat_light(size: int, light: Lighting, rng: np.random.Generator) -> np.ndarray:
    """The irradiance on a flat sheet facing the camera: constant, with a soft falloff."""
    x, y = pixel_grid(size)
    lz = max(float(light.direction[2]), 0.0)
    level = light.ambient + light.diffuse * lz * 0.9
    gx, gy = rng.uniform(-0.2, 0.2, 2)
    return (F32(level) * (1 + F32(gx) * x + F32(gy) * y)) * light.color


def _glare(rng: np.random.Generator, size: int, strength: float, *, streak: bool, corners: np.ndarray) -> np.ndarray:
    """A specular highlight: an elongated blob (a window, a lamp) mirrored by the surface.

    Its centre falls on the surface (inside the quadrilateral `corners`), so the
    reflection layer of a replay or a glossy print always holds its glare.
    """
    x, y = pixel_grid(size)
    w = rng.dirichlet(np.ones(4)) * 0.6 + 0.1  # a point well inside the quadrilateral
    cx, cy = np.clip((w / w.sum()) @ corners, -0.85, 0.85)
    th = rng.uniform(0, np.pi)
    c, s = F32(np.cos(th)), F32(np.sin(th))
    u, v = c * (x - F32(cx)) + s * (y - F32(cy)), c * (y - F32(cy)) - s * (x - F32(cx))
    sx, sy = (rng.uniform(0.5, 1.0), rng.uniform(0.06, 0.16)) if streak else rng.uniform(0.25, 0.6, 2)
    return F32(strength) * gauss(u, v, 0, 0, sx, sy)


def _source(rng: np.random.Generator, size: int, subject: Subject, attrs: np.ndarray, pose: Pose, zoom: float):
    """The subject's photo that the medium shows: studio-lit, enlarged by `zoom`."""
    src_pose = Pose(cx=pose.cx, cy=pose.cy, scale=pose.scale * zoom, roll=pose.roll, yaw=pose.yaw,
                    expression=pose.expression)  # fmt: skip
    env = int(rng.integers(1, 3))
    return portrait(rng, size, subject, attrs, src_pose, sample_lighting(rng, 1), env)


def _present(rng, size, texture, face, corners, light, backdrop, *, emissive: float = 0.0):
    """Places a sheet or screen texture on a quadrilateral in the room."""
    layers = np.concatenate([texture, face[None]], axis=0)
    warped, cover = warp_onto_quad(layers, corners, size)
    if emissive:
        lit = warped[:3] * F32(emissive) + F32(0.05 * light.ambient) * light.color
    else:
        lit = warped[:3] * _flat_light(size, light, rng)
    image = backdrop + (lit - backdrop) * cover
    return image, cover, warped[3] * cover


def render_spoof(
    rng: np.random.Generator, size: int, spoof_type: int, subject: Subject, attrs: np.ndarray,
    pose: Pose, light: Lighting, environment: int, cue: float,
) -> SpoofRender:
    """Renders a presentation attack of `subject` of the given type (1-10).

    Args:
        rng: the image's generator.
        size: the image side in pixels.
        spoof_type: CelebA-Spoof's spoof type, 1-10.
        subject, attrs, pose: who is presented, wearing what, how placed.
        light: the capture illumination; environment: the room (1 indoor, 2 outdoor).
        cue: the strength of the medium's cues in [0, 1].
    """
    if spoof_type in (1, 2, 3):
        backdrop = background(rng, size, environment) * F32(light.background)
        if spoof_type == 1:  # photo: a small glossy print with a white border
            half, cell, shape, margin = rng.uniform(0.72, 0.9), 1.6, (1.0, 1.0), 0.07
        elif spoof_type == 2:  # poster: a large matte print, coarse screen
            half, cell, shape, margin = rng.uniform(1.0, 1.2), 3.0, (1.0, 1.0), 0.02
        else:  # A4: office paper, the photo in its upper part, wide white margins
            half, cell, shape, margin = rng.uniform(0.75, 0.95), 2.2, (1.414, 1.0), 0.12
        zoom = 1.0 / (half * (1 - 2 * margin))
        src = _source(rng, size, subject, attrs, pose, min(zoom, 1.6))
        paper = np.array([0.95, 0.94, 0.9, 0.0], dtype=F32) * F32(rng.uniform(0.9, 1.0))
        photo = np.concatenate([_printed(rng, src.image, cue, cell), src.layers.face[None]], axis=0)
        m = int(round(margin * size))
        sheet = _paste(photo, (int(shape[0] * size) + 2 * m, size + 2 * m), m, m, paper)
        hh = half * sheet.shape[1] / sheet.shape[2]
        corners = jitter_quad(rng, rng.uniform(-0.1, 0.1), rng.uniform(-0.05, 0.1) + hh - half, half, hh, 0.12)
        image, cover, face = _present(rng, size, sheet[:3], sheet[3], corners, light, backdrop)
        gloss = 0.7 if spoof_type == 1 else 0.25
        refl = _glare(rng, size, gloss * cue * rng.uniform(0.5, 1.0), streak=False, corners=corners) * cover
    elif spoof_type in (7, 8, 9):
        backdrop = background(rng, size, environment) * F32(light.background)
        if spoof_type == 7:  # PC monitor: wide, thin bezel, fills the frame
            half, aspect, bezel, pitch = rng.uniform(1.05, 1.3), 0.62, 0.03, 2.3
        elif spoof_type == 8:  # pad: 4:3, medium bezel
            half, aspect, bezel, pitch = rng.uniform(0.8, 1.0), 1.33, 0.07, 2.0
        else:  # phone: tall, thick bezel
            half, aspect, bezel, pitch = rng.uniform(0.5, 0.62), 1.9, 0.09, 1.7
        screen_w = 1 - 2 * bezel
        zoom = 1.0 / (half * screen_w) if aspect >= 1 else 1.0 / (half * aspect * screen_w)
        src = _source(rng, size, subject, attrs, pose, float(clip(zoom, 0.8, 2.2)))
        content = src.image ** F32(rng.uniform(0.75, 1.3) ** cue)  # the screen's gamma
        content = content * (1 + F32(0.12 * cue) * np.array([-1.0, 0.0, 1.0], F32)[:, None, None])  # cold white point
        tex = np.concatenate([clip(content, 0, 1), src.layers.face[None]], axis=0)
        rows, cols = max(int(round(size * aspect)), size), max(int(round(size / aspect)), size)
        desk = np.array([*rng.uniform(0.0, 0.3, 3), 0.0], dtype=F32)
        screen = _paste(tex, (rows, cols), (rows - size) // 2, (cols - size) // 2, desk)
        cc = np.arange(cols, dtype=F32)[None, None, :]
        phase = np.array([0, 2 * np.pi / 3, 4 * np.pi / 3], F32)[:, None, None]
        stripes = F32(0.5) + F32(0.5) * np.cos(cc * F32(2 * np.pi / pitch) - phase)
        screen[:3] *= F32(1 - 0.6 * cue) + F32(0.6 * cue) * stripes * F32(1.5)
        b = int(round(bezel * cols)) + 1
        frame = np.array([*(np.full(3, 0.04) if rng.random() < 0.8 else np.full(3, 0.85)), 0.0], F32)
        device = _paste(screen, (rows + 2 * b, cols + 2 * b), b, b, frame)
        hh = half * device.shape[1] / device.shape[2]
        corners = jitter_quad(rng, rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1), half, hh, 0.1)
        emit = rng.uniform(0.85, 1.1) / max(light.exposure, 0.5)  # screens light themselves
        image, cover, face = _present(rng, size, device[:3], device[3], corners, light, backdrop,
                                      emissive=emit)  # fmt: skip
        x, y = pixel_grid(size)
        k = rng.uniform(0.15, 0.45, 2) * size * np.pi / 4
        moire = F32(1) + F32(0.25 * cue) * np.cos(F32(k[0]) * x + F32(k[1]) * y + F32(rng.uniform(0, 6.3)))
        image = image * (1 + (moire - 1) * cover)
        refl = _glare(rng, size, cue * rng.uniform(0.45, 0.95), streak=rng.random() < 0.5, corners=corners) * cover
    else:  # masks worn by a real person: 4, 5, 6, 10
        wearer = sample_subject(rng)
        w_attrs = sample_image_attributes(rng, wearer)
        w_attrs[[15, 35]] = 0  # no glasses or hat under a mask
        w_pose = Pose(cx=pose.cx, cy=pose.cy, scale=pose.scale * rng.uniform(0.97, 1.03), roll=pose.roll,
                      yaw=pose.yaw, expression=pose.expression)  # fmt: skip
        real = portrait(rng, size, wearer, w_attrs, w_pose, light, environment)
        if spoof_type == 10:  # plastic: one smooth albedo, broad uniform specular
            plastic = Subject(**{**subject.__dict__, "skin": subject.skin * F32(0.95) + F32(0.05)})
            mask = portrait(rng, size, plastic, attrs, pose, light, environment, backdrop=False,
                            sheen=0.12 + 0.45 * cue, shininess=6.0)  # fmt: skip
            flat = mask.layers.albedo.mean(axis=(1, 2))[:, None, None]
            lit = mask.image + (flat * F32(light.ambient + light.diffuse * 0.5) - mask.image) * F32(0.25 * cue)
            cover = mask.layers.face
            refl = clip(mask.specular, 0, 1) * cover
            image = real.image + (lit - real.image) * cover
        else:
            flat_light = sample_lighting(rng, 1)
            src = portrait(rng, size, subject, attrs, pose, flat_light, environment, backdrop=False)
            printed = _printed(rng, src.image, cue, 2.0) * _flat_light(size, light, rng)
            face = src.layers.face
            if spoof_type == 5:
                cover = src.layers.alpha  # the whole printed figure, shoulders included
            elif spoof_type == 6:
                cover = face * (1 - src.layers.holes)
            else:
                cover = face
            printed = printed + (F32(0.9) - printed) * (_cut_edge(cover) * F32(cue))
            image = real.image + (printed - real.image) * cover
            _, sheen = shade(src.layers.height * F32(0.3), src.layers.pixel, light, specular=0.3 * cue)
            refl = clip(sheen, 0, 1) * cover
        face = cover if spoof_type != 6 else src.layers.face
        return SpoofRender(image=(image + refl * light.color).astype(F32),
                           reflection=clip(refl, 0, 1).astype(F32), face=face.astype(F32))  # fmt: skip
    image = image + refl * light.color
    return SpoofRender(image=image.astype(F32), reflection=clip(refl, 0, 1).astype(F32), face=face.astype(F32))


def _cut_edge(cover: np.ndarray) -> np.ndarray:
    """The white rim of a cut-out's edge: where coverage is partial, and a pixel inside."""
    inner = cover.copy()
    np.minimum(inner[1:], cover[:-1], out=inner[1:])
    np.minimum(inner[:, :-1], cover[:, 1:], out=inner[:, :-1])
    return (cover - inner) * F32(2)
