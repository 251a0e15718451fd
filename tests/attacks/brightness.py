"""A tiny trained brightness classifier and its gradient-masked twin, for the loss-reading attacks' tests."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fgav.attacks.scoring import Scorer

SIZE = 16


def brightness_data(n: int = 48, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Textured images ``(n, 3, SIZE, SIZE)`` labelled 1 where their mean brightness exceeds 0.5."""
    g = torch.Generator().manual_seed(seed)
    texture = F.interpolate(torch.rand(n, 3, 4, 4, generator=g), size=SIZE, mode="bilinear", align_corners=False)
    offset = (torch.rand(n, 1, 1, 1, generator=g) - 0.5) * 0.3
    x = (0.5 + offset + 0.3 * (texture - 0.5)).clamp(0, 1)
    return x, (x.mean(dim=(1, 2, 3)) > 0.5).long()


def train_brightness(x: torch.Tensor, y: torch.Tensor, *, steps: int = 200, seed: int = 0) -> nn.Module:
    """A small CNN trained to tell bright images from dark ones (a second on a CPU)."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(steps):
        loss = F.cross_entropy(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


class Quantized(nn.Module):
    """A model that rounds its input to 8 bits first: its input gradient is zero (masked)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(torch.round(x * 255) / 255)


def counting(score: Scorer, n: int) -> tuple[Scorer, torch.Tensor]:
    """A scorer that counts how often each sample is scored."""
    counts = torch.zeros(n, dtype=torch.long)

    def counted(x: torch.Tensor, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        counts[index] += 1
        return score(x, index)

    return counted, counts
