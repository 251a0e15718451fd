"""Built-in attacks: Foolbox's own under short names, and the ones Foolbox lacks."""

from __future__ import annotations

from fgav.attacks.foolbox_attacks import FOOLBOX_ATTACKS

BUILTIN_ATTACKS: list[type] = [*FOOLBOX_ATTACKS]
