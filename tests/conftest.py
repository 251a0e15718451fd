"""Shared fixtures: tiny batches with every ground-truth key of the batch schema (docs/plugins.md)."""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

import pytest
import torch


def make_batch(batch_size: int = 4, size: int = 32, *, seed: int = 0) -> dict[str, Any]:
    """A batch dict with plausible values for every key a built-in head reads."""
    g = torch.Generator().manual_seed(seed)
    spoof = torch.arange(batch_size) % 2
    spoof_type = torch.where(spoof == 1, torch.randint(1, 11, (batch_size,), generator=g), 0)
    illumination = torch.where(spoof == 1, torch.randint(1, 5, (batch_size,), generator=g), 0)
    environment = torch.where(spoof == 1, torch.randint(1, 3, (batch_size,), generator=g), 0)
    attributes = (torch.rand(batch_size, 40, generator=g) > 0.7).float() * (1 - spoof).unsqueeze(1)
    depth = torch.rand(batch_size, 1, size, size, generator=g) * (1 - spoof).view(-1, 1, 1, 1)
    reflection = torch.rand(batch_size, 1, size, size, generator=g) * spoof.view(-1, 1, 1, 1)
    return {
        "image": torch.rand(batch_size, 3, size, size, generator=g),
        "spoof": spoof,
        "spoof_type": spoof_type,
        "illumination": illumination,
        "environment": environment,
        "attributes": attributes,
        "depth": depth,
        "reflection": reflection,
        "index": torch.arange(batch_size),
    }


@pytest.fixture
def batch() -> dict[str, Any]:
    """A batch of 4 images at 32 px with every ground-truth key."""
    return make_batch(4, 32)


@pytest.fixture(autouse=True)
def _fgav_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every test's caches (SynthSpoof, default models) out of the user's home."""
    if "FGAV_CACHE" not in os.environ:
        monkeypatch.setenv("FGAV_CACHE", str(tmp_path_factory.getbasetemp() / "fgav-cache"))

from tests.auditing.conftest import tiny_data, tiny_target  # noqa: E402,F401  (shared by tests/core and tests/test_transfer.py)
