"""How fgav writes numbers and tables as text: budgets, rates with their intervals, Markdown tables.

One implementation for every writer (``fgav audit --markdown``, ``fgav report``, the
reproduce tables), so that they escape and round alike. It imports nothing from fgav.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def is_number(value: Any) -> bool:
    """Whether ``value`` is a finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def format_number(value: Any, digits: int = 4) -> str:
    """A value with ``digits`` decimals (ints as they are); ``-`` for None or NaN."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def format_epsilon(value: Any) -> str:
    """A budget as a person gave it: ``8/255`` rather than 0.03137, ``0.5`` as 0.5, ``-`` for none.

    A value with a short decimal form (0.5, 1, 0.001) prints as it is; a multiple of
    1/255 (to a tenth) as ``k/255``; anything else with four significant digits.
    """
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return "-" if value is None else str(value)
    if not math.isfinite(value):
        return "-"
    short = f"{value:.4g}"
    if float(short) == value:
        return f"{value:g}"
    scaled = value * 255
    tenths = round(scaled, 1)
    if abs(scaled - tenths) < 1e-6:
        return f"{tenths:g}/255"
    return short


def format_epsilons(values: Sequence[Any]) -> str:
    """Budgets as :func:`format_epsilon` writes them, comma-separated."""
    return ", ".join(format_epsilon(v) for v in values)


def rate_digits(n: Any) -> int:
    """The decimals a rate over ``n`` samples deserves: one sample moves it by 1/n (2 to 4 decimals)."""
    if not is_number(n) or n < 1:
        return 2
    return min(4, max(2, math.ceil(math.log10(n))))


def format_interval(interval: Any, digits: int = 2) -> str:
    """An interval as ``[0.50, 0.73]``; empty where there is none."""
    if not isinstance(interval, (list, tuple)) or len(interval) != 2 or not all(is_number(v) for v in interval):
        return ""
    return f"[{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]"


def format_rate(value: Any, interval: Any = None, *, n: Any = None) -> str:
    """A rate with its 95 % interval, rounded to what ``n`` samples support: ``0.62 [0.50, 0.73]``."""
    digits = rate_digits(n) if n is not None else 4
    text = format_number(float(value), digits) if is_number(value) else "-"
    bounds = format_interval(interval, digits) if text != "-" else ""
    return f"{text} {bounds}" if bounds else text


def markdown_cell(text: Any) -> str:
    """Text made safe for one Markdown table cell: ``|`` would end it, ``<`` could open raw HTML."""
    return (str(text).replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")
            .replace("\r", " ").replace("\n", " "))


def markdown_line(text: Any) -> str:
    """Text made safe for one line of Markdown outside a table (no raw HTML, no line break)."""
    return str(text).replace("<", "&lt;").replace("\r", " ").replace("\n", " ")


def markdown_table(header: Sequence[Any], rows: Sequence[Sequence[Any]], *, label_columns: int = 0) -> list[str]:
    """The lines of a Markdown table, every cell escaped; the first ``label_columns`` left-aligned.

    With ``label_columns`` 0 (the default) no alignment is set.
    """
    if label_columns:
        rule = "|" + "|".join("---" if i < label_columns else "---:" for i in range(len(header))) + "|"
    else:
        rule = "|" + "---|" * len(header)
    lines = ["| " + " | ".join(markdown_cell(h) for h in header) + " |", rule]
    return lines + ["| " + " | ".join(markdown_cell(c) for c in row) + " |" for row in rows]
