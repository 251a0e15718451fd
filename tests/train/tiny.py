"""Tiny data sets with a learnable live/spoof signal, for the training tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from fgav.data.testing import label, write_tree

KEYS = frozenset({"image", "spoof", "spoof_type", "illumination", "environment", "attributes", "depth", "reflection"})


class ToyFAS(Dataset):
    """In-memory batch dicts: spoof images are brighter and striped, live ones darker."""

    provides = KEYS

    def __init__(self, n: int = 32, size: int = 32, *, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.items: list[dict[str, Any]] = []
        stripes = (torch.arange(size) % 4 < 2).float().view(1, 1, size)
        for i in range(n):
            spoof = i % 2
            noise = torch.rand(3, size, size, generator=g) * 0.4
            image = (noise + 0.1 + spoof * (0.3 + 0.2 * stripes)).clamp(0, 1)
            kind = int(torch.randint(1, 11, (1,), generator=g)) if spoof else 0
            self.items.append({
                "image": image, "spoof": torch.tensor(spoof), "spoof_type": torch.tensor(kind),
                "illumination": torch.tensor(spoof), "environment": torch.tensor(spoof),
                "attributes": (torch.rand(40, generator=g) > 0.5).float(),
                "depth": torch.full((1, size, size), 1.0 - spoof), "reflection": torch.full((1, size, size), 0.5 * spoof),
                "index": torch.tensor(i),
            })  # fmt: skip

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.items[index]


def write_tiny_tree(root: Path, *, n_train: int = 24, n_test: int = 22, size: int = 32) -> Path:
    """A CelebA-Spoof-layout tree (train and test) with depth and reflection maps."""
    rng = np.random.default_rng(0)
    samples: dict[str, dict[str, Any]] = {}
    for split, n in (("train", n_train), ("test", n_test)):
        for i in range(n):
            spoof = i % 2
            base = rng.integers(0, 100, (size, size, 3)) + (120 if spoof else 0)
            rel = f"Data/{split}/{i // 4}/{'spoof' if spoof else 'live'}/{i:03d}.png"
            samples[rel] = {
                "label": label(spoof=spoof, spoof_type=3 * spoof, illumination=spoof, environment=spoof, attrs=(i % 40,)),
                "image": base,
                "bb": f"0 0 {size} {size} 1",
                "depth": np.full((size, size), 0 if spoof else 200),
                "reflection": np.full((size, size), 150 if spoof else 0),
            }
    return write_tree(root, samples)
