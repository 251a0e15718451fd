"""The multitask model: building, the Eq. 10 loss, and the checkpoint round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import fgav
from fgav.errors import FgavError
from fgav.model import DEFAULT_HEADS
from tests.conftest import make_batch


def test_default_heads_are_the_papers_six() -> None:
    model = fgav.build_model("timm:test_resnet", image_size=32)
    assert model.head_names == list(DEFAULT_HEADS)
    assert model.loss_weights == {
        "attribute": 1.0, "spoof_type": 0.1, "illumination": 0.01,
        "depth": 0.1, "reflection": 0.1, "classification": 1.0,
    }  # fmt: skip


def test_classification_is_always_added() -> None:
    model = fgav.build_model("timm:test_resnet", ["depth"], image_size=32)
    assert model.head_names == ["depth", "classification"]


def test_loss_is_the_weighted_sum_of_head_losses(batch: dict) -> None:
    model = fgav.build_model("timm:test_resnet", image_size=32, loss_weights={"depth": 2.0})
    outputs = model(batch["image"])
    parts = model.losses(outputs, batch)
    expected = sum(model.loss_weights[n] * v for n, v in parts.items())
    torch.testing.assert_close(model.loss(outputs, batch), expected)
    assert model.loss_weights["depth"] == 2.0


def test_missing_ground_truth_is_skipped_and_invalid_samples_masked(batch: dict) -> None:
    model = fgav.build_model("timm:test_resnet", image_size=32)
    partial = {k: v for k, v in batch.items() if k not in ("depth", "attributes")}
    losses = model.losses(model(batch["image"]), partial)
    assert "depth" not in losses and "attribute" not in losses and "classification" in losses
    batch["valid"] = {"reflection": torch.tensor([True, False, True, False])}
    losses = model.losses(model(batch["image"]), batch)
    assert losses["reflection"][1] == 0 and losses["reflection"][3] == 0 and losses["reflection"][0] > 0


def test_checkpoint_round_trip_is_bit_for_bit(tmp_path: Path) -> None:
    torch.manual_seed(1)
    model = fgav.build_model("timm:test_resnet", ["depth", "spoof_type"], image_size=32,
                             head_options={"depth": {"map_size": 8}})
    model.train()(torch.rand(4, 3, 32, 32))  # moves the BatchNorm running statistics
    model.save(tmp_path / "ckpt")
    config = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    assert config["backbone"] == "timm:test_resnet" and config["image_size"] == 32
    assert config["heads"] == ["depth", "spoof_type", "classification"] and config["fgav_version"]
    restored = fgav.load_model(tmp_path / "ckpt")
    assert restored.checkpoint_dir == tmp_path / "ckpt"
    for (name, a), (_, b) in zip(model.state_dict().items(), restored.state_dict().items()):
        assert torch.equal(a, b), name
    x = torch.rand(2, 3, 32, 32)
    model.eval()
    for name, out in model(x).items():
        assert torch.equal(out, restored(x)[name])
    assert restored(x)["depth"].shape == (2, 1, 8, 8)


def test_checkpoint_naming_an_unknown_component_is_a_one_line_error(tmp_path: Path) -> None:
    model = fgav.build_model("timm:test_resnet", ["depth"], image_size=32)
    model.save(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["heads"] = ["depth", "no-such-head", "classification"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(FgavError, match="names the head 'no-such-head', which no installed plugin provides"):
        fgav.load_model(tmp_path)


def test_not_a_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(FgavError, match="is not an fgav checkpoint"):
        fgav.load_model(tmp_path)


@pytest.mark.parametrize("size", [32, 48, 64, 100, 224])
def test_swin_builds_for_every_size(size: int) -> None:
    backbone = fgav.create_backbone("swin", image_size=size).eval()
    with torch.no_grad():
        features = backbone(torch.rand(1, 3, size, size))
    assert features.shape[:2] == (1, 768)


def test_unknown_names_list_the_registered_ones() -> None:
    with pytest.raises(FgavError, match=r"unknown backbone 'resnet81'. Did you mean 'resnet18'"):
        fgav.build_model("resnet81")
    with pytest.raises(FgavError, match="unknown head 'dept'.*Registered: attribute"):
        fgav.build_model("resnet18", ["dept"])


def test_local_weights_file_is_loaded_and_missing_one_is_an_error(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    source = fgav.create_backbone("timm:test_resnet", image_size=32)
    weights = {k: v.clone() + 1.0 for k, v in source.body.state_dict().items() if v.is_floating_point()}
    save_file(weights, str(tmp_path / "w.safetensors"))
    loaded = fgav.create_backbone("timm:test_resnet", image_size=32, weights=tmp_path / "w.safetensors")
    key = next(iter(weights))
    assert torch.equal(loaded.body.state_dict()[key], weights[key])
    with pytest.raises(FgavError, match="weights file not found"):
        fgav.create_backbone("resnet18", weights=tmp_path / "missing.safetensors")
