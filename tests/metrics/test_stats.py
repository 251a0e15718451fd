"""Wilson intervals and McNemar's test against published values and their definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fgav.metrics import mcnemar, mcnemar_p, wilson_interval


def test_wilson_matches_published_values() -> None:
    # Newcombe (1998), Table I: 81/263 -> 0.2553-0.3662; 15/148 -> 0.0624-0.1605; 0/20 -> 0-0.1611.
    for (k, n), (lo, hi) in {(81, 263): (0.2553, 0.3662), (15, 148): (0.0624, 0.1605),
                             (0, 20): (0.0, 0.1611), (1, 29): (0.0061, 0.1718)}.items():
        got = wilson_interval(k, n)
        assert got == pytest.approx((lo, hi), abs=5e-5), (k, n)


def test_wilson_holds_the_estimate_and_narrows_with_n() -> None:
    widths = []
    for n in (8, 64, 512, 4096):
        for k in range(0, n + 1, max(1, n // 8)):
            lo, hi = wilson_interval(k, n)
            assert 0 <= lo <= k / n <= hi <= 1
        lo, hi = wilson_interval(n // 2, n)
        widths.append(hi - lo)
    assert widths == sorted(widths, reverse=True)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    with pytest.raises(ValueError):
        wilson_interval(5, 4)


def test_wilson_covers_the_truth_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(0)
    n, p = 64, 0.3
    draws = rng.binomial(n, p, 4000)
    covered = np.mean([lo <= p <= hi for lo, hi in (wilson_interval(int(k), n) for k in draws)])
    assert 0.93 <= covered <= 0.97


def test_mcnemar_exact_and_chi_square() -> None:
    assert mcnemar_p(0, 0) == (1.0, True)
    assert mcnemar_p(5, 0) == (pytest.approx(2 / 32), True)  # the sign test: 2 * 0.5^5
    p, exact = mcnemar_p(7, 3)
    assert exact and p == pytest.approx(2 * sum(math.comb(10, i) for i in range(4)) / 1024)
    p, exact = mcnemar_p(30, 10)  # (|30-10|-1)^2 / 40 = 9.025 -> p = 0.00266
    assert not exact and p == pytest.approx(0.002663, abs=1e-6)


def test_mcnemar_pairs_outcomes_and_skips_the_uncounted() -> None:
    a = [True, True, False, None, True, False]
    b = [False, True, True, True, False, False]
    result = mcnemar(a, b)
    assert (result.only_a, result.only_b, result.both, result.neither) == (2, 1, 1, 1)
    assert result.n == 5 and not result.significant()
    assert mcnemar([True] * 12, [False] * 12).significant()
    with pytest.raises(ValueError, match="same samples"):
        mcnemar([True], [True, False])
