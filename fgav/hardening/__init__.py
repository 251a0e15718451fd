"""``fgav harden``: adversarial fine-tuning with fine-grained examples, and its judgement.

``fgav.harden`` is :func:`harden` (the package is ``hardening``, as ``fgav.audit`` lives in
``fgav.auditing``: a function and a package of one name would shadow each other).

- :func:`harden`: fine-tune a target on examples aimed at its parts (FGSM with a random
  start by default, guarded against catastrophic overfitting), resumable, torchrun-aware.
- :func:`judge`: before and after, by attacks it did not train against (APGD and
  Square, the reliable ensemble's two halves), with gradient masking called out.
"""

from __future__ import annotations

from fgav.hardening.evaluation import (
    GRADIENT_ATTACKS,
    GRADIENT_FREE_ATTACKS,
    JUDGE_ATTACK_OPTIONS,
    JUDGE_EPSILONS,
    Judgement,
    MASKING_FLAGS,
    judge,
    masking_verdicts,
    robust_accuracy,
)
from fgav.hardening.trainer import DEFAULT_EPSILON, DEFAULT_PARTS, HardenRecipe, HardenResult, craft, harden

__all__ = [
    "DEFAULT_EPSILON",
    "DEFAULT_PARTS",
    "GRADIENT_ATTACKS",
    "GRADIENT_FREE_ATTACKS",
    "JUDGE_ATTACK_OPTIONS",
    "JUDGE_EPSILONS",
    "HardenRecipe",
    "HardenResult",
    "Judgement",
    "MASKING_FLAGS",
    "craft",
    "harden",
    "judge",
    "masking_verdicts",
    "robust_accuracy",
]
