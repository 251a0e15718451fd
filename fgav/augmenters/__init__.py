"""Built-in augmenters: the identity and SFA."""

from __future__ import annotations

from fgav.augmenters.none import NoAugmenter

BUILTIN_AUGMENTERS: list[type] = [NoAugmenter]
