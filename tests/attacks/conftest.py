"""Small trained fixtures for the attack tests, after Foolbox's own attack-test conventions.

A tiny CNN is trained (seconds, once per session) on a tiny separable data set of
textured colour images, four classes told apart by where a coloured patch lies, so
that gradient, spatial and sparse attacks all have something to work on.
"""

from __future__ import annotations

import os
from typing import NamedTuple

os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

import foolbox as fb  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

SIZE = 24
CLASSES = 4


class Trained(NamedTuple):
    """A trained model, as a module and as a Foolbox model, and test images it gets right."""

    net: torch.nn.Module
    fmodel: fb.PyTorchModel
    x: torch.Tensor
    y: torch.Tensor


def patch_images(n: int, *, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Textured images in [0, 1] with a reddish patch in the quadrant of their class."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, CLASSES, (n,), generator=g)
    coarse = torch.rand(n, 3, SIZE // 4, SIZE // 4, generator=g)
    x = 0.25 + 0.35 * F.interpolate(coarse, size=SIZE, mode="bilinear", align_corners=False)
    x = x + 0.1 * torch.rand(n, 3, SIZE, SIZE, generator=g)  # fine texture for the sigma-map
    half = SIZE // 2
    for i in range(n):
        top = int(y[i] // 2) * half + int(torch.randint(1, half - 6, (1,), generator=g))
        left = int(y[i] % 2) * half + int(torch.randint(1, half - 6, (1,), generator=g))
        x[i, 0, top:top + 5, left:left + 5] += 0.3
        x[i, 1:, top:top + 5, left:left + 5] -= 0.1
    return x.clamp(0, 1), y


def tiny_cnn() -> torch.nn.Module:
    """Two convolutions and a linear layer: four logits."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveMaxPool2d(1),
        torch.nn.Flatten(), torch.nn.Linear(32, CLASSES),
    )


@pytest.fixture(scope="session")
def trained() -> Trained:
    """The tiny CNN trained on 512 images; 10 test images it classifies right."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            net = tiny_cnn()
            x, y = patch_images(512, seed=1)
            optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
            for _ in range(10):
                for i in range(0, len(x), 64):
                    loss = F.cross_entropy(net(x[i:i + 64]), y[i:i + 64])
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
        net.eval()
        for p in net.parameters():
            p.requires_grad_(False)
        xt, yt = patch_images(64, seed=2)
        with torch.no_grad():
            right = net(xt).argmax(1) == yt
        assert right.float().mean() >= 0.9, f"the fixture learned too little ({right.float().mean():.0%})"
        keep = right.nonzero().flatten()[:10]
        return Trained(net, fb.PyTorchModel(net, bounds=(0, 1)), xt[keep], yt[keep])
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors gain nothing from threads, which only contend on a busy CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
