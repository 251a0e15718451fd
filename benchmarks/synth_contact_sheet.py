"""Draws SynthSpoof's contact sheet: every spoof type, illumination, environment, some
attributes, and the depth and reflection maps, each tile labelled.

    python benchmarks/synth_contact_sheet.py [--out docs/synthspoof_contact_sheet.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from fgav.data.labels import ILLUMINATION_NAMES, SPOOF_TYPE_NAMES
from fgav.data.synth import render_sample, sample_subject
from fgav.data.synth.faces import Pose

TILE = 112
CAPTION = 14
COLUMNS = 10


def _tile(image: np.ndarray, caption: str) -> Image.Image:
    """One labelled tile: the image over a caption strip."""
    tile = Image.new("RGB", (TILE, TILE + CAPTION), (255, 255, 255))
    tile.paste(Image.fromarray(image).resize((TILE, TILE), Image.NEAREST), (0, 0))
    ImageDraw.Draw(tile).text((2, TILE + 1), caption[:19], fill=(0, 0, 0))
    return tile


def _gray(a: np.ndarray) -> np.ndarray:
    return np.repeat((np.clip(a, 0, 1) * 255).astype(np.uint8)[..., None], 3, axis=2)


def contact_sheet(*, size: int = 112, seed: int = 7, difficulty: float | None = None) -> Image.Image:
    """Renders the sheet: one row per theme, ten tiles a row."""
    kw = {} if difficulty is None else {"difficulty": difficulty}
    rng = np.random.default_rng(seed)
    pose = Pose(cy=0.04, scale=0.5)
    rows: list[list[Image.Image]] = []
    # Spoof types, two subjects each.
    for r in range(2):
        row = []
        for t in range(1, 11):
            s = render_sample(seed * 100 + 10 * r + t, size=size, spoof_type=t, illumination=1, **kw)
            row.append(_tile(s.image, f"{t} {SPOOF_TYPE_NAMES[t]}"))
        rows.append(row)
    # Live faces with one attribute forced on.
    attrs = ["Eyeglasses", "Smiling", "Bald", "Wearing_Hat", "Blond_Hair", "Gray_Hair", "Bangs",
             "Goatee", "Wearing_Lipstick", "Pale_Skin"]  # fmt: skip
    row = []
    for i, name in enumerate(attrs):
        subject = sample_subject(np.random.default_rng(seed * 1000 + i))
        force = {name: 1}
        if name.endswith("_Hair"):  # a hair colour is the subject's; repaint the hair
            tint = {"Blond_Hair": (0.85, 0.7, 0.42), "Gray_Hair": (0.62, 0.62, 0.62)}[name]
            subject = type(subject)(**{**subject.__dict__, "hair": np.array(tint, np.float32)})
            force = {"Bald": 0, name: 1}
        if name == "Goatee":
            force = {"Goatee": 1, "Mustache": 1, "No_Beard": 0}
        s = render_sample(rng, size=size, subject=subject, attributes=force, pose=pose, illumination=1, **kw)
        row.append(_tile(s.image, name.replace("Wearing_", "")))
    rows.append(row)
    # Illuminations (a photo print and a pad replay) and environments.
    row = []
    for t in (1, 8):
        for ill in range(1, 5):
            s = render_sample(seed + 3, size=size, spoof_type=t, illumination=ill, environment=1, **kw)
            row.append(_tile(s.image, f"{SPOOF_TYPE_NAMES[t]} {ILLUMINATION_NAMES[ill]}"))
    for env, name in ((1, "Indoor"), (2, "Outdoor")):
        s = render_sample(seed + 5, size=size, spoof_type=2, illumination=1, environment=env, **kw)
        row.append(_tile(s.image, f"Poster {name}"))
    rows.append(row)
    # Ground-truth maps: live depth, replay and print reflections.
    row = []
    for t, ill in ((0, 1), (0, 2), (7, 1), (9, 1), (1, 1)):
        s = render_sample(seed + 11 * t + ill, size=size, spoof_type=t, illumination=ill, **kw)
        name = SPOOF_TYPE_NAMES[t]
        row.append(_tile(s.image, name))
        row.append(_tile(_gray(s.depth if t == 0 else s.reflection), f"{name} {'depth' if t == 0 else 'refl.'}"))
    rows.append(row)
    # Live under the same four lights (labelled 0), and more live faces.
    row = []
    for ill in range(1, 5):
        s = render_sample(seed + 21, size=size, spoof_type=0, illumination=ill, **kw)
        row.append(_tile(s.image, f"Live, {ILLUMINATION_NAMES[ill].lower()} light"))
    for i in range(6):
        s = render_sample(seed * 7 + i, size=size, spoof_type=0, **kw)
        row.append(_tile(s.image, "Live"))
    rows.append(row)
    sheet = Image.new("RGB", (COLUMNS * TILE, len(rows) * (TILE + CAPTION)), (255, 255, 255))
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            sheet.paste(tile, (c * TILE, r * (TILE + CAPTION)))
    return sheet


def main() -> None:
    """Writes the contact sheet."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/synthspoof_contact_sheet.png"))
    parser.add_argument("--size", type=int, default=112, help="render size (tiles are 112 px)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--difficulty", type=float, default=None)
    args = parser.parse_args()
    contact_sheet(size=args.size, seed=args.seed, difficulty=args.difficulty).save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
