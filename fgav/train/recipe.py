"""The default training recipe: optimizer, schedule and light augmentation.

AdamW with a one-cycle schedule (a short linear warm-up, then cosine decay), weight
decay on weights only, gradient clipping, and random horizontal flips of the image and
its depth and reflection maps together (a flip changes no label). Backbones are trained
from scratch (no weights are ever downloaded), so the recipe favours a high peak
learning rate and few epochs; Swin, a transformer, gets a lower one.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, cast

import torch
from torch import Tensor, nn

from fgav.core.types import Batch

# Batch keys that are images of the same scene as ``image``: flipped along with it.
SPATIAL_KEYS: tuple[str, ...] = ("image", "depth", "reflection")


@dataclass(frozen=True)
class Recipe:
    """How to train a target model; every field is a ``fgav train`` option."""

    epochs: int = 12
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_fraction: float = 0.1
    grad_clip: float = 5.0
    flip: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The recipe as plain JSON values."""
        return asdict(self)

    def updated(self, **changes: Any) -> Recipe:
        """A copy with the given fields changed (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


# Per-backbone changes to the default recipe. The epochs bring every backbone's first
# audit number (SynthSpoof, target, SFA, audit) within 10 minutes on a quiet 2-core CPU
# at 64 px (2,000 images; docs/training.md has the measured times and accuracies).
_BACKBONE_RECIPES: dict[str, dict[str, Any]] = {
    "vgg13": {"lr": 5e-4, "epochs": 4},  # no batch norm: a high rate diverges from scratch; 74 s an epoch
    "densenet121": {"epochs": 8},
    "swin": {"lr": 5e-4, "epochs": 6},  # 47 s an epoch
}


def default_recipe(backbone: str) -> Recipe:
    """The default recipe of a backbone: the common one with that backbone's changes."""
    return Recipe().updated(**_BACKBONE_RECIPES.get(backbone, {}))


def make_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """AdamW, with no weight decay on biases and normalization parameters."""
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for param in model.parameters():
        if param.requires_grad:
            (decay if param.dim() > 1 else no_decay).append(param)
    groups = [
        {"params": decay, "weight_decay": recipe.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=recipe.lr)


def make_scheduler(
    optimizer: torch.optim.Optimizer, recipe: Recipe, *, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-step schedule: linear warm-up to the peak rate, then cosine decay to 1% of it."""
    total = max(total_steps, 1)
    warmup = max(int(total * recipe.warmup_fraction), 1)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min((step - warmup) / max(total - warmup, 1), 1.0)
        return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def augment(batch: Batch, *, generator: torch.Generator, recipe: Recipe) -> Batch:
    """Flip half the samples of a batch horizontally, image and maps together."""
    if not recipe.flip:
        return batch
    image: Tensor = batch["image"]
    flip = torch.rand(image.shape[0], generator=generator) < 0.5
    if not flip.any():
        return batch
    out: dict[str, Any] = dict(batch)
    for key in SPATIAL_KEYS:
        value = out.get(key)
        if isinstance(value, Tensor) and value.dim() == 4 and value.shape[0] == flip.shape[0]:
            mask = flip.to(value.device).view(-1, 1, 1, 1)
            out[key] = torch.where(mask, value.flip(-1), value)
    return cast("Batch", out)
