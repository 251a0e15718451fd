"""The multitask model: building, the Eq. 10 loss, and the checkpoint round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import fgav
from fgav.core.errors import FgavError
from fgav.core.model import DEFAULT_HEADS
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


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny saved checkpoint (test ViT at 32 px: its position embedding depends on the size)."""
    torch.manual_seed(0)
    return fgav.build_model("timm:test_vit", ["classification"], image_size=32).save(tmp_path_factory.mktemp("ckpt"))


def _copy(saved: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(saved, tmp_path / "copy"))


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"",  # empty
        lambda data: data[: len(data) // 2],  # truncated
        lambda data: data[:8] + b"\x00" * 64,  # header cut
        lambda data: b"\x89PNG garbage" * 100,  # not safetensors at all
    ],
    ids=["empty", "truncated", "header", "garbage"],
)
def test_damaged_weights_are_one_line_naming_the_file(saved: Path, tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    copy = _copy(saved, tmp_path)
    weights = copy / "model.safetensors"
    weights.write_bytes(damage(weights.read_bytes()))
    with pytest.raises(FgavError, match="model.safetensors: not a readable safetensors file") as info:
        fgav.load_model(copy)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ([1, 2], "a JSON object is needed, not a list"),
        ({"backbone": "timm:test_vit", "heads": ["classification"], "image_size": "32"}, "'image_size' must be an integer, not '32'"),
        ({"backbone": "timm:test_vit", "heads": ["classification"], "image_size": 32.5}, "'image_size' must be an integer"),
        ({"backbone": "timm:test_vit", "heads": ["classification"], "image_size": True}, "'image_size' must be an integer"),
        ({"backbone": "timm:test_vit", "heads": "classification", "image_size": 32}, "'heads' must be a list"),
        ({"backbone": 7, "heads": ["classification"], "image_size": 32}, "'backbone' must be a name"),
        ({"heads": ["classification"], "image_size": 32}, "no 'backbone'"),
        ({"backbone": "timm:test_vit", "heads": ["classification"], "image_size": 32, "head_options": [1]}, "'head_options' must be an object"),
        ({"backbone": "timm:test_vit", "heads": ["classification"], "image_size": 32, "loss_weights": {"classification": "x"}}, "'loss_weights' must map"),
        ({"backbone": "timm:test_vit", "heads": ["classification"], "image_size": 5}, "image size must be between 16 and 1024"),
        ({"backbone": "timm:test_vit", "heads": ["classification"], "image_size": 32, "head_options": {"classification": {"dropout": "x"}}}, "cannot build the model it describes"),
    ],
)
def test_malformed_configs_are_one_line_naming_the_file(saved: Path, tmp_path: Path, config: object, match: str) -> None:
    copy = _copy(saved, tmp_path)
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(FgavError, match="config.json: .*" + match.replace("(", r"\(").replace(")", r"\)")) as info:
        fgav.load_model(copy)
    assert "\n" not in str(info.value)
    (copy / "config.json").write_bytes(b"\xff\xfe not json")
    with pytest.raises(FgavError, match="config.json: malformed checkpoint config"):
        fgav.load_model(copy)


def test_weights_of_another_backbone_or_size_are_one_line(saved: Path, tmp_path: Path) -> None:
    copy = _copy(saved, tmp_path)
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "image_size": 64}))  # another size: another embedding
    with pytest.raises(FgavError, match=r"model.safetensors: its tensors do not fit the model \(backbone timm:test_vit at 64 px.*size mismatch for backbone\.") as info:
        fgav.load_model(copy)
    assert "\n" not in str(info.value)
    (copy / "config.json").write_text(json.dumps({**config, "backbone": "timm:test_resnet"}))  # another backbone
    with pytest.raises(FgavError, match=r"its tensors do not fit the model \(backbone timm:test_resnet at 32 px.*: (size mismatch|\d+ missing)") as info:
        fgav.load_model(copy)
    assert "\n" not in str(info.value) and len(str(info.value)) < 400
