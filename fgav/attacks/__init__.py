"""Built-in attacks: Foolbox's own under short names, and the ones Foolbox lacks."""

from __future__ import annotations

from fgav.attacks.apgd import APGDAttack
from fgav.attacks.foolbox_attacks import FOOLBOX_ATTACKS
from fgav.attacks.reliable import ReliableAttack
from fgav.attacks.sparse import SparseAttack
from fgav.attacks.square import SquareAttack
from fgav.attacks.stadv import STAdvAttack

BUILTIN_ATTACKS: list[type] = [*FOOLBOX_ATTACKS, STAdvAttack, SparseAttack, APGDAttack, SquareAttack, ReliableAttack]
