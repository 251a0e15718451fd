"""Foolbox's attacks registered under short names.

Each class only adds a ``name`` (and a one-line summary) to Foolbox's own attack:
the attack itself is Foolbox's, untouched.
"""

from __future__ import annotations

from typing import ClassVar

import foolbox.attacks as fa


class FGSM(fa.LinfFastGradientAttack):
    """FGSM: one signed-gradient step of size epsilon (Goodfellow et al. 2015; L-inf)."""

    name: ClassVar[str] = "fgsm"


class PGD(fa.LinfPGD):
    """PGD: projected gradient descent in an L-inf ball (Madry et al. 2018)."""

    name: ClassVar[str] = "pgd"


class L2PGD(fa.L2PGD):
    """L2 PGD: projected gradient descent in an L2 ball (Madry et al. 2018)."""

    name: ClassVar[str] = "l2pgd"


class CarliniWagner(fa.L2CarliniWagnerAttack):
    """C&W: the L2 Carlini-Wagner attack, a minimization with binary search (2017)."""

    name: ClassVar[str] = "cw"


class EAD(fa.EADAttack):
    """EAD: elastic-net attack, L1-regularized Carlini-Wagner (Chen et al. 2018)."""

    name: ClassVar[str] = "ead"


class DeepFool(fa.LinfDeepFoolAttack):
    """DeepFool: the minimal L-inf step across the linearized boundary (2016)."""

    name: ClassVar[str] = "deepfool"


class SpatialGrid(fa.SpatialAttack):
    """Spatial grid: Foolbox's rotation and translation search (Engstrom et al. 2019)."""

    name: ClassVar[str] = "spatial-grid"


FOOLBOX_ATTACKS: list[type] = [FGSM, PGD, L2PGD, CarliniWagner, EAD, DeepFool, SpatialGrid]
