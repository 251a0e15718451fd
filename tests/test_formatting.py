"""fgav.core.formatting: budgets as given, rates rounded to their sample size, Markdown escaped."""

from __future__ import annotations

import pytest

from fgav.core.formatting import (format_epsilon, format_rate, markdown_cell, markdown_table, rate_digits)


@pytest.mark.parametrize(("value", "text"), [(8 / 255, "8/255"), (1 / 255, "1/255"), (2.5 / 255, "2.5/255"),
                                             (0.0, "0"), (0.5, "0.5"), (1.0, "1"), (2.0, "2"), (0.03, "0.03"),
                                             (0.0123456, "0.01235"), (None, "-"), (float("nan"), "-")])
def test_budgets_print_as_the_user_gave_them(value: float | None, text: str) -> None:
    assert format_epsilon(value) == text


def test_rates_keep_the_decimals_their_sample_supports() -> None:
    assert [rate_digits(n) for n in (8, 64, 100, 101, 500, 5000, 10**6)] == [2, 2, 2, 3, 3, 4, 4]
    assert format_rate(0.625, [0.5, 0.73], n=64) == "0.62 [0.50, 0.73]"
    assert format_rate(0.625, [0.5, 0.73], n=500) == "0.625 [0.500, 0.730]"
    assert format_rate(None, [0.1, 0.2], n=64) == "-" and format_rate(0.5, None, n=64) == "0.50"


def test_markdown_cells_are_escaped() -> None:
    assert markdown_cell("a|b<script>\\n") == "a\\|b&lt;script>\\\\n"
    lines = markdown_table(["x|y", "v"], [["<b>", "1\n2"]], label_columns=1)
    assert lines == ["| x\\|y | v |", "|---|---:|", "| &lt;b> | 1 2 |"]
