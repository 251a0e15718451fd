"""Parsing of the command line's shared ``k=v`` option forms (budgets: :mod:`fgav.auditing.choices`)."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from typing import Any

from fgav.core.errors import FgavError


def parse_value(text: str) -> Any:
    """A Python literal where the text is one (``10``, ``0.5``, ``True``, ``(1, 2)``), else the text."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_component_options(pairs: Iterable[str], names: Sequence[str], *, what: str) -> dict[str, dict[str, Any]]:
    """``k=v`` (for every component named) or ``name.k=v`` (for one) into options per name.

    Raises:
        FgavError: a pair without ``=``, or naming a component not asked for.
    """
    options: dict[str, dict[str, Any]] = {name: {} for name in names}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise FgavError(f"--{what}-option takes key=value or name.key=value, not {pair!r}")
        target, dot, option = key.rpartition(".")
        if dot and target not in options:
            raise FgavError(f"--{what}-option {pair!r} names the {what} {target!r}, which is not asked for "
                            f"({', '.join(names)})")
        for name in [target] if dot else names:
            options[name][option] = parse_value(value)
    return options
