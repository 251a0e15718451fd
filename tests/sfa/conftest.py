"""A tiny learnable live/spoof task, a small target trained on it, and an SFA fitted to it.

Live images are smooth (upsampled 4x4 noise); spoof images carry a fine checkerboard
(a print's halftone, in miniature). The fixtures are session-scoped: training once
keeps the folder fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

import fgav
from fgav.sfa import SFA

SIZE = 32


def make_task(n: int, *, seed: int, size: int = SIZE, amplitude: float = 0.03) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images ``(n,3,size,size)`` in [0,1] and their spoof labels (alternating)."""
    g = torch.Generator().manual_seed(seed)
    low = F.interpolate(torch.rand(n, 3, 4, 4, generator=g), size=(size, size), mode="bilinear", align_corners=False)
    spoof = torch.arange(n) % 2
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    checker = (((yy // 2) + (xx // 2)) % 2).float() * 2 - 1
    x = (low * 0.8 + 0.1 + amplitude * checker * spoof.view(-1, 1, 1, 1)).clamp(0, 1)
    return x, spoof


def batches(x: torch.Tensor, spoof: torch.Tensor, size: int) -> list[dict[str, Any]]:
    """The loader a test hands to ``fit``: batch dicts of ``size`` images."""
    return [{"image": x[i : i + size], "spoof": spoof[i : i + size]} for i in range(0, len(x), size)]


def train_target(steps: int = 30, *, seed: int = 0) -> fgav.MultiTaskModel:
    """A ``timm:test_resnet`` target trained for a few steps on the tiny task."""
    torch.manual_seed(seed)
    x, spoof = make_task(128, seed=seed)
    model = fgav.build_model("timm:test_resnet", ["classification"], image_size=SIZE)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for step in range(steps):
        idx = torch.randint(0, len(x), (16,))
        loss = F.cross_entropy(model(x[idx])["classification"], spoof[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@pytest.fixture(scope="session")
def target() -> fgav.MultiTaskModel:
    """A small target that tells the tiny task's live from spoof."""
    return train_target()


def opposite_bce(sfa: SFA, model: fgav.MultiTaskModel, x: torch.Tensor, spoof: torch.Tensor) -> float:
    """Eq. 5's BCE of ``x + M_opposite(x)`` against the opposite label, as used at attack time."""
    with torch.no_grad():
        m_live, m_spoof = sfa.maps(x)
        opposite = torch.where(spoof.view(-1, 1, 1, 1).bool(), m_live, m_spoof)
        logits = model((x + opposite).clamp(0, 1))["classification"]
        target = (1 - spoof).float()
        return float(F.binary_cross_entropy_with_logits(logits[:, 1] - logits[:, 0], target))


@pytest.fixture(scope="session")
def fit_run(target: fgav.MultiTaskModel) -> dict[str, Any]:
    """An SFA (32 px work size, alpha 8/255) fitted to ``target`` for 12 steps, with its twin
    before fitting and the attack-time BCE before and after."""
    torch.manual_seed(0)
    x, spoof = make_task(64, seed=1)
    sfa = SFA(work_size=32, latent_dim=16)
    untrained = SFA(work_size=32, latent_dim=16)
    untrained.load_state_dict(sfa.state_dict())
    before = opposite_bce(sfa, target, x, spoof)
    steps: list[tuple[int, int | None, float]] = []
    figures = sfa.fit(target, batches(x, spoof, 16), epochs=3, lr=2e-3, progress=lambda *a: steps.append(a))
    after = opposite_bce(sfa, target, x, spoof)
    return {"sfa": sfa, "untrained": untrained, "before": before, "after": after, "figures": figures, "steps": steps}


@pytest.fixture(scope="session")
def fitted_sfa(fit_run: dict[str, Any]) -> SFA:
    """The SFA of ``fit_run``."""
    return fit_run["sfa"]


@pytest.fixture(scope="session")
def target_dir(target: fgav.MultiTaskModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``target`` saved as a checkpoint."""
    return target.save(tmp_path_factory.mktemp("target"))
