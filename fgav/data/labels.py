"""CelebA-Spoof's 44-entry label vector, named: the batch dict keys (:class:`fgav.core.types.Batch`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

# CelebA's 40 attributes, in CelebA's order (label indices 0-39).
ATTRIBUTE_NAMES: tuple[str, ...] = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald",
    "Bangs", "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair",
    "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby", "Double_Chin",
    "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones",
    "Male", "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard",
    "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks",
    "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings",
    "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
)  # fmt: skip

# Label index 40: 0 live, 1-10 the spoof types of CelebA-Spoof.
SPOOF_TYPE_NAMES: tuple[str, ...] = (
    "Live", "Photo", "Poster", "A4", "Face Mask", "Upper Body Mask", "Region Mask",
    "PC", "Pad", "Phone", "3D Mask",
)  # fmt: skip
# Label index 41: 0 live, 1-4 the illuminations of spoof images.
ILLUMINATION_NAMES: tuple[str, ...] = ("Live", "Normal", "Strong", "Back", "Dark")
# Label index 42: 0 live, 1-2 the environments of spoof images.
ENVIRONMENT_NAMES: tuple[str, ...] = ("Live", "Indoor", "Outdoor")

LABEL_LENGTH = 44
SPOOF_TYPE_INDEX, ILLUMINATION_INDEX, ENVIRONMENT_INDEX, SPOOF_INDEX = 40, 41, 42, 43

# The values each entry of a label vector may take: (batch key, first index, last index, highest value).
# Attributes and live/spoof are 0 or 1; the three types count from 0 (live) to their last name.
LABEL_RANGES: tuple[tuple[str, int, int, int], ...] = (
    ("attribute", 0, 39, 1),
    ("spoof_type", SPOOF_TYPE_INDEX, SPOOF_TYPE_INDEX, len(SPOOF_TYPE_NAMES) - 1),
    ("illumination", ILLUMINATION_INDEX, ILLUMINATION_INDEX, len(ILLUMINATION_NAMES) - 1),
    ("environment", ENVIRONMENT_INDEX, ENVIRONMENT_INDEX, len(ENVIRONMENT_NAMES) - 1),
    ("spoof", SPOOF_INDEX, SPOOF_INDEX, 1),
)

# The batch keys that come out of the label vector alone.
LABEL_KEYS: tuple[str, ...] = ("attributes", "spoof_type", "illumination", "environment", "spoof")


def out_of_range(vectors: np.ndarray) -> tuple[int, str] | None:
    """The first label out of its range in ``(N, 44)`` vectors: ``(row, what is wrong)``, or ``None``.

    ``what`` names the label, its index and the values it may take, e.g.
    ``"spoof_type 99 (label index 40), expected 0 to 10"``.
    """
    bad_rows = np.zeros(len(vectors), dtype=bool)
    for _name, first, last, high in LABEL_RANGES:
        part = vectors[:, first : last + 1]
        bad_rows |= ((part < 0) | (part > high)).any(axis=1)
    if not bad_rows.any():
        return None
    row = int(np.argmax(bad_rows))
    for name, first, last, high in LABEL_RANGES:
        for index in range(first, last + 1):
            value = int(vectors[row, index])
            if not 0 <= value <= high:
                label = f"attribute {ATTRIBUTE_NAMES[index]}" if name == "attribute" else name
                expected = "0 or 1" if high == 1 else f"0 to {high}"
                return row, f"{label} {value} (label index {index}), expected {expected}"
    raise AssertionError("unreachable: a bad row has a bad entry")


def split_label(label: Sequence[int]) -> dict[str, Any]:
    """Split one 44-int label vector into the batch dict's label entries (tensors).

    Raises:
        ValueError: the vector does not have 44 entries.
    """
    if len(label) != LABEL_LENGTH:
        raise ValueError(f"a label vector has {LABEL_LENGTH} entries, this one {len(label)}")
    return {
        "attributes": torch.tensor(label[:40], dtype=torch.float32),
        "spoof_type": torch.tensor(int(label[SPOOF_TYPE_INDEX])),
        "illumination": torch.tensor(int(label[ILLUMINATION_INDEX])),
        "environment": torch.tensor(int(label[ENVIRONMENT_INDEX])),
        "spoof": torch.tensor(int(label[SPOOF_INDEX])),
    }
