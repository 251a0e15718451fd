"""The audit's metrics against a hand computation."""

from __future__ import annotations

import json
import math

import pytest
import torch

import fgav
from fgav.auditing.metrics import MetricAccumulator, distortion, relative_change
from fgav.core.errors import FgavError
from fgav.metrics import wilson_interval


def test_distortion_and_change_by_hand() -> None:
    x = torch.zeros(2, 3, 2, 2)
    x_adv = x.clone()
    x_adv[0, 0, 0, 0] = 0.5
    x_adv[0, 2, 1, 1] = -0.25
    d = distortion(x, x_adv)
    assert d["linf"].tolist() == [0.5, 0.0]
    assert math.isclose(float(d["l2"][0]), math.sqrt(0.25 + 0.0625), rel_tol=1e-6)
    assert d["l0"].tolist() == [2.0, 0.0]
    clean, adv = torch.tensor([[3.0, 4.0]]), torch.tensor([[3.0, 1.0]])
    assert math.isclose(float(relative_change(clean, adv)[0]), 9 / 25, rel_tol=1e-6)


def test_asr_accuracy_and_breakdown_by_hand() -> None:
    model = fgav.build_model("timm:test_resnet", ["spoof_type", "depth"], image_size=32)
    heads = model.heads
    batch = {
        "spoof": torch.tensor([0, 1, 1, 1]),
        "spoof_type": torch.tensor([0, 3, 3, 8]),
        "illumination": torch.tensor([0, 1, 2, 2]),
        "depth": torch.zeros(4, 1, 32, 32),
    }
    def logits(cls: list[int]) -> torch.Tensor:
        return torch.nn.functional.one_hot(torch.tensor(cls), 2).float()
    clean = {"classification": logits([0, 1, 1, 0]),  # sample 3 wrong when clean
             "spoof_type": torch.nn.functional.one_hot(torch.tensor([0, 3, 3, 8]), 11).float(),
             "depth": torch.ones(4, 1, 14, 14)}
    adv = {"classification": logits([1, 1, 0, 1]),  # samples 0 and 2 flipped; 3 made right
           "spoof_type": torch.nn.functional.one_hot(torch.tensor([0, 3, 5, 5]), 11).float(),
           "depth": torch.full((4, 1, 14, 14), 2.0)}
    acc = MetricAccumulator(heads, {"spoof", "spoof_type", "depth", "illumination"})
    x = torch.zeros(4, 3, 32, 32)
    acc.update(batch, clean, adv, x, x + 0.01)
    r = acc.result()
    assert r["n"] == 4 and r["n_right_clean"] == 3
    assert math.isclose(r["asr"], 2 / 3)
    assert r["clean_accuracy"] == {"spoof_type": 1.0, "classification": 0.75}
    assert r["accuracy"] == {"spoof_type": 0.5, "classification": 0.5}
    assert "depth" not in r["accuracy"], "maps have no accuracy"
    assert math.isclose(r["change"]["depth"], 1.0)
    assert math.isclose(r["distortion"]["linf"], 0.01, rel_tol=1e-5)
    spoof_types = r["breakdown"]["spoof_type"]
    assert spoof_types["Live"] == {"asr": 1.0, "asr_ci": list(wilson_interval(1, 1)), "n_right_clean": 1}
    assert spoof_types["A4"] == {"asr": 0.5, "asr_ci": list(wilson_interval(1, 2)), "n_right_clean": 2}
    assert math.isnan(spoof_types["Pad"]["asr"]) and spoof_types["Pad"]["n_right_clean"] == 0
    assert math.isclose(r["fas"]["BPCER"], 1.0) and math.isclose(r["fas"]["APCER"], 1 / 3)
    # Every proportion carries its Wilson interval, from the counts behind it.
    assert r["n_flipped"] == 2 and r["asr_ci"] == list(wilson_interval(2, 3))
    assert r["accuracy_ci"]["spoof_type"] == list(wilson_interval(2, 4)) and r["n_scored"]["spoof_type"] == 4
    assert r["clean_accuracy_ci"]["classification"] == list(wilson_interval(3, 4))
    assert r["fas_ci"]["APCER"] == list(wilson_interval(1, 3)) and "AUC" not in r["fas_ci"]
    # Per sample: 0 and 2 flipped, 1 resisted, 3 wrong when clean.
    assert r["outcomes"] == "101-"
    assert "alone" not in r, "no augmenter output was given"


def _batch(spoof: list[int]) -> dict[str, torch.Tensor]:
    return {"spoof": torch.tensor(spoof)}


def _logits(cls: list[int]) -> dict[str, torch.Tensor]:
    return {"classification": torch.nn.functional.one_hot(torch.tensor(cls), 2).float()}


def test_outcomes_and_the_augmenter_alone_survive_a_resume() -> None:
    model = fgav.build_model("timm:test_resnet", [], image_size=32)
    x = torch.zeros(3, 3, 8, 8)
    augmented = x + 0.25
    batches = [([0, 1, 1], [0, 1, 0], [1, 1, 0], [1, 0, 0]),  # labels, clean, adv, S(x) alone
               ([1, 0, 1], [1, 0, 1], [0, 1, 1], [0, 0, 1])]
    whole = MetricAccumulator(model.heads, {"spoof"})
    for labels, clean, adv, alone in batches:
        whole.update(_batch(labels), _logits(clean), _logits(adv), x, x + 0.1, alone=(augmented, _logits(alone)))
    first = MetricAccumulator(model.heads, {"spoof"})
    labels, clean, adv, alone = batches[0]
    first.update(_batch(labels), _logits(clean), _logits(adv), x, x + 0.1, alone=(augmented, _logits(alone)))
    resumed = MetricAccumulator(model.heads, {"spoof"})
    resumed.load_state(json.loads(json.dumps(first.state())))
    labels, clean, adv, alone = batches[1]
    resumed.update(_batch(labels), _logits(clean), _logits(adv), x, x + 0.1, alone=(augmented, _logits(alone)))
    r = resumed.result()
    assert json.dumps(r, sort_keys=True) == json.dumps(whole.result(), sort_keys=True)
    # batch 0: flipped, resisted, wrong when clean; batch 1: flipped, flipped, resisted
    assert r["outcomes"] == "10-" + "110"
    assert r["alone"]["outcomes"] == "11-" + "100"
    assert r["alone"]["n_flipped"] == 3 and math.isclose(r["alone"]["asr"], 3 / 5)
    assert math.isclose(r["alone"]["distortion"]["linf"], 0.25)


def test_an_identity_augmenter_has_no_alone_entry_and_old_states_are_refused() -> None:
    model = fgav.build_model("timm:test_resnet", [], image_size=32)
    acc = MetricAccumulator(model.heads, {"spoof"})
    x = torch.zeros(2, 3, 8, 8)
    acc.update(_batch([0, 1]), _logits([0, 1]), _logits([1, 1]), x, x + 0.1, alone=(x, _logits([0, 1])))
    assert "alone" not in acc.result()
    state = acc.state()
    del state["outcomes"]
    with pytest.raises(FgavError, match="older fgav"):
        MetricAccumulator(model.heads, {"spoof"}).load_state(state)


def test_nan_scores_are_left_out_of_the_fas_metrics_and_counted() -> None:
    model = fgav.build_model("timm:test_resnet", [], image_size=32)
    acc = MetricAccumulator(model.heads, {"spoof"})
    x = torch.zeros(3, 3, 8, 8)
    adv = {"classification": torch.tensor([[2.0, 0.0], [float("nan"), 0.0], [0.0, 2.0]])}
    acc.update(_batch([0, 1, 1]), _logits([0, 1, 1]), adv, x, x + 0.1)
    r = acc.result()
    assert r["fas_nonfinite_scores"] == 1 and r["fas"]["APCER"] == 0.0 and r["fas"]["BPCER"] == 0.0
