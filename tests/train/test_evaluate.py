"""Evaluation against a hand computation over the same model outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import fgav
from fgav.train import evaluate, evaluate_model
from tests.train.tiny import ToyFAS


@pytest.fixture(scope="module")
def model() -> fgav.MultiTaskModel:
    torch.manual_seed(3)
    return fgav.build_model("timm:test_resnet", image_size=32).eval()


def test_metrics_match_a_hand_computation(model: fgav.MultiTaskModel) -> None:
    data = ToyFAS(21)
    result = evaluate_model(model, data, batch_size=4, progress=False)  # 21 = 5 batches of 4 and one of 1
    batch = {k: torch.stack([item[k] for item in data.items]) for k in data.items[0]}
    with torch.no_grad():
        out = model(batch["image"])
    spoof = batch["spoof"].numpy()
    p = fgav.core.model.spoof_probability(out).numpy()
    assert result["n"] == 21
    assert result["accuracy"]["classification"] == pytest.approx(float(((p >= 0.5) == spoof).mean()))
    st = (out["spoof_type"].argmax(1) == batch["spoof_type"]).float().mean()
    assert result["accuracy"]["spoof_type"] == pytest.approx(float(st))
    attr = ((out["attribute"] > 0) == (batch["attributes"] > 0.5)).float().mean()
    assert result["accuracy"]["attribute"] == pytest.approx(float(attr))
    depth_target = torch.nn.functional.adaptive_avg_pool2d(batch["depth"], 14)
    assert result["mse"]["depth"] == pytest.approx(float((out["depth"] - depth_target).pow(2).mean()), rel=1e-5)
    apcer = float((p[spoof == 1] < 0.5).mean())
    bpcer = float((p[spoof == 0] >= 0.5).mean())
    assert result["fas"]["APCER"] == pytest.approx(apcer)
    assert result["fas"]["BPCER"] == pytest.approx(bpcer)
    pairs = (p[spoof == 1][:, None] > p[spoof == 0][None, :]).mean()
    assert result["fas"]["AUC"] == pytest.approx(float(pairs))
    assert model.training is False


def test_samples_with_unknown_ground_truth_are_not_counted(model: fgav.MultiTaskModel) -> None:
    data = ToyFAS(8)
    for i, item in enumerate(data.items):
        item["valid"] = {"depth": torch.tensor(i < 4), "reflection": torch.tensor(True)}
    with torch.no_grad():
        out = model(torch.stack([item["image"] for item in data.items[:4]]))
    target = torch.nn.functional.adaptive_avg_pool2d(torch.stack([item["depth"] for item in data.items[:4]]), 14)
    result = evaluate_model(model, data, batch_size=3, progress=False)
    assert result["mse"]["depth"] == pytest.approx(float((out["depth"] - target).pow(2).mean()), rel=1e-5)


def test_evaluate_a_checkpoint_limits_and_notes_missing_heads(model: fgav.MultiTaskModel, tmp_path: Path) -> None:
    model.save(tmp_path / "ckpt")
    data = ToyFAS(12)
    data.provides = frozenset({"image", "spoof"})
    result = evaluate(tmp_path / "ckpt", dataset=data, limit=5, device="cpu", progress=False)
    assert result["n"] == 5
    assert set(result["accuracy"]) == {"classification"} and result["mse"] == {}
    assert np.isfinite(result["fas"]["ACER"])


def test_16_bit_depth_maps_give_the_8_bit_depth_mse(model: fgav.MultiTaskModel, tmp_path: Path) -> None:
    import shutil

    from PIL import Image

    from fgav.data import open_dataset
    from fgav.data.testing import label, write_tree

    rng = np.random.default_rng(0)
    deep = {f"Data/test/0/live/{i:02d}.png": rng.integers(0, 65536, (32, 32), dtype=np.uint16) for i in range(6)}
    samples = {
        rel: {"label": label(spoof=0), "image": rng.integers(0, 255, (32, 32, 3)), "depth": (d >> 8).astype(np.uint8)}
        for rel, d in deep.items()
    }  # the 8-bit maps are the 16-bit ones' high bytes
    eight = write_tree(tmp_path / "eight", samples)
    shutil.copytree(eight, tmp_path / "sixteen")
    for rel, d in deep.items():
        Image.fromarray(d).save(tmp_path / "sixteen" / rel.replace(".png", "_depth.png"))
    results = [
        evaluate_model(model, open_dataset(root, split="test", image_size=32), batch_size=4, progress=False)["mse"]["depth"]
        for root in (eight, tmp_path / "sixteen")
    ]
    # Saturated 16-bit maps (all white) would give an MSE several times larger.
    assert results[1] == pytest.approx(results[0], abs=2 / 255)


@pytest.mark.parametrize(("bad", "message"), [(float("nan"), "NaN or infinite"), (2.0, r"pixel values in \[.*, 2\]")])
def test_images_that_are_not_in_the_unit_range_are_refused_like_the_audit(model: fgav.MultiTaskModel, bad: float,
                                                                        message: str) -> None:
    data = ToyFAS(8)
    data.items[5] = {**data.items[5], "image": data.items[5]["image"].clone()}
    data.items[5]["image"][1, 2, 3] = bad
    with pytest.raises(fgav.FgavError, match=f"holds {message}.*fgav takes images in"):
        evaluate_model(model, data, batch_size=4, progress=False)
