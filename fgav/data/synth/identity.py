"""Identities and CelebA attributes: who is in a SynthSpoof image, and what the labels say.

A subject carries its geometry (face shape, eye, nose and mouth layout), its skin tone
and the attributes that belong to a person (Male, hair colour, Bald, Pale_Skin ...);
each image of the subject then re-draws the attributes that change from photo to photo
(Smiling, Mouth_Slightly_Open, Eyeglasses, Wearing_Hat ...), from CelebA-like priors.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fgav.data.labels import ATTRIBUTE_NAMES

A = {name: i for i, name in enumerate(ATTRIBUTE_NAMES)}

# The attributes the renderer draws; the others are sampled from their priors only.
RENDERED_ATTRIBUTES: tuple[str, ...] = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Bald", "Bangs", "Big_Lips", "Big_Nose",
    "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby",
    "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "Male", "Mouth_Slightly_Open",
    "Mustache", "Narrow_Eyes", "No_Beard", "Pale_Skin", "Receding_Hairline",
    "Rosy_Cheeks", "Sideburns", "Smiling", "Wearing_Earrings", "Wearing_Hat",
    "Wearing_Lipstick", "Wearing_Necklace",
)  # fmt: skip
SAMPLED_ONLY_ATTRIBUTES: tuple[str, ...] = tuple(
    n for n in ATTRIBUTE_NAMES if n not in RENDERED_ATTRIBUTES
)

# CelebA's share of positives, for the attributes drawn independently.
_PRIOR = {
    "Arched_Eyebrows": 0.27, "Attractive": 0.51, "Bags_Under_Eyes": 0.20, "Bangs": 0.15,
    "Big_Lips": 0.24, "Big_Nose": 0.23, "Blurry": 0.05, "Bushy_Eyebrows": 0.14,
    "Chubby": 0.06, "Double_Chin": 0.05, "Eyeglasses": 0.07, "High_Cheekbones": 0.45,
    "Mouth_Slightly_Open": 0.48, "Narrow_Eyes": 0.12, "Oval_Face": 0.28,
    "Pointy_Nose": 0.28, "Receding_Hairline": 0.08, "Rosy_Cheeks": 0.07,
    "Smiling": 0.48, "Straight_Hair": 0.21, "Wavy_Hair": 0.32, "Wearing_Hat": 0.05,
    "Wearing_Necklace": 0.12, "Wearing_Necktie": 0.07, "Young": 0.77,
}  # fmt: skip
# Attributes of the person, kept by all of a subject's images.
_SUBJECT_LEVEL = (
    "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bangs", "Big_Lips", "Big_Nose",
    "Bushy_Eyebrows", "Chubby", "Double_Chin", "High_Cheekbones", "Narrow_Eyes",
    "Oval_Face", "Pointy_Nose", "Receding_Hairline", "Straight_Hair", "Wavy_Hair", "Young",
)  # fmt: skip
# Hair colours: CelebA labels at most one; "other" (auburn, red) carries no label.
_HAIR = {
    "Black_Hair": ((0.06, 0.05, 0.05), 0.26),
    "Brown_Hair": ((0.30, 0.18, 0.10), 0.24),
    "Blond_Hair": ((0.85, 0.70, 0.42), 0.18),
    "Gray_Hair": ((0.62, 0.62, 0.62), 0.06),
    "other": ((0.50, 0.20, 0.10), 0.26),
}
# Skin albedos from light to dark; the first is Pale_Skin.
_SKIN = np.array(
    [[0.96, 0.84, 0.76], [0.93, 0.74, 0.62], [0.84, 0.64, 0.50],
     [0.72, 0.52, 0.38], [0.55, 0.38, 0.27], [0.38, 0.26, 0.19]], dtype=np.float32
)  # fmt: skip
_IRIS = np.array([[0.25, 0.15, 0.08], [0.12, 0.08, 0.05], [0.25, 0.40, 0.55], [0.30, 0.38, 0.20]])


@dataclass(frozen=True)
class Subject:
    """One synthetic person: geometry, colours and person-level attributes.

    Lengths are in face units: the face's half-height is 1, x to the right, y down.
    """

    face_w: float  # half-width of the face
    jaw: float  # how much the lower face narrows toward the chin
    skin: np.ndarray  # RGB albedo
    hair: np.ndarray  # RGB
    iris: np.ndarray  # RGB
    clothes: np.ndarray  # RGB
    eye_x: float
    eye_y: float
    eye_w: float
    eye_h: float
    nose: float  # nose size
    mouth_y: float
    mouth_w: float
    lips: float  # lip thickness
    hair_volume: float
    long_hair: bool
    attributes: np.ndarray  # (40,) int8, person-level part of the label


def pick(rng: np.random.Generator, weights: Sequence[float] | np.ndarray) -> int:
    """An index drawn with probability proportional to `weights` (rng.choice's, cheaper)."""
    cum = list(itertools.accumulate(float(w) for w in weights))
    return min(bisect.bisect_right(cum, rng.random() * cum[-1]), len(cum) - 1)


def sample_subject(rng: np.random.Generator) -> Subject:
    """Draws a person from CelebA-like priors (attributes correlated as in life)."""
    attrs = np.zeros(len(ATTRIBUTE_NAMES), dtype=np.int8)
    male = rng.random() < 0.42
    attrs[A["Male"]] = male
    for name in _SUBJECT_LEVEL:
        attrs[A[name]] = rng.random() < _PRIOR[name]
    pale = rng.random() < 0.045
    attrs[A["Pale_Skin"]] = pale
    tone = 0 if pale else pick(rng, [0.32, 0.28, 0.18, 0.12, 0.10]) + 1
    skin = np.clip(_SKIN[tone] * rng.uniform(0.96, 1.04, 3), 0, 1).astype(np.float32)
    bald = male and rng.random() < 0.06
    attrs[A["Bald"]] = bald
    names = list(_HAIR)
    weights = np.array([_HAIR[n][1] for n in names])
    if male:  # CelebA's men are seldom blond
        weights[names.index("Blond_Hair")] *= 0.3
    hair_name = names[pick(rng, weights)]
    if hair_name == "Gray_Hair":
        attrs[A["Young"]] = 0
    if not bald and hair_name != "other":
        attrs[A[hair_name]] = 1
    hair = np.clip(np.array(_HAIR[hair_name][0]) * rng.uniform(0.85, 1.15, 3), 0, 1)
    if bald:
        attrs[A["Bangs"]] = 0
    if male:
        attrs[A["Goatee"]] = rng.random() < 0.15
        attrs[A["Mustache"]] = rng.random() < 0.10
        attrs[A["Sideburns"]] = rng.random() < 0.13
        attrs[A["5_o_Clock_Shadow"]] = rng.random() < 0.25
    else:
        attrs[A["Heavy_Makeup"]] = rng.random() < 0.65
        attrs[A["Receding_Hairline"]] = rng.random() < 0.04
    beard = attrs[A["Goatee"]] | attrs[A["Mustache"]] | attrs[A["5_o_Clock_Shadow"]]
    attrs[A["No_Beard"]] = not beard
    return Subject(
        face_w=float(rng.uniform(0.70, 0.80) * (1.1 if attrs[A["Chubby"]] else 1.0)),
        jaw=float(rng.uniform(0.18, 0.28) if male else rng.uniform(0.30, 0.42)),
        skin=skin,
        hair=hair.astype(np.float32),
        iris=_IRIS[rng.integers(len(_IRIS))].astype(np.float32),
        clothes=rng.uniform(0.05, 0.85, 3).astype(np.float32),
        eye_x=float(rng.uniform(0.30, 0.37)),
        eye_y=float(rng.uniform(-0.22, -0.12)),
        eye_w=float(rng.uniform(0.12, 0.15)),
        eye_h=float(rng.uniform(0.055, 0.075) * (0.6 if attrs[A["Narrow_Eyes"]] else 1.0)),
        nose=float(rng.uniform(0.85, 1.05) * (1.35 if attrs[A["Big_Nose"]] else 1.0)),
        mouth_y=float(rng.uniform(0.50, 0.58)),
        mouth_w=float(rng.uniform(0.24, 0.30)),
        lips=float(rng.uniform(0.04, 0.055) * (1.5 if attrs[A["Big_Lips"]] else 1.0)),
        hair_volume=float(rng.uniform(0.05, 0.2)),
        long_hair=bool(not male and rng.random() < 0.8),
        attributes=attrs,
    )


def sample_image_attributes(rng: np.random.Generator, subject: Subject) -> np.ndarray:
    """The 40 attributes of one photo of `subject`: its own plus per-photo draws."""
    attrs = subject.attributes.copy()
    male = bool(attrs[A["Male"]])
    smiling = rng.random() < _PRIOR["Smiling"]
    attrs[A["Smiling"]] = smiling
    attrs[A["Mouth_Slightly_Open"]] = rng.random() < (0.75 if smiling else 0.25)
    attrs[A["Eyeglasses"]] = rng.random() < _PRIOR["Eyeglasses"] * 1.5
    attrs[A["Wearing_Hat"]] = rng.random() < _PRIOR["Wearing_Hat"] * 1.5
    attrs[A["Blurry"]] = rng.random() < _PRIOR["Blurry"]
    attrs[A["Rosy_Cheeks"]] = (not male) and rng.random() < 0.12
    attrs[A["Wearing_Lipstick"]] = (not male) and rng.random() < 0.8
    attrs[A["Wearing_Earrings"]] = (not male) and rng.random() < 0.33
    attrs[A["Wearing_Necklace"]] = rng.random() < (0.03 if male else 0.2)
    attrs[A["Wearing_Necktie"]] = male and rng.random() < 0.17
    if attrs[A["Wearing_Hat"]]:  # a hat hides the fringe
        attrs[A["Bangs"]] = 0
    return attrs
