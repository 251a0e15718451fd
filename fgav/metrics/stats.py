"""The uncertainty of a rate and the paired comparison of two rates on the same samples.

- :func:`wilson_interval`: the 95 % Wilson score interval of a proportion ``k/n``
  (Wilson 1927). Unlike the normal approximation it stays inside [0, 1] and is not
  empty at ``k = 0`` or ``k = n``, which is where attack success rates often sit.
- :func:`mcnemar`: McNemar's test of two binary outcomes measured on the same samples
  (attack A and attack B, or one attack without and with an augmenter). Only the
  discordant samples count; with fewer than :data:`EXACT_BELOW` of them the two-sided
  exact binomial p-value is used, else the chi-square statistic with continuity
  correction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z_95 = 1.959963984540054  # the standard normal's 97.5 % quantile
EXACT_BELOW = 25  # discordant pairs under which McNemar's test is computed exactly
ALPHA = 0.05


def wilson_interval(successes: int, trials: int, *, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of ``successes / trials`` (95 % by default); NaNs for no trial.

    Raises:
        ValueError: negative counts, or more successes than trials.
    """
    if trials < 0 or successes < 0 or successes > trials:
        raise ValueError(f"a proportion needs 0 <= successes <= trials, not {successes}/{trials}")
    if trials == 0:
        return (math.nan, math.nan)
    p = successes / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    # Rounding must not push the bounds past the estimate at k = 0 or k = n.
    return (max(0.0, min(centre - half, p)), min(1.0, max(centre + half, p)))


@dataclass(frozen=True)
class McNemar:
    """McNemar's test of two paired binary outcomes.

    Attributes:
        only_a: samples where A succeeded and B did not.
        only_b: samples where B succeeded and A did not.
        both: samples where both succeeded.
        neither: samples where neither did.
        p_value: two-sided.
        exact: whether ``p_value`` is the exact binomial one.
    """

    only_a: int
    only_b: int
    both: int
    neither: int
    p_value: float
    exact: bool

    @property
    def n(self) -> int:
        """The paired samples."""
        return self.only_a + self.only_b + self.both + self.neither

    def significant(self, alpha: float = ALPHA) -> bool:
        """Whether A and B differ at level ``alpha``."""
        return self.p_value < alpha

    def describe(self) -> str:
        """One line: the discordant counts and the p-value."""
        how = "exact" if self.exact else "χ²"
        p = format_p(self.p_value)
        return f"{self.only_a} vs {self.only_b} discordant of {self.n}, p {p if p.startswith('<') else '= ' + p} ({how})"


def format_p(p: float) -> str:
    """A p-value as a person reads it: two significant digits, ``< 0.001`` below."""
    if math.isnan(p):
        return "-"
    return "< 0.001" if p < 1e-3 else f"{p:.2g}"


def mcnemar_p(only_a: int, only_b: int) -> tuple[float, bool]:
    """The two-sided p-value of McNemar's test from the discordant counts, and whether it is exact."""
    if only_a < 0 or only_b < 0:
        raise ValueError(f"discordant counts must be >= 0, not {only_a}, {only_b}")
    discordant = only_a + only_b
    if discordant == 0:
        return 1.0, True
    if discordant < EXACT_BELOW:
        k = min(only_a, only_b)
        tail = sum(math.comb(discordant, i) for i in range(k + 1)) / 2**discordant
        return min(1.0, 2 * tail), True
    statistic = (abs(only_a - only_b) - 1) ** 2 / discordant
    return math.erfc(math.sqrt(statistic / 2)), False  # chi-square with one degree of freedom


def mcnemar(a: Sequence[bool | None], b: Sequence[bool | None]) -> McNemar:
    """McNemar's test of outcomes ``a`` and ``b`` of the same samples, in the same order.

    A sample where either outcome is None (not counted, e.g. wrong before the attack) is
    left out of the pairs.

    Raises:
        ValueError: the sequences differ in length.
    """
    if len(a) != len(b):
        raise ValueError(f"paired outcomes of {len(a)} and {len(b)} samples: compare the same samples")
    pairs = [(bool(x), bool(y)) for x, y in zip(a, b) if x is not None and y is not None]
    only_a = sum(x and not y for x, y in pairs)
    only_b = sum(y and not x for x, y in pairs)
    both = sum(x and y for x, y in pairs)
    p, exact = mcnemar_p(only_a, only_b)
    return McNemar(only_a, only_b, both, len(pairs) - only_a - only_b - both, p_value=p, exact=exact)
