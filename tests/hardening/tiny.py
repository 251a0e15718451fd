"""A tiny trained target that PGD breaks, shared by the hardening tests."""

from __future__ import annotations

from pathlib import Path

from fgav.train import train
from tests.train.tiny import ToyFAS

# ToyFAS separates live from spoof by ~0.4 of brightness: a budget of 0.1 leaves a robust
# classifier room, yet breaks one trained on clean images only.
EPS = 0.1
TINY = {"image_size": 32, "batch_size": 8, "device": "cpu", "progress": False}
HARDEN = {"batch_size": 8, "device": "cpu", "progress": False, "lr": 2e-3, "eps": EPS}


def train_target(out: Path, *, heads: list[str] | None = None) -> Path:
    """Train the tiny target (clean images only) into ``out``."""
    train(backbone="timm:test_resnet", out=out, dataset=ToyFAS(64), epochs=4, heads=heads, **TINY)
    return out
