"""The heads on the pooled features: live/spoof, spoof type, illumination, attributes (Eq. 8)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch.nn.functional as F
from torch import Tensor, nn

from fgav.core.interfaces import AuxHead


class LinearHead(AuxHead):
    """A fully connected layer on globally pooled backbone features."""

    num_outputs: ClassVar[int] = 1

    def __init__(self, in_channels: int, *, dropout: float = 0.0, **options: Any) -> None:
        super().__init__(in_channels, **options)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_channels, self.num_outputs)

    def forward(self, features: Tensor) -> Tensor:
        """Return logits ``(B, num_outputs)``."""
        return self.fc(self.dropout(features.mean(dim=(2, 3))))


class SoftmaxHead(LinearHead):
    """A softmax classifier trained with cross entropy."""

    def loss(self, pred: Tensor, target: Tensor) -> Tensor:
        """Per-sample cross entropy, shape ``(B,)``."""
        return F.cross_entropy(pred.float(), target.long(), reduction="none")

    def correct(self, pred: Tensor, target: Tensor) -> Tensor:
        """Whether the arg-max class is the true one, shape ``(B,)``."""
        return pred.argmax(dim=1) == target.long()


class ClassificationHead(SoftmaxHead):
    """Live/spoof decision: 2 logits (0 live, 1 spoof), cross entropy."""

    name: ClassVar[str] = "classification"
    target_key: ClassVar[str] = "spoof"
    num_outputs: ClassVar[int] = 2
    loss_weight: ClassVar[float] = 1.0


class SpoofTypeHead(SoftmaxHead):
    """Spoof type: 11 logits (live and CelebA-Spoof's 10 spoof types), cross entropy."""

    name: ClassVar[str] = "spoof_type"
    target_key: ClassVar[str] = "spoof_type"
    num_outputs: ClassVar[int] = 11
    loss_weight: ClassVar[float] = 0.1


class IlluminationHead(SoftmaxHead):
    """Illumination: 5 logits (live, normal, strong, back, dark), cross entropy."""

    name: ClassVar[str] = "illumination"
    target_key: ClassVar[str] = "illumination"
    num_outputs: ClassVar[int] = 5
    loss_weight: ClassVar[float] = 0.01


class AttributeHead(LinearHead):
    """Facial attributes: CelebA's 40 binary attributes, multilabel binary cross entropy."""

    name: ClassVar[str] = "attribute"
    target_key: ClassVar[str] = "attributes"
    num_outputs: ClassVar[int] = 40
    loss_weight: ClassVar[float] = 1.0

    def loss(self, pred: Tensor, target: Tensor) -> Tensor:
        """Per-sample mean binary cross entropy over the 40 attributes, shape ``(B,)``."""
        bce = F.binary_cross_entropy_with_logits(pred.float(), target.float(), reduction="none")
        return bce.mean(dim=1)

    def correct(self, pred: Tensor, target: Tensor) -> Tensor:
        """Per-attribute correctness ``(B, 40)``: accuracy is the mean over labels, as CelebA's."""
        return (pred > 0) == (target > 0.5)
