"""A tiny trained multitask target and an in-memory data set for the audit's tests."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch.utils.data import Dataset

import fgav
from tests.conftest import make_batch

SIZE = 32


class TensorFAS(Dataset):
    """An in-memory face anti-spoofing data set: spoof images carry a fine checkerboard."""

    def __init__(self, n: int = 48, *, seed: int = 0) -> None:
        batch = make_batch(n, SIZE, seed=seed)
        g = torch.Generator().manual_seed(seed + 1)
        smooth = torch.nn.functional.interpolate(torch.rand(n, 3, 4, 4, generator=g), size=SIZE, mode="bilinear")
        checker = ((torch.arange(SIZE).view(-1, 1) + torch.arange(SIZE).view(1, -1)) % 2).float()
        spoof = batch["spoof"].view(-1, 1, 1, 1).float()
        batch["image"] = (0.15 + 0.7 * smooth + 0.12 * spoof * (checker - 0.5)).clamp(0, 1)
        self.items = [{k: v[i] for k, v in batch.items()} for i in range(n)]
        self.provides = frozenset(k for k in batch if k != "index")

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return dict(self.items[index])

    def limit(self, n: int) -> TensorFAS:
        out = TensorFAS.__new__(TensorFAS)
        out.items, out.provides = self.items[:n], self.provides
        return out


def train_tiny(data: Dataset, *, steps: int = 60, seed: int = 0) -> fgav.MultiTaskModel:
    """A timm test_resnet multitask model trained briefly on ``data`` (seconds on a CPU)."""
    torch.manual_seed(seed)
    model = fgav.build_model("timm:test_resnet", image_size=SIZE)
    loader = torch.utils.data.DataLoader(data, batch_size=16, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    step = 0
    while step < steps:
        for batch in loader:
            loss = model.loss(model(batch["image"]), batch).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if step >= steps:
                break
    return model.eval()


@pytest.fixture(scope="session")
def tiny_data() -> TensorFAS:
    return TensorFAS(48)


@pytest.fixture(scope="session")
def tiny_target(tiny_data: TensorFAS) -> fgav.MultiTaskModel:
    return train_tiny(tiny_data)
