"""The reproduction's plan: the jobs each table reads, shared jobs once, and their estimated cost."""

from __future__ import annotations

import pytest

from fgav import build_model
from fgav.core.errors import FgavError
from fgav.reproduce.experiments import EXPERIMENTS, SWEEP_EPS, parts_job, plan
from fgav.reproduce.jobs import Job, Setting, attack_steps, job_cost, model_flops, unique_jobs


@pytest.fixture(scope="module")
def setting() -> Setting:
    targets = {name: build_model(backbone="timm:test_resnet", image_size=32).eval() for name in ("small", "resnet18")}
    return Setting(targets=targets, data="synth", limit=8, attack_options={"pgd": {"steps": 10}},
                   sfa_options={"epochs": 1})


def test_shared_jobs_run_once_and_every_table_finds_its_own(setting: Setting) -> None:
    jobs = plan(setting, list(EXPERIMENTS))
    keys = [job.key for job in jobs]
    assert len(keys) == len(set(keys))
    assert setting.main == "resnet18"
    # Tab. 4 reads the main target's every-part audit, Tab. 5 and 6 every target's: three tables, two jobs.
    assert keys.count(parts_job(setting, "resnet18").key) == 1 and parts_job(setting, "small").key in keys
    assert "tab3-cw" in keys and "tab1-cw" in keys and "tab7" in keys
    for name, experiment in EXPERIMENTS.items():
        assert {job.key for job in experiment.jobs(setting)} <= set(keys), name
    only_tab3 = [job.key for job in plan(setting, ["tab3"])]
    assert "tab1-fgsm" in only_tab3, "Tab. 3's 'with LBP' column comes from Tab. 1's audits"
    sweep = parts_job(setting, "small").options["eps"]
    assert sweep == list(SWEEP_EPS) and 8 / 255 in sweep


def test_one_key_must_mean_one_job() -> None:
    a = Job("k", "audit", "resnet18", {"attacks": ["fgsm"]})
    assert unique_jobs([a, Job("k", "audit", "resnet18", {"attacks": ["fgsm"]})]) == [a]
    with pytest.raises(FgavError, match="differently"):
        unique_jobs([a, Job("k", "audit", "resnet18", {"attacks": ["pgd"]})])


def test_the_cost_grows_with_steps_parts_budgets_and_the_target(setting: Setting) -> None:
    flops = {"small": 1.0, "resnet18": 10.0}

    def cost(backbone: str = "small", **options: object) -> float:
        base = {"attacks": ["fgsm"], "eps": [8 / 255], "augmenters": ["none"]}
        return job_cost(setting, Job("k", "audit", backbone, {**base, **options}), flops)

    assert attack_steps("pgd", {"steps": 10}) == 10 and attack_steps("cw", {"steps": 5, "binary_search_steps": 2}) == 10
    assert cost(attacks=["pgd"]) > cost()
    assert cost(heads="all") == cost() * len(setting.targets["small"].heads)
    assert cost(augmenters=["none", "sfa"]) == 2 * cost()
    assert cost(attacks=["pgd"], eps=[1 / 255, 2 / 255]) == 2 * cost(attacks=["pgd"])
    assert cost(eps=list(SWEEP_EPS)) < len(SWEEP_EPS) * cost(), "one gradient serves every FGSM budget"
    assert cost("resnet18") == 10 * cost()
    transfer = Job("t", "transfer", None, {"attack": "fgsm", "eps": 8 / 255, "augmenters": ["none", "sfa"]})
    assert job_cost(setting, transfer, flops) > 0
    assert model_flops(setting.targets["small"]) > 0
