"""Every registered attack (a plugin's too): its result at one epsilon does not depend on the others.

Foolbox hands a minimization attack ``early_stop=min(epsilons)``; an attack that
took it as a bound gave every budget of a sweep the smallest one's result. Here each
registered attack, seeded alike, must give at epsilon e exactly what it gives when e
is asked beside a smaller budget, called directly and through ``fgav.audit``.
"""

from __future__ import annotations

from typing import Any

import foolbox as fb
import pytest
import torch
from foolbox.attacks.base import FixedEpsilonAttack, MinimizationAttack

import fgav
from tests.auditing.conftest import TensorFAS, train_tiny

from .conftest import Trained

SMALL, LARGE = 2 / 255, 24 / 255

# Built-ins with short runs (the sweep logic is what is tested, not the strength);
# any other registered attack runs with its defaults.
CHEAP: dict[str, dict[str, Any]] = {
    "pgd": {"steps": 5}, "l2pgd": {"steps": 5}, "cw": {"steps": 10, "binary_search_steps": 2},
    "ead": {"steps": 10, "binary_search_steps": 2}, "deepfool": {"steps": 10},
    "stadv": {"steps": 10}, "sparse": {"steps": 5, "restarts": 2},
}


def _attack(name: str) -> Any:
    attack = fgav.create_attack(name, **CHEAP.get(name, {}))
    if not isinstance(attack, (FixedEpsilonAttack, MinimizationAttack)):
        pytest.skip(f"{name} takes no epsilon")
    return attack


@pytest.mark.parametrize("name", fgav.list_attacks())
def test_result_at_an_epsilon_is_the_same_alone_and_in_a_sweep(trained: Trained, name: str) -> None:
    attack = _attack(name)
    x, y = trained.x[:6], trained.y[:6]
    torch.manual_seed(0)
    _, alone, ok_alone = attack(trained.fmodel, x, fb.criteria.Misclassification(y), epsilons=[LARGE])
    torch.manual_seed(0)
    _, swept, ok_swept = attack(trained.fmodel, x, fb.criteria.Misclassification(y), epsilons=[SMALL, LARGE])
    torch.testing.assert_close(swept[1], alone[0], rtol=0, atol=1e-6)
    assert torch.equal(ok_swept[1], ok_alone[0])
    assert (swept[0] - x).abs().max() <= SMALL + 1e-6


@pytest.fixture(scope="module")
def target() -> tuple[fgav.MultiTaskModel, TensorFAS]:
    data = TensorFAS(8, seed=3)
    return train_tiny(TensorFAS(48), steps=40), data


@pytest.mark.parametrize("name", fgav.list_attacks())
def test_audit_at_an_epsilon_is_the_same_alone_and_in_a_sweep(target, name: str) -> None:
    _attack(name)
    model, data = target

    def run(eps: list[float]) -> dict[float, Any]:
        result = fgav.audit(model, data, heads=["classification", "depth"], attacks=[name], eps=eps,
                            augmenters=["none"], attack_options={name: CHEAP.get(name, {})}, device="cpu")
        return {(r["part"], r["epsilon"]): r for r in result.results}

    alone, swept = run([LARGE]), run([SMALL, LARGE])
    for part in ("classification", "depth"):
        a, s = alone[(part, LARGE)], swept[(part, LARGE)]
        assert (a["asr"], a["distortion"]) == (s["asr"], s["distortion"])
        assert swept[(part, SMALL)]["distortion"]["linf"] <= SMALL + 1e-6


