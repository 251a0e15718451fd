"""The forms of an audit's choices: budget strings, names as one string, repeats."""

from __future__ import annotations

import pytest

from fgav.auditing.choices import parse_epsilons, parse_names, unique, unique_epsilons
from fgav.core.errors import FgavError


@pytest.mark.parametrize(("given", "expected"), [
    ("8/255", [8 / 255]),
    ("0.03", [0.03]),
    ("2/255, 8/255", [2 / 255, 8 / 255]),
    (["2/255,4/255", "8/255"], [2 / 255, 4 / 255, 8 / 255]),
    ([0.0, "1/255"], [0.0, 1 / 255]),
    (0.5, [0.5]),
    (None, [8 / 255]),
])
def test_budgets_in_every_form_the_cli_and_api_take(given, expected) -> None:
    assert parse_epsilons(given) == pytest.approx(expected, abs=0)


@pytest.mark.parametrize(("given", "message"), [
    ("", "no epsilon given"),
    (",", "no epsilon given"),
    ([], "no epsilon given"),
    ("8/0", "not '8/0'"),
    ("abc", "not 'abc'"),
    ("-1/255", "finite number >= 0"),
    ("inf", "not 'inf'"),
    ([float("nan")], "finite number >= 0"),
])
def test_bad_budgets_are_one_line_errors(given, message: str) -> None:
    with pytest.raises(FgavError, match=message):
        parse_epsilons(given)


def test_names_as_one_string_or_a_list() -> None:
    marker = object()
    assert parse_names("depth", what="part") == ["depth"]
    assert parse_names("depth, attribute", what="part") == ["depth", "attribute"]
    assert parse_names(["pgd", marker], what="attack") == ["pgd", marker]
    with pytest.raises(FgavError, match="no part given"):
        parse_names([], what="part")
    with pytest.raises(FgavError, match="an empty part name"):
        parse_names("depth,", what="part")


def test_repeats_are_kept_once_in_order_with_a_note() -> None:
    kept, notes = unique(["pgd", "fgsm", "pgd", "pgd"], what="attack")
    assert kept == ["pgd", "fgsm"]
    assert notes == ["attack 'pgd' given 3 times: attacked and counted once"]
    kept, notes = unique_epsilons(parse_epsilons("8/255,2/255,8/255"))
    assert kept == [8 / 255, 2 / 255] and notes == ["epsilon 8/255 given 2 times: attacked and counted once"]
    assert unique([1, 2], what="x") == ([1, 2], [])
