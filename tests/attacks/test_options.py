"""Attack options: checked against each attack's signature, one-line errors, step sizes that follow steps."""

from __future__ import annotations

import inspect
import math
import typing
from typing import Any, ClassVar

import foolbox as fb
import pytest
from click.testing import CliRunner

import fgav
from fgav.builtin import fgav_attacks
from fgav.cli import add_plugin_commands, cli
from fgav.core.errors import FgavError
from fgav.core.options import DEFAULT_RANGES, MAX_COUNT, Range, check_attack_options, follow_steps
from fgav.registry import get_attack
from tests.train.tiny import write_tiny_tree

# Values no option of the kind allows, whatever its range.
BAD_BY_KIND: dict[type, list[Any]] = {
    int: ["abc", 2.5, 1e12, MAX_COUNT + 1, -1, math.nan, math.inf, True, [3], "10"],
    float: ["abc", math.nan, math.inf, -math.inf, True, [0.1], "0.1"],
    bool: ["yes", 1, 0, 0.5, None, "True"],
    str: [3, None, True],
}


def _options(name: str) -> list[tuple[str, Any]]:
    """(option, default) for every keyword option of a registered attack."""
    params = inspect.signature(get_attack(name)).parameters.values()
    return [(p.name, p.default) for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _kind(name: str, option: str) -> type:
    """The plain type an option is annotated with (Optional[X] is X; a Literal is str)."""
    hint = typing.get_type_hints(get_attack(name).__init__)[option]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is typing.Literal or (args and typing.get_origin(args[0]) is typing.Literal):
        return str
    return args[0] if args else hint


BUILTINS = [cls.name for cls in fgav_attacks()]
CASES = [(name, option, default) for name in BUILTINS for option, default in _options(name)]


def _one_line(exc: FgavError, name: str, option: str) -> None:
    message = str(exc)
    assert "\n" not in message and repr(name) in message and option in message, message


@pytest.mark.parametrize(("name", "option", "default"), CASES, ids=lambda v: str(v))
def test_every_option_refuses_values_of_the_wrong_kind(name: str, option: str, default: Any) -> None:
    for value in BAD_BY_KIND[_kind(name, option)]:
        with pytest.raises(FgavError) as caught:
            fgav.create_attack(name, **{option: value})
        _one_line(caught.value, name, option)


@pytest.mark.parametrize(("name", "option", "default"), CASES, ids=lambda v: str(v))
def test_every_option_takes_its_default_and_checks_its_range(name: str, option: str, default: Any) -> None:
    attack = fgav.create_attack(name, **{option: default})
    assert isinstance(attack, fb.attacks.base.Attack)
    span = DEFAULT_RANGES.get(option)
    if span is None or isinstance(default, bool) or not isinstance(default, (int, float)):
        return
    for outside in (span.low - 1, span.low if span.open_low else None, span.high + 1):
        if outside is None or math.isinf(outside):
            continue
        value = int(outside) if isinstance(default, int) else float(outside)
        with pytest.raises(FgavError, match="out of range") as caught:
            fgav.create_attack(name, **{option: value})
        _one_line(caught.value, name, option)


@pytest.mark.parametrize(("options", "words"), [
    ({"steps": "abc"}, "whole number"), ({"steps": 2.5}, "whole number"), ({"steps": 1e12}, "at most 1,000,000"),
    ({"rel_stepsize": -1}, "greater than 0"), ({"rel_stepsize": 0}, "greater than 0"),
    ({"random_start": 1}, "True or False"),
    ({"stepz": 3}, "unexpected keyword argument 'stepz'; its options: rel_stepsize"),
])
def test_the_issue_examples(options: dict[str, Any], words: str) -> None:
    with pytest.raises(FgavError, match=words):
        fgav.create_attack("pgd", **options)


def test_choices_whole_floats_and_none() -> None:
    with pytest.raises(FgavError, match="one of 'EN', 'L1'"):
        fgav.create_attack("ead", decision_rule="L2")
    with pytest.raises(FgavError, match="one of 'colour', 'box'"):
        fgav.create_attack("sparse", variant="grey")
    assert fgav.create_attack("sparse", variant="box").variant == "box"
    assert fgav.create_attack("cw", steps=1e3).steps == 1000  # a whole number written as a float
    assert fgav.create_attack("deepfool", candidates=None).candidates is None
    assert fgav.create_attack("pgd", abs_stepsize=None).abs_stepsize is None
    assert fgav.create_attack("pgd", rel_stepsize=1).rel_stepsize == 1.0


def test_an_attack_declares_its_own_ranges_and_others_pass() -> None:
    class Third(fb.attacks.base.FixedEpsilonAttack):
        option_ranges: ClassVar[dict[str, Range]] = {"queries": Range(10, 100)}

        def __init__(self, *, queries: int = 50, p_init: float = 0.1, model: object = None) -> None:
            self.queries, self.p_init = queries, p_init

        def run(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - never run
            raise NotImplementedError

    with pytest.raises(FgavError, match="at least 10 and at most 100"):
        check_attack_options("third", Third, {"queries": 5})
    with pytest.raises(FgavError, match="at least 0 and at most 1"):
        check_attack_options("third", Third, {"p_init": 1.5})
    assert check_attack_options("third", Third, {"queries": 20.0, "model": "anything"}) == {
        "queries": 20, "model": "anything"}


def test_step_size_follows_the_steps_unless_given() -> None:
    pgd = fgav.create_attack("pgd")
    # Madry et al.'s 2.5 epsilons of travel, by default and with any steps (Foolbox's 1/30 travels 1.33).
    assert (pgd.steps, pgd.rel_stepsize) == (40, pytest.approx(2.5 / 40))
    assert fgav.create_attack("pgd", steps=40).rel_stepsize == pytest.approx(pgd.rel_stepsize)
    assert fgav.create_attack("l2pgd").rel_stepsize * fgav.create_attack("l2pgd").steps == pytest.approx(2.5)
    assert fgav.create_attack("pgd", steps=10).rel_stepsize == pytest.approx(0.25)  # 2.5 epsilons of travel
    assert fgav.create_attack("pgd", steps=10, rel_stepsize=0.05).rel_stepsize == 0.05
    assert fgav.create_attack("pgd", steps=10, abs_stepsize=0.01).rel_stepsize == pytest.approx(2.5 / 40)
    assert fgav.create_attack("l2pgd", steps=5).rel_stepsize == pytest.approx(0.5)
    cw = fgav.create_attack("cw")
    assert fgav.create_attack("cw", steps=10).stepsize == pytest.approx(cw.stepsize * cw.steps / 10)
    ead = fgav.create_attack("ead")
    assert fgav.create_attack("ead", steps=20).initial_stepsize == pytest.approx(ead.initial_stepsize * 5)
    stadv, sparse = fgav.create_attack("stadv"), fgav.create_attack("sparse")
    assert fgav.create_attack("stadv", steps=20).stepsize == pytest.approx(stadv.stepsize * stadv.steps / 20)
    assert fgav.create_attack("sparse", steps=10).step_size == pytest.approx(sparse.step_size * 10)
    # an attack without a step size keeps its options as given
    assert follow_steps(get_attack("deepfool"), {"steps": 5}) == {"steps": 5}


@pytest.fixture(scope="module")
def tree_and_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    root = tmp_path_factory.mktemp("options")
    tree = write_tiny_tree(root / "tree", n_train=4, n_test=4)
    fgav.build_model("timm:test_resnet", image_size=32).save(root / "model")
    return str(tree), str(root / "model")


@pytest.mark.parametrize("pair", ["steps=abc", "steps=2.5", "steps=1e12", "rel_stepsize=-1", "pgd.random_start=2"])
def test_cli_prints_one_line(tree_and_model: tuple[str, str], pair: str) -> None:
    tree, model = tree_and_model
    add_plugin_commands()
    result = CliRunner().invoke(cli, ["audit", "--checkpoint", model, "--data", tree, "--augmenter", "none",
                                      "--device", "cpu", "--attack", "pgd", "--attack-option", pair])
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and "'pgd'" in lines[0], result.output
    assert "Traceback" not in result.output


def test_the_reproduce_profiles_build_and_their_step_sizes_follow() -> None:
    from fgav.reproduce.study import FULL, QUICK

    for profile in (QUICK, FULL):
        for name, options in profile["attacks"].items():
            fgav.create_attack(name, **options)
    pgd = fgav.create_attack("pgd", **QUICK["attacks"]["pgd"])
    assert pgd.rel_stepsize * pgd.steps >= 2.5 - 1e-9  # PGD-10 can cross its budget
    cw = fgav.create_attack("cw", **QUICK["attacks"]["cw"])
    assert cw.stepsize * cw.steps == pytest.approx(fgav.create_attack("cw").stepsize * 100)
    assert cw.abort_early is False  # at 10 steps it would end each search at the loss's first rise
