"""The identity augmenter: attacks run on the clean input."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor

from fgav.core.interfaces import Augmenter
from fgav.core.types import Batch


class NoAugmenter(Augmenter):
    """No augmentation: the attack runs on the clean image."""

    name: ClassVar[str] = "none"

    def forward(self, x: Tensor, batch: Batch) -> Tensor:
        """Return ``x`` unchanged."""
        return x
