"""Indicators of attack failure: each flag fires on a tiny model where the attack really fails, and not where it works."""

from __future__ import annotations

import copy
import csv
import io
import json
import math
from typing import Any

import pytest
import torch
from rich.console import Console
from torch import nn

import fgav
from fgav.auditing import audit
from fgav.auditing.flags import (
    AUXILIARY_CAVEAT,
    NOT_MONOTONE_SHARE,
    UNBOUNDED,
    Evidence,
    Flag,
    break_point_alignment,
    is_iterative_linf,
    judge,
    still_rising,
    unbounded_budget,
    uses_gradients,
    with_mark,
    zero_gradient_samples,
)
from fgav.auditing.result import flag_footnotes
from fgav.reports import build_report, render_html, render_markdown


class Quantize(nn.Module):
    """Rounds the input to 8 bits, as a deployed model reading JPEG pixels does: its gradient is zero."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.round(x * 255) / 255


class Noise(nn.Module):
    """Adds fresh Gaussian noise at every forward pass: a model whose decision is not deterministic."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.2 * torch.randn_like(x)


def in_front(model: fgav.MultiTaskModel, layer: nn.Module) -> fgav.MultiTaskModel:
    """A copy of ``model`` whose backbone first applies ``layer``."""
    out = copy.deepcopy(model)
    out.backbone = nn.Sequential(layer, out.backbone)
    return out


def codes(entry: dict[str, Any]) -> set[str]:
    return {f["code"] for f in entry["flags"]}


def run(model: fgav.MultiTaskModel, data: Any, attack: str, eps: list[float], **options: Any) -> fgav.AuditResult:
    check = options.pop("check", False)
    return audit(model, data, heads=["classification"], attacks=[attack], eps=eps, device="cpu", batch_size=16,
                 attack_options={attack: options}, check=check)


@pytest.fixture(scope="module")
def masked(tiny_target: fgav.MultiTaskModel) -> fgav.MultiTaskModel:
    return in_front(tiny_target, Quantize())


def test_a_model_that_quantizes_its_input_has_zero_gradients_and_fails_unbounded(masked, tiny_target,
                                                                                    tiny_data) -> None:
    data = tiny_data.limit(16)
    (entry,) = run(masked, data, "pgd", [8 / 255], steps=10, rel_stepsize=0.25, check=True).results
    assert {"zero-gradients", "unbounded-failure"} <= codes(entry)
    message = next(f["message"] for f in entry["flags"] if f["code"] == "zero-gradients")
    assert message.startswith("16 of 16 samples")
    (healthy,) = run(tiny_target, data, "pgd", [8 / 255], steps=10, rel_stepsize=0.25, check=True).results
    assert not codes(healthy) & {"zero-gradients", "unbounded-failure"}
    (grid,) = run(masked, data, "spatial-grid", [8 / 255], num_translations=2, num_rotations=2).results
    assert "zero-gradients" not in codes(grid), "a gradient-free attack does not need gradients"


def test_unbounded_failure_runs_only_with_check(masked, tiny_data) -> None:
    (entry,) = run(masked, tiny_data.limit(16), "pgd", [8 / 255], steps=3).results
    assert "zero-gradients" in codes(entry) and "unbounded-failure" not in codes(entry)


def test_one_tiny_pgd_step_is_weaker_than_fgsm(tiny_target, tiny_data) -> None:
    weak = run(tiny_target, tiny_data, "pgd", [32 / 255], steps=1, rel_stepsize=0.1, random_start=False)
    (entry,) = weak.results
    assert "weaker-than-fgsm" in codes(entry)
    fgsm = run(tiny_target, tiny_data, "fgsm", [32 / 255]).results[0]
    assert entry["asr"] < fgsm["asr"] and "weaker-than-fgsm" not in codes(fgsm)
    strong = run(tiny_target, tiny_data, "pgd", [32 / 255], steps=10, rel_stepsize=0.25).results[0]
    assert strong["asr"] >= fgsm["asr"] and "weaker-than-fgsm" not in codes(strong)


def test_two_steps_leave_the_optimization_incomplete(tiny_target, tiny_data) -> None:
    (entry,) = run(tiny_target, tiny_data.limit(16), "pgd", [8 / 255], steps=2).results
    assert entry["asr"] < 1 and "incomplete-optimization" in codes(entry)
    (fgsm,) = run(tiny_target, tiny_data.limit(16), "fgsm", [8 / 255]).results
    assert "incomplete-optimization" not in codes(fgsm), "one step leaves no trace to read"


def test_still_rising_reads_the_last_steps_of_a_trace() -> None:
    steps = torch.arange(20, dtype=torch.float32)
    trace = torch.stack([
        steps,  # rising to the end
        torch.ones(20),  # flat
        torch.minimum(steps, torch.tensor(5.0)),  # converged long ago
        torch.where(steps < 12, steps, torch.tensor(math.nan)),  # rising until it stopped
        torch.tensor([0.5] + [math.nan] * 19),  # one step: nothing to read
        torch.minimum(steps, torch.tensor(10.0)) + 0.01 * steps,  # levelled off, a creep of 1% of its range a step
        10 + 0.3 * (-1.0) ** steps,  # a fixed step oscillating about the optimum
        1e-6 * steps,  # rising on a tiny scale: the range, not the size, counts
        steps**2,  # rising faster and faster
        torch.minimum(steps, torch.tensor(14.0)) + 0.1 * steps,  # a knee late on, then a creep of 7 % of its range
        torch.sigmoid((steps - 10) / 2),  # S-shaped: slow, steep, bending level in its last half
        torch.minimum(steps, torch.tensor(4.0)) + 0.15 * steps,  # a knee early on, then a steady creep
    ], dim=1)
    expected = [True, False, False, True, False, False, False, True, True, False, False, True]
    assert still_rising(trace).tolist() == expected


def test_break_point_alignment_tells_a_straight_rise_from_a_knee() -> None:
    steps = torch.arange(20, dtype=torch.float64)
    assert break_point_alignment(steps) == pytest.approx((1.0, False), abs=1e-9)
    knee, bends_up = break_point_alignment(torch.minimum(steps, torch.tensor(5.0)))
    assert knee < 0.5 and not bends_up, "a steep rise, then flat: a right-angle-like break"
    assert break_point_alignment(steps**2)[1], "an accelerating loss bends upwards"
    assert break_point_alignment(torch.tensor([0.0, 1.0])) == (1.0, False), "two steps: no break point"
    assert break_point_alignment(torch.ones(5)) == (1.0, False), "flat: no break point"


class GivesUpAtLargeBudgets(fgav.create_attack("fgsm").__class__):
    """FGSM that returns the clean image from a budget of 0.5 up: an attack broken at large budgets."""

    name = "test-gives-up"

    def run(self, model: Any, inputs: Any, criterion: Any, *, epsilon: float, **kwargs: Any) -> Any:
        if epsilon >= 0.5:
            return inputs
        return super().run(model, inputs, criterion, epsilon=epsilon, **kwargs)


def test_an_attack_that_loses_samples_as_the_budget_grows_is_not_monotone(tiny_target, tiny_data) -> None:
    sweep = audit(tiny_target, tiny_data, heads=["classification"], attacks=[GivesUpAtLargeBudgets()],
                  eps=[32 / 255, 1.0], device="cpu", batch_size=16)
    small, large = sweep.results
    assert small["asr"] > large["asr"] == 0
    assert "not-monotone" in codes(large) and "not-monotone" not in codes(small)
    fgsm = run(tiny_target, tiny_data, "fgsm", [2 / 255, 8 / 255, 32 / 255, 128 / 255, 1.0])
    assert [r["asr"] for r in fgsm.results] == sorted(r["asr"] for r in fgsm.results)
    assert not any("not-monotone" in codes(r) for r in fgsm.results)


def test_not_monotone_is_judged_on_samples_and_on_the_asr() -> None:
    right = [True] * 40
    flips = lambda *i: [k in i for k in range(40)]  # noqa: E731
    small = Evidence(right=right, flipped=flips(0, 1, 2, 3, 4))
    lost_a_few = Evidence(right=right, flipped=flips(0, *range(5, 20)))  # 4 of 40 lost, the ASR rises
    assert math.ceil(NOT_MONOTONE_SHARE * 40) <= 4
    falls = Evidence(right=right, flipped=flips(0, 1, 2, 3))
    flags = judge({("depth", "pgd", 0.01, "none"): small, ("depth", "pgd", 0.03, "none"): lost_a_few,
                   ("depth", "pgd", 0.02, "none"): Evidence(right=right, flipped=flips(0, 1, 2, 3, 4)),
                   ("depth", "fgsm", 0.01, "none"): small, ("depth", "fgsm", 0.03, "none"): falls})
    assert flags[("depth", "pgd", 0.01, "none")] == [] and flags[("depth", "pgd", 0.02, "none")] == []
    assert [f.code for f in flags[("depth", "pgd", 0.03, "none")]] == ["not-monotone"]
    assert flags[("depth", "fgsm", 0.03, "none")][0].message.startswith("ASR 0.100 is below 0.125")


def test_on_an_auxiliary_part_a_weak_or_falling_asr_says_it_may_be_the_aim() -> None:
    right = [True] * 40
    flips = lambda *i: [k in i for k in range(40)]  # noqa: E731
    evidence = {}
    for part in ("classification", "reflection"):
        evidence[(part, "pgd", 0.01, "none")] = Evidence(right=right, flipped=flips(0, 1, 2, 3, 4))
        weak = Evidence(right=right, flipped=flips(0, 1, 2))
        weak.add_fgsm(torch.tensor(flips(*range(10))))
        evidence[(part, "pgd", 0.03, "none")] = weak
    flags = judge(evidence)
    for part, caveat in (("classification", False), ("reflection", True)):
        found = flags[(part, "pgd", 0.03, "none")]
        assert [f.code for f in found] == ["not-monotone", "weaker-than-fgsm"]
        assert all((AUXILIARY_CAVEAT in f.message) == caveat for f in found), part


def test_a_noisy_model_is_unstable(tiny_target, tiny_data) -> None:
    data = tiny_data.limit(32)
    (noisy,) = run(in_front(tiny_target, Noise()), data, "deepfool", [8 / 255], steps=3).results
    assert "unstable" in codes(noisy)
    (pgd,) = run(in_front(tiny_target, Noise()), data, "pgd", [32 / 255], steps=10, rel_stepsize=0.25).results
    assert "unstable" in codes(pgd), "a sample the runner stopped early is wrong there no longer"
    (healthy,) = run(tiny_target, data, "deepfool", [8 / 255], steps=3).results
    assert "unstable" not in codes(healthy)


def test_zero_gradient_samples() -> None:
    grad = torch.zeros(4, 3, 2, 2)
    grad[1, 0, 0, 0] = 1e-30
    grad[2, 1, 1, 1] = math.nan
    grad[3] = 1.0
    grad[3, 2, 0, 1] = math.inf
    assert zero_gradient_samples(grad).tolist() == [True, False, True, True]


def test_flags_reach_json_csv_table_markdown_and_the_report(masked, tiny_target, tiny_data, tmp_path) -> None:
    result = audit(masked, tiny_data.limit(16), heads=["classification", "depth"], attacks=["fgsm"], eps=[8 / 255],
                   device="cpu")
    payload = json.loads(result.to_json(tmp_path / "r.json"))
    for entry in payload["results"]:
        assert entry["flags"] and all(set(f) == {"code", "message"} for f in entry["flags"])
        assert entry["flags"][0]["code"] == "zero-gradients"
    rows = list(csv.DictReader(io.StringIO(result.to_csv())))
    assert [row["flags"] for row in rows] == ["zero-gradients", "zero-gradients"]
    console = Console(width=250, record=True, file=io.StringIO())
    console.print(result.table())
    printed = console.export_text()
    footnote = "[1] zero-gradients: 16 of 16 samples have a zero"
    assert footnote in printed and footnote in result.to_markdown()
    report = build_report(fgav.reports.load_result(tmp_path / "r.json"))
    for text in (render_html(report), render_markdown(report)):
        assert "zero-gradients: 16 of 16 samples have a zero" in text
    healthy = audit(tiny_target, tiny_data.limit(16), attacks=["fgsm"], eps=[8 / 255], device="cpu")
    assert healthy.results[0]["flags"] == [] and "zero-gradients" not in render_markdown(build_report(healthy))
    assert "[1]" not in healthy.to_markdown() and list(csv.DictReader(io.StringIO(healthy.to_csv())))[0]["flags"] == ""


def test_flag_footnotes_number_each_distinct_flag() -> None:
    u, z = Flag("unstable", "u").to_dict(), Flag("zero-gradients", "z").to_dict()
    marks, footnotes = flag_footnotes([{"flags": [z, u]}, {"flags": []}, {"flags": [u]}])
    assert marks == ["1,2", "", "2"] and footnotes == ["[1] zero-gradients: z", "[2] unstable: u"]
    assert with_mark("0.5000", "1,2") == "0.5000 [1,2]" and with_mark("0.5000", "") == "0.5000"


def test_an_interrupted_audit_resumes_to_the_same_flags(masked, tiny_data, tmp_path) -> None:
    options: dict[str, Any] = dict(heads=["classification"], attacks=["pgd", "fgsm"], eps=[4 / 255, 1.0],
                                   attack_options={"pgd": {"steps": 3}}, batch_size=8, device="cpu", check=True)
    data = tiny_data.limit(24)
    full = audit(masked, data, **options)
    state = tmp_path / "audit.state"

    def interrupt(done: int, total: int) -> None:
        if done >= 16:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        audit(masked, data, state_path=state, progress=interrupt, **options)
    resumed = audit(masked, data, state_path=state, resume=True, **options)
    assert [r["flags"] for r in resumed.results] == [r["flags"] for r in full.results]
    assert any(r["flags"] for r in full.results)


def test_transfer_entries_carry_their_source_attacks_flags(masked, tiny_target, tiny_data) -> None:
    from fgav.transfer import transfer

    result = transfer({"masked": masked, "plain": tiny_target}, tiny_data.limit(16), attack="pgd", eps=[8 / 255],
                      augmenters=["none"], attack_options={"steps": 2}, device="cpu")
    by_source = {e["source"]: e for e in result.entries if e["target"] != e["source"]}
    assert "zero-gradients" in codes(by_source["masked"]) and "zero-gradients" not in codes(by_source["plain"])
    assert "incomplete-optimization" in codes(by_source["plain"]), "two steps, still rising"
    marked = [line for line in result.to_markdown().splitlines() if line.startswith("| masked")]
    assert marked and all("[1]" in line for line in marked)
    assert "zero-gradients: 16 of 16" in render_markdown(build_report(result))


def test_which_checks_concern_which_attack() -> None:
    image = torch.zeros(3, 8, 8)
    attacks = {name: fgav.create_attack(name) for name in ("fgsm", "pgd", "l2pgd", "cw", "deepfool", "spatial-grid",
                                                           "stadv", "sparse")}
    assert {n for n, a in attacks.items() if is_iterative_linf(a)} == {"pgd", "deepfool"}
    assert unbounded_budget(attacks["pgd"], image) == 1.0 and unbounded_budget(attacks["l2pgd"], image) == math.sqrt(192)
    assert unbounded_budget(attacks["cw"], image) is None, "a minimization attack: no clipping"
    # sparse counts pixels and stadv bounds a flow beside epsilon; the grid takes no budget.
    assert all(unbounded_budget(attacks[n], image) is UNBOUNDED for n in ("stadv", "sparse", "spatial-grid"))
    assert not uses_gradients(attacks["spatial-grid"]) and uses_gradients(attacks["stadv"])
