"""Foolbox's attacks registered under short names, with bounded defaults.

Each class adds a ``name`` (and a one-line summary) to Foolbox's own attack, whose
steps are Foolbox's, untouched. Two things differ from Foolbox:

- **Bounded defaults.** Foolbox's C&W and EAD default to 10,000 steps times 9 binary
  search steps: an audit of a few hundred images on a CPU would not end. fgav's
  defaults (docs/audit.md, "Attack defaults and times") finish a 500-image audit of
  every part of the default ResNet-18 in bounded time and still flip the decisions of
  small trained models (tests/attacks/test_attack_table.py).
- **Sweeps.** FGSM, PGD and L2 PGD run each epsilon of a sweep from the same random
  stream (:class:`~fgav.attacks.sweeps.PerEpsilon`), so the result at one epsilon does
  not depend on the others asked. C&W, EAD and DeepFool minimise the perturbation
  without using epsilon, and Foolbox clips their one result to each epsilon: already
  independent.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import foolbox.attacks as fa

from fgav.attacks.sweeps import PerEpsilon


class FGSM(PerEpsilon, fa.LinfFastGradientAttack):  # type: ignore[misc]  # PerEpsilon replaces the final __call__
    """FGSM: one signed-gradient step of size epsilon (Goodfellow et al. 2015; L-inf)."""

    name: ClassVar[str] = "fgsm"


class PGD(PerEpsilon, fa.LinfPGD):  # type: ignore[misc]  # PerEpsilon replaces the final __call__
    """PGD: projected gradient descent in an L-inf ball (Madry et al. 2018).

    40 steps of ``rel_stepsize=2.5/40`` epsilon from a random start: Madry et al.'s
    ``2.5 * eps / steps``, so that from any start every point of the ball is in reach.
    Foolbox's own step (``1/30`` epsilon, 1.33 epsilon of travel) raised
    ``incomplete-optimization`` on the default ResNet-18 and scored no higher than FGSM
    at the same budget (docs/audit.md, "PGD's step"); ``steps=K`` alone keeps the travel
    (``2.5 / K``), as ``fgav.core.options.follow_steps`` does for every attack.
    """

    name: ClassVar[str] = "pgd"

    def __init__(self, *, rel_stepsize: float = 2.5 / 40, abs_stepsize: float | None = None, steps: int = 40,
                 random_start: bool = True) -> None:
        super().__init__(rel_stepsize=rel_stepsize, abs_stepsize=abs_stepsize, steps=steps, random_start=random_start)


class L2PGD(PerEpsilon, fa.L2PGD):  # type: ignore[misc]  # PerEpsilon replaces the final __call__
    """L2 PGD: projected gradient descent in an L2 ball (Madry et al. 2018).

    50 steps of ``rel_stepsize=2.5/50`` epsilon from a random start (Foolbox's 0.025
    travels 1.25 epsilon; see :class:`PGD`).
    """

    name: ClassVar[str] = "l2pgd"

    def __init__(self, *, rel_stepsize: float = 2.5 / 50, abs_stepsize: float | None = None, steps: int = 50,
                 random_start: bool = True) -> None:
        super().__init__(rel_stepsize=rel_stepsize, abs_stepsize=abs_stepsize, steps=steps, random_start=random_start)


class CarliniWagner(fa.L2CarliniWagnerAttack):
    """C&W: the L2 Carlini-Wagner attack, a minimization with binary search (2017).

    fgav's defaults are bounded: 100 Adam steps (Foolbox: 10,000) per binary search
    step, 5 binary search steps (Foolbox: 9), a larger Adam step (0.05; Foolbox: 0.01)
    and initial constant (1.0; Foolbox: 0.001) so that the short search still reaches
    the decision boundary. ``stepsize`` follows ``steps`` when only the steps are given.
    """

    name: ClassVar[str] = "cw"
    step_size_option: ClassVar[str] = "stepsize"

    def __init__(
        self,
        *,
        binary_search_steps: int = 5,
        steps: int = 100,
        stepsize: float = 0.05,
        confidence: float = 0.0,
        initial_const: float = 1.0,
        abort_early: bool = True,
    ) -> None:
        super().__init__(binary_search_steps=binary_search_steps, steps=steps, stepsize=stepsize,
                         confidence=confidence, initial_const=initial_const, abort_early=abort_early)


class EAD(fa.EADAttack):
    """EAD: elastic-net attack, L1-regularized Carlini-Wagner (Chen et al. 2018).

    fgav's defaults are bounded like C&W's: 100 steps (Foolbox: 10,000), 5 binary
    search steps (Foolbox: 9), a larger initial step (0.05; Foolbox: 0.01) and initial
    constant (1.0; Foolbox: 0.001). ``initial_stepsize`` follows ``steps`` when only the
    steps are given.
    """

    name: ClassVar[str] = "ead"
    step_size_option: ClassVar[str] = "initial_stepsize"

    def __init__(
        self,
        *,
        binary_search_steps: int = 5,
        steps: int = 100,
        initial_stepsize: float = 0.05,
        confidence: float = 0.0,
        initial_const: float = 1.0,
        regularization: float = 0.01,
        decision_rule: Literal["EN", "L1"] = "EN",
        abort_early: bool = True,
    ) -> None:
        super().__init__(binary_search_steps=binary_search_steps, steps=steps, initial_stepsize=initial_stepsize,
                         confidence=confidence, initial_const=initial_const, regularization=regularization,
                         decision_rule=decision_rule, abort_early=abort_early)


class DeepFool(fa.LinfDeepFoolAttack):
    """DeepFool: the minimal L-inf step across the linearized boundary (2016).

    Foolbox's defaults: at most 50 steps (each one gradient per candidate class), ending
    once every sample is flipped.
    """

    name: ClassVar[str] = "deepfool"


class SpatialGrid(fa.SpatialAttack):
    """Spatial grid: Foolbox's rotation and translation search (Engstrom et al. 2019).

    Foolbox's defaults: a grid of 5 translations per axis and 5 rotations within
    +-3 pixels and +-30 degrees (125 forward passes, no gradient); no epsilon.
    """

    name: ClassVar[str] = "spatial-grid"


FOOLBOX_ATTACKS: list[type] = [FGSM, PGD, L2PGD, CarliniWagner, EAD, DeepFool, SpatialGrid]
