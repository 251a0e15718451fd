"""The default recipe: the CUDA choices, the flips, the schedule."""

from __future__ import annotations

import pytest
import torch

from fgav.core.errors import FgavError
from fgav.train.accel import autocast_dtype, move_batch, uses_channels_last
from fgav.train.recipe import Recipe, augment, default_recipe, make_optimizer, make_scheduler


def test_cuda_gets_bf16_and_channels_last_cpu_channels_last_only() -> None:
    assert autocast_dtype(torch.device("cuda", 0)) is torch.bfloat16
    assert uses_channels_last(torch.device("cuda"))
    assert autocast_dtype(torch.device("cpu")) is None
    assert uses_channels_last(torch.device("cpu"))


def test_move_batch_moves_nested_tensors_and_keeps_the_rest() -> None:
    batch = {"image": torch.zeros(1, 3, 4, 4), "valid": {"depth": torch.ones(1)}, "path": ["a.png"]}
    moved = move_batch(batch, torch.device("cpu"))
    assert moved["path"] == ["a.png"] and torch.equal(moved["valid"]["depth"], torch.ones(1))


def test_flips_move_the_image_and_its_maps_together() -> None:
    image = torch.arange(16.0).view(1, 1, 4, 4).expand(64, 3, 4, 4).clone()
    batch = {"image": image, "depth": image[:, :1].clone(), "reflection": image[:, :1] * 2, "spoof": torch.zeros(64)}
    out = augment(batch, generator=torch.Generator().manual_seed(0), recipe=Recipe())
    flipped = (out["image"][:, 0, 0, 0] == 3).nonzero().flatten()
    assert 10 < len(flipped) < 54  # about half
    assert torch.equal(out["depth"], out["image"][:, :1])
    assert torch.equal(out["reflection"], out["image"][:, :1] * 2)
    assert out["spoof"] is batch["spoof"]
    assert augment(batch, generator=torch.Generator(), recipe=Recipe(flip=False)) is batch


def test_the_schedule_warms_up_then_decays() -> None:
    model = torch.nn.Linear(2, 2)
    recipe = Recipe(lr=1.0, warmup_fraction=0.1)
    optimizer = make_optimizer(model, recipe)
    assert [g["weight_decay"] for g in optimizer.param_groups] == [recipe.weight_decay, 0.0]
    scheduler = make_scheduler(optimizer, recipe, total_steps=100)
    lrs = []
    for _ in range(100):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[0] < lrs[5] < lrs[9] <= 1.0
    assert max(lrs) == lrs[10] and lrs[-1] < 0.05


def test_backbones_have_their_own_recipes() -> None:
    assert default_recipe("swin").lr < default_recipe("resnet18").lr
    assert default_recipe("timm:anything") == Recipe()


def test_fp32_precision_turns_the_cuda_speed_ups_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FGAV_PRECISION", "fp32")
    assert autocast_dtype(torch.device("cuda", 0)) is None and not uses_channels_last(torch.device("cuda"))
    monkeypatch.setenv("FGAV_PRECISION", "fp16")
    with pytest.raises(FgavError, match="FGAV_PRECISION must be one of bf16, fp32"):
        autocast_dtype(torch.device("cuda"))
