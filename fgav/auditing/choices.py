"""The forms an audit's choices take, shared by the Python API and the command line.

A budget is a number or a fraction (``8/255``), several are comma separated
(``"2/255,8/255"``); names (parts, attacks, augmenters) come as a list or as one string,
comma separated too. A value given twice would be attacked and counted twice, so
:func:`unique` keeps its first occurrence and says so.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from fractions import Fraction
from typing import Any, TypeVar

from fgav.auditing.engine import DEFAULT_EPSILON, epsilons_of
from fgav.auditing.result import format_epsilons
from fgav.core.errors import FgavError

T = TypeVar("T")


def parse_epsilons(values: str | float | Iterable[str | float] | None) -> list[float]:
    """Budgets from numbers, fractions and comma-separated strings (``"2/255,8/255"``).

    ``None`` is the default budget (8/255).

    Raises:
        FgavError: an item that is no number, a budget that is not finite and >= 0, or
            values that name no budget at all (``""``).
    """
    if values is None:
        return [DEFAULT_EPSILON]
    items = [values] if isinstance(values, (str, int, float)) else list(values)
    budgets: list[float] = []
    for item in items:
        if isinstance(item, str):
            for text in item.split(","):
                text = text.strip()
                if not text:
                    continue
                try:
                    budgets.append(float(Fraction(text)))
                except (ValueError, ZeroDivisionError):
                    raise FgavError(f"an epsilon is a number or a fraction like 8/255, not {text!r}") from None
        else:
            budgets.append(item)
    if not budgets:
        raise FgavError("no epsilon given: give a budget like 8/255, or a list 2/255,8/255")
    return epsilons_of(budgets)


def parse_names(values: str | Iterable[Any], *, what: str) -> list[Any]:
    """Names from one string or a list; strings are split at commas (``"depth,attribute"``).

    Objects that are not strings (an attack or augmenter instance) pass as they are.

    Raises:
        FgavError: an empty name, or no name at all.
    """
    items = [values] if isinstance(values, str) else list(values)
    names: list[Any] = []
    for item in items:
        if not isinstance(item, str):
            names.append(item)
            continue
        for name in item.split(","):
            if not name.strip():
                raise FgavError(f"an empty {what} name in {item!r}")
            names.append(name.strip())
    if not names:
        raise FgavError(f"no {what} given")
    return names


def unique(
    values: Sequence[T], *, what: str, key: Callable[[T], Hashable] = lambda v: v,
    show: Callable[[T], str] = repr,
) -> tuple[list[T], list[str]]:
    """The values without repeats (first occurrence kept, order kept), and a note per repeat.

    Args:
        values: the values as given.
        what: the kind of value, for the notes (``"epsilon"``).
        key: what makes two values the same.
        show: how a value reads in a note.
    """
    seen: dict[Hashable, int] = {}
    kept: list[T] = []
    for value in values:
        k = key(value)
        if k in seen:
            seen[k] += 1
            continue
        seen[k] = 1
        kept.append(value)
    notes = [f"{what} {show(v)} given {seen[key(v)]} times: attacked and counted once"
             for v in kept if seen[key(v)] > 1]
    return kept, notes


def unique_epsilons(values: Sequence[float]) -> tuple[list[float], list[str]]:
    """:func:`unique` for budgets, which notes name as a person reads them (8/255)."""
    return unique(values, what="epsilon", show=lambda v: format_epsilons([v]))


__all__ = ["parse_epsilons", "parse_names", "unique", "unique_epsilons"]
