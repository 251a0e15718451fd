"""Training SFA's generators against a frozen target (Eq. 4-5).

A live x gets x + M_spoof(x) and must be judged spoof; a spoof x gets x + M_live(x)
and must be judged live. The loss is the BCE of the target's live/spoof decision
against the opposite label (on the logit difference spoof - live, i.e. the log-odds
of the softmax), plus ``kl_weight`` times the VAE's KL term.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fgav.core.errors import FgavError
from fgav.core.interfaces import Batch, device_of
from fgav.sfa.vae import kl_divergence

if TYPE_CHECKING:
    from fgav.core.model import MultiTaskModel
    from fgav.sfa.augmenter import SFA


@contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """The model in eval mode with no gradient to its parameters; both restored afterwards."""
    was_training = model.training
    flags = [p.requires_grad for p in model.parameters()]
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        yield model
    finally:
        for p, flag in zip(model.parameters(), flags):
            p.requires_grad_(flag)
        model.train(was_training)


def spoof_logit(model: nn.Module, x: Tensor) -> Tensor:
    """The target's log-odds of spoof, ``logit[spoof] - logit[live]``, shape ``(B,)``."""
    logits = model(x)["classification"]
    return logits[:, 1] - logits[:, 0]


def sfa_loss(sfa: SFA, model: nn.Module, x: Tensor, spoof: Tensor, *, kl_weight: float) -> tuple[Tensor, Tensor, Tensor]:
    """Eq. 4-5 on one batch: ``(loss, bce per sample, fooled per sample)``.

    Each generator runs on the whole batch (its BN statistics then cover both
    classes, as at attack time); each sample keeps the map of the opposite class.
    """
    texture = sfa.texture_map(x)
    live, spoof_out = sfa.g_live(x, sample=True), sfa.g_spoof(x, sample=True)
    is_spoof = spoof.view(-1, 1, 1, 1).bool()
    opposite = torch.where(is_spoof, live.map, spoof_out.map) * texture
    x_opposite = (x + opposite).clamp(0, 1)  # Eq. 4
    target = (1 - spoof).to(x.dtype)  # the opposite label
    log_odds = spoof_logit(model, x_opposite)
    bce = F.binary_cross_entropy_with_logits(log_odds, target, reduction="none")  # Eq. 5
    kl = torch.where(spoof.bool(), kl_divergence(live.mu, live.logvar), kl_divergence(spoof_out.mu, spoof_out.logvar))
    fooled = (log_odds > 0).long() != spoof
    return bce.mean() + kl_weight * kl.mean(), bce.detach(), fooled


def _images_and_labels(batch: Batch, device: torch.device) -> tuple[Tensor, Tensor]:
    if "image" in batch and len(batch["image"]) == 0:  # every image of the batch was unreadable
        return batch["image"], torch.zeros(0, dtype=torch.long)
    if "image" not in batch or "spoof" not in batch:
        raise FgavError("SFA training needs batches with 'image' and 'spoof' keys")
    x, spoof = batch["image"], torch.as_tensor(batch["spoof"]).reshape(-1)
    if len(spoof) != len(x):
        raise FgavError(f"a training batch has {len(spoof)} live/spoof labels for {len(x)} images")
    return x.to(device, torch.float32), spoof.to(device, torch.long)


def train_sfa(
    sfa: SFA,
    model: MultiTaskModel,
    loader: Iterable[Batch],
    *,
    epochs: int = 3,
    lr: float = 1e-3,
    kl_weight: float = 1e-3,
    max_steps: int | None = None,
    progress: Callable[[int, int | None, float], None] | None = None,
) -> dict[str, Any]:
    """Train ``sfa``'s generators against the frozen ``model``; return the training figures.

    The figures are the steps, samples and seconds, the mean loss of the first and
    last epoch, and the share of samples the target judged as the opposite class
    after adding M_opposite (``fool_rate``, last epoch).

    Raises:
        FgavError: bad options, or a loader that yields no usable batch.
    """
    if epochs < 1:
        raise FgavError(f"SFA training needs at least one epoch, not {epochs}")
    if lr <= 0 or kl_weight < 0:
        raise FgavError(f"SFA training needs lr > 0 and kl_weight >= 0 (got lr={lr}, kl_weight={kl_weight})")
    device = device_of(model)
    sfa.to(device)
    params = list(sfa.g_live.parameters()) + list(sfa.g_spoof.parameters())
    optimizer = torch.optim.Adam(params, lr=lr)
    try:
        total: int | None = len(loader) * epochs  # type: ignore[arg-type]
    except TypeError:
        total = None
    if max_steps is not None:
        total = max_steps if total is None else min(total, max_steps)
    step, samples, start = 0, 0, time.perf_counter()
    epoch_losses: list[float] = []
    fooled_last, seen_last = 0, 0
    sfa.train()
    try:
        with frozen(model):
            for _ in range(epochs):
                loss_sum, batches, fooled_last, seen_last = 0.0, 0, 0, 0
                for batch in loader:
                    x, spoof = _images_and_labels(batch, device)
                    if len(x) < 2:  # BatchNorm needs two samples
                        continue
                    loss, _, fooled = sfa_loss(sfa, model, x, spoof, kl_weight=kl_weight)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    step, samples = step + 1, samples + len(x)
                    loss_sum, batches = loss_sum + loss.detach().item(), batches + 1
                    fooled_last, seen_last = fooled_last + int(fooled.sum()), seen_last + len(x)
                    if progress is not None:
                        progress(step, total, loss.detach().item())
                    if max_steps is not None and step >= max_steps:
                        break
                if batches:
                    epoch_losses.append(loss_sum / batches)
                if max_steps is not None and step >= max_steps:
                    break
    finally:
        sfa.eval()
    if step == 0:
        raise FgavError("SFA training got no batch with at least two images")
    return {
        "epochs": len(epoch_losses),
        "steps": step,
        "samples": samples,
        "lr": lr,
        "kl_weight": kl_weight,
        "first_epoch_loss": round(epoch_losses[0], 6),
        "last_epoch_loss": round(epoch_losses[-1], 6),
        "fool_rate": round(fooled_last / max(seen_last, 1), 6),
        "seconds": round(time.perf_counter() - start, 3),
    }
