"""One SynthSpoof image with all its ground truth: `render_sample`.

The difficulty knob sets the strength of the spoof media's cues against the nuisances
every photo shares (camera blur, noise, JPEG, white balance, light): at 0 a spoof is
obvious, at 1 its medium barely shows through a poor camera.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from fgav.data.labels import ATTRIBUTE_NAMES, LABEL_LENGTH
from fgav.data.synth.faces import Pose, sample_pose
from fgav.data.synth.geometry import F32, clip
from fgav.data.synth.identity import A, Subject, pick, sample_image_attributes, sample_subject
from fgav.data.synth.scene import capture, portrait, sample_camera, sample_lighting
from fgav.data.synth.spoofs import render_spoof

# See benchmarks/synth_calibration.py and docs/synthspoof.md: a ResNet-18 trained four
# epochs on 2500 images reached 0.91 here (target 0.95-0.99; lower is easier).
DEFAULT_DIFFICULTY = 0.3
# CelebA-Spoof shoots most spoofs in normal light.
_ILLUMINATION_P = np.array([0.4, 0.2, 0.2, 0.2])


@dataclass
class SynthSample:
    """A rendered image and its ground truth, each map in the image frame.

    Attributes:
        image: (H, W, 3) uint8, what the camera recorded.
        depth: (H, W) float32 in [0, 1]: the face's height field (live), zero (spoof).
        reflection: (H, W) float32 in [0, 1]: the glare/specular layer (spoof), zero (live).
        label: CelebA-Spoof's 44 ints (40 attributes, spoof type, illumination,
            environment, spoof).
        bbox: the face box (x, y, w, h) in pixels of the image.
        clean: (H, W, 3) float32, the scene before the camera's blur, noise and JPEG.
        face: (H, W) float32, coverage of the presented face.
        glasses: (H, W) float32, coverage of the eyeglasses frame (live images; zero
            for spoofs, whose medium moves the frame).
        attributes: the 40 attributes drawn (also for spoofs, whose label zeroes them).
    """

    image: np.ndarray
    depth: np.ndarray
    reflection: np.ndarray
    label: list[int]
    bbox: tuple[int, int, int, int]
    clean: np.ndarray
    face: np.ndarray
    glasses: np.ndarray
    attributes: np.ndarray = field(repr=False)


def cue_strength(difficulty: float) -> float:
    """The spoof media's cue strength for a difficulty in [0, 1]."""
    return float(min(max(1.0 - difficulty, 0.0), 1.0))


def face_box(coverage: np.ndarray) -> tuple[int, int, int, int]:
    """The (x, y, w, h) box of the pixels more than half covered; the image if none."""
    rows = np.flatnonzero(coverage.max(axis=1) > 0.5)
    cols = np.flatnonzero(coverage.max(axis=0) > 0.5)
    if not len(rows) or not len(cols):
        return 0, 0, coverage.shape[1], coverage.shape[0]
    return int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


def render_sample(
    rng: np.random.Generator | int,
    *,
    size: int = 64,
    spoof_type: int = 0,
    illumination: int | None = None,
    environment: int | None = None,
    subject: Subject | None = None,
    attributes: Mapping[str, bool | int] | None = None,
    pose: Pose | None = None,
    difficulty: float = DEFAULT_DIFFICULTY,
) -> SynthSample:
    """Renders one image (live when `spoof_type` is 0) with its labels and maps.

    Args:
        rng: a generator, or a seed for one.
        size: the image side in pixels.
        spoof_type: 0 live, 1-10 CelebA-Spoof's spoof types.
        illumination: 1-4 (normal, strong, back, dark); drawn when None. A live image
            is lit the same way but labelled 0.
        environment: 1 indoor, 2 outdoor; drawn when None; labelled 0 for live.
        subject: the person; a new one is drawn when None.
        attributes: attribute overrides by CelebA name, e.g. {"Eyeglasses": 1}; the
            random stream is the same whatever they say.
        pose: the face's placement; drawn when None.
        difficulty: spoof cue strength against nuisances, in [0, 1].

    Raises:
        ValueError: an unknown spoof type, illumination, environment or attribute name.
    """
    if not 0 <= spoof_type <= 10:
        raise ValueError(f"spoof_type is 0-10, not {spoof_type}")
    if illumination is not None and not 1 <= illumination <= 4:
        raise ValueError(f"illumination is 1-4, not {illumination}")
    if environment is not None and environment not in (1, 2):
        raise ValueError(f"environment is 1 or 2, not {environment}")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    subject = subject if subject is not None else sample_subject(rng)
    attrs = sample_image_attributes(rng, subject)
    for name, value in (attributes or {}).items():
        if name not in A:
            raise ValueError(f"unknown attribute {name!r}; the names are {', '.join(ATTRIBUTE_NAMES)}")
        attrs[A[name]] = bool(value)
    drawn_pose = sample_pose(rng)
    pose = pose if pose is not None else drawn_pose
    drawn_illumination = pick(rng, _ILLUMINATION_P) + 1
    drawn_environment = int(rng.integers(1, 3))
    illumination = illumination or drawn_illumination
    environment = environment or drawn_environment
    light = sample_lighting(rng, illumination)
    live = spoof_type == 0
    camera = sample_camera(rng, difficulty, blurry=live and bool(attrs[A["Blurry"]]))
    cue = cue_strength(difficulty) * float(rng.uniform(0.6, 1.0))
    if live:
        shot = portrait(rng, size, subject, attrs, pose, light, environment)
        clean, face, glasses = shot.image, shot.layers.face, shot.layers.glasses
        depth, reflection = shot.layers.depth, np.zeros((size, size), F32)
        label = [int(a) for a in attrs] + [0, 0, 0, 0]
    else:
        spoof = render_spoof(rng, size, spoof_type, subject, attrs, pose, light, environment, cue)
        clean, face, glasses = spoof.image, spoof.face, np.zeros((size, size), F32)
        depth, reflection = np.zeros((size, size), F32), spoof.reflection
        label = [0] * 40 + [spoof_type, illumination, environment, 1]
    assert len(label) == LABEL_LENGTH
    image = capture(rng, clean, camera, light)
    return SynthSample(
        image=image, depth=depth, reflection=reflection, label=label, bbox=face_box(face),
        clean=np.ascontiguousarray(clip(clean, F32(0), F32(1)).transpose(1, 2, 0)), face=face, glasses=glasses, attributes=attrs,
    )  # fmt: skip
