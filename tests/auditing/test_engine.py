"""The audit end to end: every registered attack on every built-in part, and its results."""

from __future__ import annotations

import copy
import json
import math
import os
from typing import Any

import pytest
import torch

import fgav
from fgav.auditing import audit
from fgav.core.errors import FgavError
from fgav.core.model import DEFAULT_HEADS
from tests.train.tiny import write_tiny_tree

# Options that keep each built-in attack to a few model calls; third-party attacks use theirs.
FAST_OPTIONS: dict[str, dict[str, Any]] = {
    "pgd": {"steps": 3},
    "l2pgd": {"steps": 3},
    "cw": {"steps": 3, "binary_search_steps": 1},
    "ead": {"steps": 3, "binary_search_steps": 1},
    "deepfool": {"steps": 3},
    "spatial-grid": {"num_translations": 2, "num_rotations": 2},
    "stadv": {"steps": 3},
    "sparse": {"steps": 3, "restarts": 1},
    "apgd": {"steps": 3},
    "square": {"queries": 5},
    "reliable": {"steps": 3, "queries": 5},
}


@pytest.mark.parametrize("attack", fgav.list_attacks())
def test_every_attack_on_every_builtin_part(attack: str, tiny_target: fgav.MultiTaskModel, tiny_data) -> None:
    result = audit(tiny_target, tiny_data.limit(8), heads="all", attacks=[attack], eps=[8 / 255],
                   attack_options={attack: FAST_OPTIONS.get(attack, {})}, device="cpu", batch_size=8)
    assert {r["part"] for r in result.results} == set(DEFAULT_HEADS)
    for r in result.results:
        assert r["attack"] == attack and r["augmenter"] == "none" and r["n"] == 8
        assert 0.0 <= r["asr"] <= 1.0
        assert set(r["accuracy"]) == {"attribute", "spoof_type", "illumination", "classification"}
        assert set(r["change"]) == set(DEFAULT_HEADS)
        assert r["distortion"]["linf"] <= (8 / 255 + 1e-5 if r["epsilon"] is not None else 1.0)


def test_fgsm_on_the_live_spoof_head_equals_torchattacks(tiny_target: fgav.MultiTaskModel, tiny_data) -> None:
    torchattacks = pytest.importorskip("torchattacks")
    from fgav.core.aiming import PartObjective
    from fgav.auditing.gradient import run_gradient_attack

    batch = torch.utils.data.default_collate([tiny_data[i] for i in range(16)])

    class Decision(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return tiny_target(x)["classification"]

    theirs = torchattacks.FGSM(Decision().eval(), eps=8 / 255)(batch["image"], batch["spoof"])
    objective = PartObjective.for_batch(tiny_target, "classification", batch)
    (ours,) = run_gradient_attack(fgav.create_attack("fgsm"), objective, batch["image"], [8 / 255])
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-6)


def test_fgsm_asr_grows_with_epsilon_and_the_result_serializes(tiny_target, tiny_data, tmp_path) -> None:
    result = audit(tiny_target, tiny_data, heads=["classification", "depth"], attacks=["fgsm"],
                   eps=[0.0, 4 / 255, 32 / 255], device="cpu")
    asr = [r["asr"] for r in result.find(part="classification")]
    assert asr[0] == 0.0, "a zero budget changes nothing"
    assert asr[0] <= asr[1] <= asr[2] and asr[2] > 0.5
    zero = result.find(part="classification", epsilon=0.0)[0]
    assert zero["distortion"] == {"linf": 0.0, "l2": 0.0, "l0": 0.0}
    assert all(abs(v) < 1e-12 for v in zero["change"].values())
    payload = json.loads(result.to_json(tmp_path / "r.json"))
    assert payload["schema"] == 2 and len(payload["results"]) == 6
    entry = payload["results"][0]
    for key in ("part", "attack", "epsilon", "augmenter", "asr", "asr_ci", "accuracy", "accuracy_ci", "change",
                "distortion", "n", "fas", "outcomes"):
        assert key in entry
    assert result.to_csv().count("\n") == 7
    assert "| Classification | fgsm | 8/255" not in result.to_markdown() and "32/255" in result.to_markdown()
    assert fgav.AuditResult.from_json(tmp_path / "r.json").results[0]["part"] == "classification"


def test_parts_without_ground_truth_are_skipped_with_a_note(tiny_target, tiny_data) -> None:
    data = tiny_data.limit(8)
    data.provides = frozenset(data.provides - {"depth", "reflection"})
    result = audit(tiny_target, data, heads="all", attacks=["fgsm"], device="cpu")
    assert {r["part"] for r in result.results} == {"attribute", "spoof_type", "illumination", "classification"}
    assert any("'depth' skipped" in note for note in result.notes)


@pytest.mark.parametrize("bad, message", [
    (float("nan"), "NaN or infinite"),
    (1.5, r"holds pixel values in \[0.1\d+, 1.5\]; fgav takes images in \[0,1\]"),
])
def test_inputs_outside_the_unit_range_are_a_clear_error(tiny_target, tiny_data, bad: float, message: str) -> None:
    data = tiny_data.limit(4)
    data.items = [dict(item) for item in data.items]
    data.items[1]["image"] = data.items[1]["image"].clone()
    data.items[1]["image"][0, 0, 0] = bad
    with pytest.raises(FgavError, match=message):
        audit(tiny_target, data, attacks=["fgsm"], device="cpu")


def test_unknown_names_are_one_line_errors_with_close_matches(tiny_target, tiny_data) -> None:
    with pytest.raises(FgavError, match="unknown attack 'pgdd'. Did you mean 'pgd'"):
        audit(tiny_target, tiny_data, attacks=["pgdd"], device="cpu")
    with pytest.raises(FgavError, match="unknown augmenter 'sfaa'"):
        audit(tiny_target, tiny_data, augmenters=["sfaa"], device="cpu")
    with pytest.raises(FgavError, match="no part 'dept'"):
        audit(tiny_target, tiny_data, heads=["dept"], device="cpu")
    with pytest.raises(FgavError, match="an epsilon must be a finite number >= 0"):
        audit(tiny_target, tiny_data, eps=[-1.0], device="cpu")


def test_a_third_party_attack_instance_and_the_guide_mode_combine(tiny_target, tiny_data) -> None:
    import foolbox as fb

    class Nudge(fb.attacks.LinfBasicIterativeAttack):
        """A user's own subclass: runs through Foolbox itself, aimed by the bridge."""

        name = "nudge"

        def run(self, *args: Any, **kwargs: Any) -> Any:  # a custom run is not fgav's to replace
            return super().run(*args, **kwargs)

    result = audit(tiny_target, tiny_data.limit(8), heads=["depth"], attacks=[Nudge(steps=2)],
                   eps=[8 / 255], device="cpu")
    (r,) = result.results
    assert r["attack"] == "nudge" and r["distortion"]["linf"] <= 8 / 255 + 1e-6
    assert not math.isnan(r["asr"])


def test_an_interrupted_audit_resumes_to_the_same_numbers(tiny_target, tiny_data, tmp_path) -> None:
    options = dict(heads=["classification", "depth"], attacks=["pgd"], eps=[4 / 255, 8 / 255],
                   attack_options={"pgd": {"steps": 3}}, batch_size=8, device="cpu", seed=3)
    data = tiny_data.limit(32)
    full = audit(tiny_target, data, **options)
    state = tmp_path / "audit.state"

    def interrupt(done: int, total: int) -> None:
        if done >= 16:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        audit(tiny_target, data, state_path=state, progress=interrupt, **options)
    assert json.loads(state.read_text())["batches_done"] == 2
    torch.manual_seed(12345)  # whatever ran in between must not matter
    resumed = audit(tiny_target, data, state_path=state, resume=True, **options)
    assert not state.exists(), "a finished audit removes its state"
    strip = lambda r: [{k: v for k, v in e.items()} for e in r.to_dict()["results"]]  # noqa: E731
    assert strip(resumed) == strip(full)
    with pytest.raises(KeyboardInterrupt):
        audit(tiny_target, data, state_path=state, progress=interrupt, **options)
    with pytest.raises(FgavError, match="belongs to an audit with other settings \\(epsilons\\)"):
        audit(tiny_target, data, state_path=state, resume=True, **{**options, "eps": [8 / 255]})


def test_push_and_guide_in_one_audit(tiny_target, tiny_data) -> None:
    class Shift(fgav.Augmenter):
        """Brightens every image by 0.05: an augmenter whose S(x) is easy to check."""

        name = "test-shift"

        def forward(self, x: torch.Tensor, batch: Any) -> torch.Tensor:
            return (x + 0.05).clamp(0, 1)

    from fgav import registry

    reg = registry.load_plugins()
    reg.components["augmenter"]["test-shift"] = registry.ComponentInfo("augmenter", "test-shift", Shift, "test", "0")
    try:
        result = audit(tiny_target, tiny_data.limit(8), attacks=["fgsm"], eps=[4 / 255],
                       augmenters=["test-shift", "test-shift:guide"], device="cpu")
    finally:
        del reg.components["augmenter"]["test-shift"]
    push, guide = result.find(augmenter="test-shift")[0], result.find(augmenter="test-shift:guide")[0]
    assert push["mode"] == "push" and guide["mode"] == "guide"
    assert guide["distortion"]["linf"] <= 4 / 255 + 1e-6, "guide stays within epsilon of x"
    assert push["distortion"]["linf"] > 4 / 255 + 0.04, "push starts from S(x), 0.05 away"
    # Push mode reports what S(x) does with no attack, on the same samples; guide mode does not.
    alone = push["alone"]
    assert "alone" not in guide and abs(alone["distortion"]["linf"] - 0.05) < 1e-3
    assert len(alone["outcomes"]) == len(push["outcomes"]) == 8
    assert result.compare(push, alone).n == push["n_right_clean"]


def test_an_augmenter_that_overrides_wrap_is_not_bypassed(tiny_target, tiny_data) -> None:
    """FGSM and PGD have a fast native path; an augmenter's own wrap must still be used."""

    class Counting(fgav.Augmenter):
        """The identity, counting the attacks it wraps."""

        name = "test-counting"
        wrapped: list[str] = []

        def forward(self, x: torch.Tensor, batch: Any) -> torch.Tensor:
            return x

        def wrap(self, attack: Any, *, batch: Any = None) -> Any:
            type(self).wrapped.append(type(attack).__name__)
            return super().wrap(attack, batch=batch)

    result = audit(tiny_target, tiny_data.limit(8), attacks=["fgsm", "pgd"], eps=[4 / 255],
                   augmenters=[Counting()], device="cpu", attack_options={"pgd": {"steps": 2}})
    assert len(Counting.wrapped) == 2 * 1, Counting.wrapped  # one batch, two attacks
    assert {e["attack"] for e in result.find(augmenter="test-counting")} == {"fgsm", "pgd"}


def test_transfer_and_audit_share_their_set_up(tiny_target, tiny_data) -> None:
    """Transfer accepts what audit accepts: a data set without limit() and sfa:guide-style modes."""
    from fgav.transfer import transfer

    class Shift(fgav.Augmenter):
        """Brightens every image by 0.05."""

        name = "test-shift"

        def forward(self, x: torch.Tensor, batch: Any) -> torch.Tensor:
            return (x + 0.05).clamp(0, 1)

    from fgav import registry

    plain = torch.utils.data.Subset(tiny_data, range(8))  # no limit(): the Subset fallback
    reg = registry.load_plugins()
    reg.components["augmenter"]["test-shift"] = registry.ComponentInfo("augmenter", "test-shift", Shift, "test", "0")
    try:
        result = transfer({"a": tiny_target}, plain, attack="fgsm", eps=[4 / 255], limit=4,
                          augmenters=["test-shift", "test-shift:guide"], device="cpu")
    finally:
        del reg.components["augmenter"]["test-shift"]
    assert {e["augmenter"] for e in result.entries} == {"test-shift", "test-shift:guide"}
    assert {e["n"] for e in result.entries} == {4}


def _interrupted(model: fgav.MultiTaskModel, data: Any, state, **options: Any) -> None:
    """Run an audit with a state file and stop it after its first batch."""

    def interrupt(done: int, total: int) -> None:
        if done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        audit(model, data, state_path=state, progress=interrupt, **options)
    assert json.loads(state.read_text())["batches_done"] == 1


RESUME = dict(heads="classification", attacks="fgsm", eps="4/255", batch_size=4, device="cpu")


def test_saved_progress_is_never_overwritten_without_resume_or_restart(tiny_target, tiny_data, tmp_path) -> None:
    data, state = tiny_data.limit(8), tmp_path / "audit.state"
    _interrupted(tiny_target, data, state, **RESUME)
    saved = state.read_text()
    with pytest.raises(FgavError, match="holds the saved progress of an audit: pass --resume .* or --restart"):
        audit(tiny_target, data, state_path=state, **RESUME)
    with pytest.raises(FgavError, match="one of --resume .* or --restart"):
        audit(tiny_target, data, state_path=state, resume=True, restart=True, **RESUME)
    assert state.read_text() == saved, "the refused runs left the progress as it was"
    restarted = audit(tiny_target, data, state_path=state, restart=True, **RESUME)
    assert restarted.results[0]["n"] == 8 and not state.exists()
    with pytest.raises(FgavError, match="nothing to resume"):
        audit(tiny_target, data, state_path=state, resume=True, **RESUME)


def test_a_kept_finished_state_resumes_to_the_result_without_attacking(tiny_target, tiny_data, tmp_path,
                                                                        monkeypatch) -> None:
    data, state = tiny_data.limit(8), tmp_path / "audit.state"
    first = audit(tiny_target, data, state_path=state, keep_state=True, **RESUME)
    assert json.loads(state.read_text())["batches_done"] == 2

    def no_attack(*args: Any) -> None:
        raise AssertionError("a finished state attacks nothing again")

    monkeypatch.setattr("fgav.auditing.engine._attack_batch", no_attack)
    again = audit(tiny_target, data, state_path=state, resume=True, **RESUME)
    assert again.results == first.results and not state.exists()


class Shift(fgav.Augmenter):
    """Brightens every image by ``amount``: an augmenter with a setting."""

    name = "test-shift"

    def __init__(self, *, mode: str = "push", amount: float = 0.05) -> None:
        super().__init__(mode=mode)
        self.amount = amount

    def forward(self, x: torch.Tensor, batch: Any) -> torch.Tensor:
        return (x + self.amount).clamp(0, 1)


def test_a_resume_with_another_augmenter_setting_is_refused(tiny_target, tiny_data, tmp_path) -> None:
    data, state = tiny_data.limit(8), tmp_path / "audit.state"
    _interrupted(tiny_target, data, state, **{**RESUME, "augmenters": [Shift(amount=0.05)]})
    with pytest.raises(FgavError, match=r"other settings \(augmenter_settings\)"):
        audit(tiny_target, data, state_path=state, resume=True, **{**RESUME, "augmenters": [Shift(amount=0.1)]})
    resumed = audit(tiny_target, data, state_path=state, resume=True, **{**RESUME, "augmenters": [Shift(amount=0.05)]})
    assert resumed.results[0]["n"] == 8


def test_a_resume_with_one_weight_changed_is_refused(tiny_target, tiny_data, tmp_path) -> None:
    data, state = tiny_data.limit(8), tmp_path / "audit.state"
    _interrupted(tiny_target, data, state, **RESUME)
    changed = copy.deepcopy(tiny_target)
    with torch.no_grad():
        next(changed.parameters()).view(-1)[0] += 1e-3
    assert changed.config == tiny_target.config, "the config alone cannot tell them apart"
    with pytest.raises(FgavError, match=r"other settings \(weights\)"):
        audit(changed, data, state_path=state, resume=True, **RESUME)


@pytest.mark.parametrize("change", ["a label", "an image file"])
def test_a_resume_on_changed_data_is_refused(tiny_target, tmp_path, change: str) -> None:
    tree = write_tiny_tree(tmp_path / "tree", n_train=2, n_test=8)
    state = tmp_path / "audit.state"
    _interrupted(tiny_target, tree, state, **RESUME)
    if change == "a label":
        labels_file = tree / "metas" / "intra_test" / "test_label.json"
        labels = json.loads(labels_file.read_text())
        first = sorted(labels)[0]
        labels[first][10] = 1 - labels[first][10]  # one attribute of one sample
        labels_file.write_text(json.dumps(labels))
    else:
        image = tree / sorted(json.loads((tree / "metas" / "intra_test" / "test_label.json").read_text()))[-1]
        os.utime(image, ns=(image.stat().st_atime_ns, image.stat().st_mtime_ns + 10**9))
    with pytest.raises(FgavError, match=r"other settings \(data_content\)"):
        audit(tiny_target, tree, state_path=state, resume=True, **RESUME)


def test_single_strings_and_repeats_in_the_python_api(tiny_target, tiny_data) -> None:
    data = tiny_data.limit(8)
    result = audit(tiny_target, data, heads="depth", attacks="fgsm", eps="8/255", augmenters="none", device="cpu")
    (entry,) = result.results
    assert (entry["part"], entry["attack"], entry["epsilon"], entry["n"]) == ("depth", "fgsm", 8 / 255, 8)
    repeated = audit(tiny_target, data, heads=["depth", "depth"], attacks=["fgsm", "fgsm"], eps=[8 / 255, "8/255"],
                     augmenters="none,none", device="cpu")
    assert repeated.results == result.results, "a repeat is attacked and counted once"
    assert sum("given 2 times" in note for note in repeated.notes) == 4
    with pytest.raises(FgavError, match="no epsilon given"):
        audit(tiny_target, data, eps="", device="cpu")
    with pytest.raises(FgavError, match="two attacks are both named 'fgsm'"):
        audit(tiny_target, data, attacks=[fgav.create_attack("fgsm"), fgav.create_attack("fgsm")], device="cpu")
