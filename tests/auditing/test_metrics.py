"""The audit's metrics against a hand computation."""

from __future__ import annotations

import math

import torch

import fgav
from fgav.auditing.metrics import MetricAccumulator, distortion, relative_change


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
    assert spoof_types["Live"] == {"asr": 1.0, "n_right_clean": 1}
    assert spoof_types["A4"] == {"asr": 0.5, "n_right_clean": 2}
    assert math.isnan(spoof_types["Pad"]["asr"]) and spoof_types["Pad"]["n_right_clean"] == 0
    assert math.isclose(r["fas"]["BPCER"], 1.0) and math.isclose(r["fas"]["APCER"], 1 / 3)
