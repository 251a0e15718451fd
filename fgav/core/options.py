"""Attack options checked against the attack's signature, and step sizes that follow the steps.

``fgav.create_attack`` (and so ``--attack-option k=v``) passes every option through
:func:`check_attack_options` before the attack is built: each option must be one the
attack's ``__init__`` takes, of the type its annotation (or default) says, and within a
sane range (counts at least 1 and capped, step sizes above 0, probabilities in [0, 1]),
else a one-line :class:`~fgav.core.errors.FgavError` names the attack, the option and what is
allowed. :func:`follow_steps` then scales the step size where the steps were changed and
the step size was not, so that fewer steps still cover the attack's budget.

An attack class may refine the ranges with a class attribute
``option_ranges: ClassVar[Mapping[str, Range]]`` and name its step-size option with
``step_size_option: ClassVar[str]`` (the size that follows ``steps``).
"""

from __future__ import annotations

import inspect
import math
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union

from foolbox.attacks.gradient_descent_base import BaseGradientDescent

from fgav.core.errors import FgavError

__all__ = ["Range", "DEFAULT_RANGES", "check_attack_options", "follow_steps", "option_range"]

MAX_COUNT = 1_000_000
"""The largest count (steps, restarts, queries, ...) any option may ask for."""

MIN_TRAVEL = 2.5
"""The least distance, in epsilons, a gradient-descent attack with changed steps may travel."""


@dataclass(frozen=True)
class Range:
    """The numbers an option allows: ``low <= v <= high`` (``low < v`` when ``open_low``)."""

    low: float = -math.inf
    high: float = math.inf
    open_low: bool = False

    def allows(self, value: float) -> bool:
        """Whether ``value`` lies in the range."""
        above = value > self.low if self.open_low else value >= self.low
        return above and value <= self.high

    def describe(self) -> str:
        """The range in words, e.g. ``greater than 0`` or ``at least 1 and at most 1,000,000``."""
        low, high = _number(self.low), _number(self.high)
        parts = []
        if not math.isinf(self.low):
            parts.append(f"greater than {low}" if self.open_low else f"at least {low}")
        if not math.isinf(self.high):
            parts.append(f"at most {high}")
        return " and ".join(parts) or "finite"


def _number(value: float) -> str:
    """A bound as people write it: ``1,000,000``, ``0``, ``0.5``."""
    return f"{int(value):,}" if math.isfinite(value) and float(value).is_integer() else f"{value:g}"


COUNT = Range(1, MAX_COUNT)
POSITIVE = Range(0, open_low=True)
NON_NEGATIVE = Range(0)
PROBABILITY = Range(0, 1)

DEFAULT_RANGES: dict[str, Range] = {
    # counts
    "steps": COUNT, "binary_search_steps": Range(1, 100), "restarts": Range(1, 10_000),
    "n_restarts": Range(1, 10_000), "random_steps": COUNT, "num_translations": COUNT,
    "num_rotations": COUNT, "candidates": Range(2, 10_000), "k": COUNT, "queries": COUNT,
    "n_queries": COUNT, "samples": COUNT,
    # sizes
    "rel_stepsize": POSITIVE, "abs_stepsize": POSITIVE, "stepsize": POSITIVE, "step_size": POSITIVE,
    "initial_stepsize": POSITIVE, "initial_const": POSITIVE,
    # non-negative weights and margins
    "confidence": NON_NEGATIVE, "regularization": NON_NEGATIVE, "overshoot": NON_NEGATIVE,
    "tau": NON_NEGATIVE, "kappa": NON_NEGATIVE, "max_translation": NON_NEGATIVE,
    "max_rotation": NON_NEGATIVE,
    # probabilities
    "p": PROBABILITY, "p_init": PROBABILITY, "probability": PROBABILITY,
}
"""The range of each option name fgav knows; an attack's ``option_ranges`` come first.

An integer option not listed must lie in [0, MAX_COUNT]; a float one must be finite.
"""


def option_range(cls: type, option: str, kind: type) -> Range:
    """The range ``option`` of the attack class ``cls`` allows (``kind``: int or float)."""
    own: Mapping[str, Range] = getattr(cls, "option_ranges", {}) or {}
    if option in own:
        return own[option]
    if option in DEFAULT_RANGES:
        return DEFAULT_RANGES[option]
    return Range(0, MAX_COUNT) if kind is int else Range()


def _hints(cls: type) -> dict[str, Any]:
    """The resolved annotations of ``cls.__init__``, each on its own: one that does not resolve
    (a name imported only for type checkers) leaves the others checked."""
    init = cls.__init__  # type: ignore[misc]  # the class's own __init__ is meant
    try:
        return typing.get_type_hints(init)
    except Exception:
        pass
    namespace = {**vars(typing), **vars(sys.modules.get(init.__module__, typing))}
    resolved: dict[str, Any] = {}
    for name, annotation in getattr(init, "__annotations__", {}).items():
        try:
            resolved[name] = eval(annotation, namespace) if isinstance(annotation, str) else annotation
        except Exception:  # this one falls back on its default's type
            continue
    return resolved


def _kinds(hint: Any, default: Any) -> tuple[set[type], tuple[Any, ...]]:
    """The plain types an annotation allows, and its literal choices (if any)."""
    if hint is None:
        if default is inspect.Parameter.empty or default is None:
            return set(), ()
        return {type(default)}, ()
    kinds: set[type] = set()
    choices: list[Any] = []
    stack = [hint]
    while stack:
        h = stack.pop(0)
        origin = typing.get_origin(h)
        if origin is Union or origin is types.UnionType:  # Optional[int] and int | None alike
            stack.extend(typing.get_args(h))
        elif origin is Literal:
            choices.extend(typing.get_args(h))
        elif h is type(None):
            kinds.add(type(None))
        elif isinstance(h, type) and h in (bool, int, float, str):
            kinds.add(h)
        else:
            return set(), ()  # a type fgav does not check (an attack object, a tuple, ...)
    return kinds, tuple(choices)


def _convert(attack: str, cls: type, option: str, value: Any, kinds: set[type], choices: tuple[Any, ...]) -> Any:
    """``value`` as the option's type, within its range; else a one-line FgavError."""
    allowed: list[str] = []
    if choices:
        if value in choices and not isinstance(value, bool):
            return value
        allowed.append("one of " + ", ".join(repr(c) for c in choices))
    if type(None) in kinds:
        if value is None:
            return None
        allowed.append("None")
    if bool in kinds:
        if isinstance(value, bool):
            return value
        allowed.append("True or False")
    number: int | float | None = None
    if int in kinds and float not in kinds:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
            number = int(value)  # 1e3 is a whole number written as a float
        else:
            allowed.append("a whole number")
    elif float in kinds:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            number = float(value)
        else:
            allowed.append("a finite number")
    if number is not None:
        span = option_range(cls, option, int if isinstance(number, int) else float)
        if span.allows(number):
            return number
        what = "a whole number" if isinstance(number, int) else "a number"
        raise FgavError(f"attack {attack!r}: option {option}={value!r} is out of range: "
                        f"{option} must be {span.describe()} ({what})")
    if str in kinds and not choices:
        if isinstance(value, str):
            return value
        allowed.append("a string")
    raise FgavError(f"attack {attack!r}: option {option}={value!r} is not allowed: "
                    f"{option} takes {' or '.join(allowed)}")


def check_attack_options(attack: str, cls: type, options: Mapping[str, Any]) -> dict[str, Any]:
    """The options checked against ``cls.__init__``, converted to their types.

    Args:
        attack: the attack's registered name (for messages).
        cls: the attack class.
        options: keyword options as given (``--attack-option`` values are Python literals
            where they parse as one, else strings).

    Returns:
        The options, each converted to its type (``1e3`` to 1000 for a count).

    Raises:
        FgavError: an option the attack does not take, or a value of the wrong type or out
            of range; one line naming the attack, the option and what is allowed.
    """
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):  # a class whose signature cannot be read: let it judge
        return dict(options)
    parameters = {n: p for n, p in signature.parameters.items()
                  if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    hints = _hints(cls)
    checked: dict[str, Any] = {}
    for option, value in options.items():
        if option not in parameters:
            if takes_any:
                checked[option] = value
                continue
            known = ", ".join(parameters) or "none"
            raise FgavError(f"attack {attack!r}: unexpected keyword argument {option!r}; its options: {known}")
        kinds, choices = _kinds(hints.get(option), parameters[option].default)
        checked[option] = _convert(attack, cls, option, value, kinds, choices) if kinds or choices else value
    return checked


def _step_pair(cls: type) -> str | None:
    """The step-size option that follows ``steps`` for ``cls``, if any."""
    named = getattr(cls, "step_size_option", None)
    if isinstance(named, str):
        return named
    if isinstance(cls, type) and issubclass(cls, BaseGradientDescent):
        return "rel_stepsize"
    return None


def follow_steps(cls: type, options: Mapping[str, Any]) -> dict[str, Any]:
    """The options with the step size scaled to the steps asked, where only the steps were.

    An iterative attack's default step size is tuned for its default steps: with fewer
    steps and the same step size it cannot cross its budget (Foolbox's PGD at 10 steps
    moves a third of epsilon). So where ``steps`` is given and the step size is not, the
    step size becomes ``travel / steps``, where ``travel = default_size * default_steps``
    is the distance the default attack can move. For Foolbox's gradient-descent attacks
    the size is ``rel_stepsize`` (in units of epsilon; left alone when ``abs_stepsize`` is
    given) and the travel at least ``2.5`` epsilons (Madry et al.'s ``2.5 * eps / steps``:
    from a random start any point of the ball is in reach); other attacks name their
    size in ``step_size_option``.
    """
    result = dict(options)
    size = _step_pair(cls)
    if size is None or "steps" not in options or size in options or "abs_stepsize" in options:
        return result
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return result
    if "steps" not in parameters or size not in parameters:
        return result
    default_steps, default_size = parameters["steps"].default, parameters[size].default
    steps = options["steps"]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
               for v in (default_steps, default_size, steps)):
        return result
    travel = float(default_size) * float(default_steps)
    if issubclass(cls, BaseGradientDescent) and size == "rel_stepsize":
        travel = max(travel, MIN_TRAVEL)
    result[size] = travel / float(steps)
    return result
