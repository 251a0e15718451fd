"""Built-in augmenters: the identity and SFA."""

from __future__ import annotations

from fgav.augmenters.none import NoAugmenter
from fgav.sfa.augmenter import SFA

BUILTIN_AUGMENTERS: list[type] = [NoAugmenter, SFA]
