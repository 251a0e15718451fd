"""The generators G_live and G_spoof of SFA: VAEs that draw a bounded one-channel map.

The layout is the classic five-unit convolutional VAE (32, 64, 128, 256, 512 channels,
each Conv-BN-LeakyReLU with stride 2) with a mirrored transposed-conv decoder. It works
at a fixed resolution (``work_size``, 64 px by default): the image is resized to it on
the way in and the map back to the input's size on the way out, so one generator
serves 32 to 224 px inputs.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fgav.core.errors import FgavError

HIDDEN: tuple[int, ...] = (32, 64, 128, 256, 512)


class VAEOutput(NamedTuple):
    """A generator's map ``(B,1,H,W)`` in ``[-alpha, alpha]``, with its posterior."""

    map: Tensor
    mu: Tensor
    logvar: Tensor


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    """The KL term of a diagonal Gaussian posterior against N(0, I), per sample ``(B,)``."""
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)


def _unit(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.BatchNorm2d(c_out), nn.LeakyReLU())


def _up(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1),
        nn.BatchNorm2d(c_out),
        nn.LeakyReLU(),
    )


class MapVAE(nn.Module):
    """A VAE from an image ``(B,3,H,W)`` in [0,1] to a map ``(B,1,H,W)`` bounded by ``alpha * tanh``.

    Args:
        alpha: the bound of the map (its L-inf size, in image units).
        latent_dim: the size of the latent code.
        work_size: the side (a multiple of 32) at which the VAE runs.
    """

    def __init__(self, *, alpha: float, latent_dim: int = 128, work_size: int = 64) -> None:
        super().__init__()
        if work_size < 32 or work_size % 32:
            raise FgavError(f"the SFA work size must be a multiple of 32 (>= 32), not {work_size}")
        if latent_dim < 1:
            raise FgavError(f"the SFA latent size must be positive, not {latent_dim}")
        self.alpha, self.latent_dim, self.work_size = float(alpha), int(latent_dim), int(work_size)
        self.grid = work_size // 2 ** len(HIDDEN)  # 5 stride-2 units: 64 px -> 2x2
        channels = (3, *HIDDEN)
        self.encoder = nn.Sequential(*(_unit(a, b) for a, b in zip(channels[:-1], channels[1:])))
        flat = HIDDEN[-1] * self.grid**2
        self.fc_mu = nn.Linear(flat, latent_dim)
        self.fc_logvar = nn.Linear(flat, latent_dim)
        self.decoder_input = nn.Linear(latent_dim, flat)
        back = HIDDEN[::-1]  # 512 -> 256 -> 128 -> 64 -> 32, then a last up-step to 32 channels
        self.decoder = nn.Sequential(*(_up(a, b) for a, b in zip(back[:-1], back[1:])), _up(back[-1], back[-1]))
        self.head = nn.Conv2d(back[-1], 1, 3, padding=1)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The posterior ``(mu, logvar)``, each ``(B, latent_dim)``, of images in [0,1]."""
        if x.shape[-2:] != (self.work_size, self.work_size):
            x = F.interpolate(x, size=(self.work_size, self.work_size), mode="bilinear", align_corners=False)
        h = self.encoder(x * 2 - 1).flatten(1)
        return self.fc_mu(h), self.fc_logvar(h).clamp(-30.0, 20.0)

    def decode(self, z: Tensor, size: tuple[int, int]) -> Tensor:
        """The map ``(B,1,*size)`` in ``[-alpha, alpha]`` of latent codes ``z``."""
        h = self.decoder_input(z).view(-1, HIDDEN[-1], self.grid, self.grid)
        out = self.alpha * torch.tanh(self.head(self.decoder(h)))
        if out.shape[-2:] != size:
            out = F.interpolate(out, size=size, mode="bilinear", align_corners=False)
        return out  # bilinear resizing is a convex combination: the bound still holds

    def forward(self, x: Tensor, *, sample: bool | None = None) -> VAEOutput:
        """Return the map of images ``x`` and the posterior.

        Args:
            x: images ``(B,3,H,W)`` in [0,1], any H, W.
            sample: draw z by reparametrization (default: in training mode only);
                otherwise z = mu, so the map is deterministic.
        """
        mu, logvar = self.encode(x)
        sample = self.training if sample is None else sample
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if sample else mu
        return VAEOutput(self.decode(z, (int(x.shape[-2]), int(x.shape[-1]))), mu, logvar)
