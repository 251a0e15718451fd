"""The identity augmenter: attacks run on the clean input."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from torch import Tensor

from fgav.interfaces import Augmenter


class NoAugmenter(Augmenter):
    """No augmentation: the attack runs on the clean image."""

    name: ClassVar[str] = "none"

    def forward(self, x: Tensor, batch: Mapping[str, Any]) -> Tensor:
        """Return ``x`` unchanged."""
        return x
