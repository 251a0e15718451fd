"""Aiming an attack at one part of a multitask model (Eq. 11): the bridge to Foolbox.

Foolbox models have one output (its issue 608). fgav's bridge gives Foolbox a model
whose logits are the live/spoof decision (so every success Foolbox judges is judged on
that decision) and whose gradients are the chosen part's per-sample loss against its
ground truth: a straight-through construction, ``value = z_cls``, ``grad = grad of
(+L/2, -L/2)`` placed on the (other, true) classes. Cross entropy and C&W's margin on
these logits ascend the part's loss; for the classification part they are the plain
logits. Foolbox's attacks are used untouched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import foolbox as fb
import torch
from torch import Tensor, nn

from fgav.core.errors import FgavError
from fgav.core.interfaces import device_of
from fgav.core.model import CLASSIFICATION, MultiTaskModel
from fgav.core.types import Batch

BOUNDS = (0.0, 1.0)


@dataclass
class PartObjective:
    """The part an attack ascends: a head of the model and its ground truth for one batch."""

    model: MultiTaskModel
    part: str
    target: Tensor
    labels: Tensor

    @classmethod
    def for_batch(cls, model: MultiTaskModel, part: str, batch: Batch) -> PartObjective:
        """The objective of ``part`` on a batch whose ground truth holds the part's key.

        Raises:
            FgavError: the model has no such head, or the batch lacks its ground truth.
        """
        if part not in model.heads:
            raise FgavError(f"the model has no part {part!r}; its parts: {', '.join(model.head_names)}")
        head = model.heads[part]
        missing = head.missing_keys(batch)
        if missing:
            raise FgavError(f"the data has no ground truth {', '.join(map(repr, missing))} for the part {part!r}")
        device = batch["image"].device
        return cls(model, part, head.target(batch).to(device), batch["spoof"].to(device).long())

    def losses(self, outputs: Mapping[str, Tensor], index: Tensor | None = None) -> Tensor:
        """The part's per-sample loss ``(B,)`` for outputs of (a subset ``index`` of) the batch."""
        target = self.target if index is None else self.target[index]
        return self.model.heads[self.part].loss(outputs[self.part], target)

    def evaluate(self, x: Tensor, index: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """One forward: the part's per-sample loss and the live/spoof logits at ``x``."""
        outputs = self.model(x)
        return self.losses(outputs, index), outputs[CLASSIFICATION]


class AimedModule(nn.Module):
    """Live/spoof logits in value, the aimed part's loss in gradient (straight through)."""

    def __init__(self, objective: PartObjective) -> None:
        super().__init__()
        self.objective = objective

    def forward(self, x: Tensor) -> Tensor:
        """Return ``(B, 2)`` logits for Foolbox."""
        obj = self.objective
        if x.shape[0] != obj.labels.shape[0]:
            raise FgavError(
                f"an attack evaluated the model on {x.shape[0]} inputs of a batch of {obj.labels.shape[0]}; "
                "fgav aims attacks batch by batch"
            )
        outputs = obj.model(x)
        logits = outputs[CLASSIFICATION]
        if obj.part == CLASSIFICATION:
            return logits
        loss = obj.losses(outputs).to(logits.dtype)
        true = torch.nn.functional.one_hot(obj.labels, logits.shape[1]).to(logits.dtype)
        surrogate = (0.5 - true) * loss.unsqueeze(1)  # +L/2 on the other class, -L/2 on the true one
        return logits.detach() + surrogate - surrogate.detach()


class LiveSpoofModule(nn.Module):
    """The live/spoof logits of a multitask model: the classification part, for Foolbox."""

    def __init__(self, model: MultiTaskModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        """Return the ``(B, 2)`` live/spoof logits."""
        return self.model(x)[CLASSIFICATION]


def aimed_model(objective: PartObjective) -> fb.PyTorchModel:
    """A Foolbox model aimed at an objective's part for its batch, bounds [0,1]."""
    return fb.PyTorchModel(AimedModule(objective).eval(), bounds=BOUNDS, device=objective.labels.device)


def foolbox_model(
    model: MultiTaskModel, part: str = CLASSIFICATION, *, batch: Batch | None = None
) -> fb.PyTorchModel:
    """A Foolbox model of a multitask FAS model aimed at any part, bounds [0,1] (public API).

    Its logits are always the live/spoof decision, so Foolbox judges every success on
    it; its gradients are those of ``part``'s loss (Eq. 11). Any Foolbox attack runs on
    it unchanged::

        fmodel = fgav.foolbox_model(model, "depth", batch=batch)
        _, adv, success = fb.attacks.LinfPGD()(fmodel, batch["image"], batch["spoof"], epsilons=8 / 255)

    Args:
        model: the target, in eval mode, its parameters frozen or not.
        part: the head whose loss the attack ascends (default the live/spoof decision).
        batch: the batch the attack will run on (its ``image``, ``spoof`` labels and the
            part's ground truth); needed for every part but ``classification``, and
            the model then takes exactly that batch's images.

    Raises:
        FgavError: an unknown part, or a part other than the decision without a batch.
    """
    if part not in model.heads:
        raise FgavError(f"the model has no part {part!r}; its parts: {', '.join(model.head_names)}")
    if batch is None:
        if part != CLASSIFICATION:
            raise FgavError(f"aiming at the part {part!r} needs the batch (its ground truth): pass batch=")
        return fb.PyTorchModel(LiveSpoofModule(model).eval(), bounds=BOUNDS, device=device_of(model))
    return aimed_model(PartObjective.for_batch(model, part, batch))
