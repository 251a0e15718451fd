"""The conformance suite: every registered component, third-party ones too, passes these checks.

Parametrized over the registry (timm's habit), so a newly installed plugin is tested
the same way as fgav's built-ins.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

import fgav
from fgav import registry
from fgav.core.model import CLASSIFICATION
from fgav.train import train
from tests.auditing.conftest import TensorFAS
from tests.conftest import make_batch

SIZE = 32
# Options that make a registered backbone buildable by name alone.
BACKBONE_NAMES = {"timm": "timm:test_resnet"}


@functools.lru_cache(maxsize=None)
def _backbone(name: str) -> fgav.Backbone:
    torch.manual_seed(0)
    return fgav.create_backbone(BACKBONE_NAMES.get(name, name), image_size=SIZE)


@pytest.mark.parametrize("name", fgav.list_backbones())
def test_backbone_contract(name: str) -> None:
    backbone = _backbone(name)
    assert isinstance(backbone, fgav.Backbone)
    assert type(backbone).__doc__ and type(backbone).__doc__.strip(), "the docstring's first line is the summary"
    assert isinstance(backbone.out_channels, int) and backbone.out_channels > 0
    x = torch.rand(2, 3, SIZE, SIZE, requires_grad=True)
    features = backbone.eval()(x)
    assert features.dim() == 4, "a backbone returns an NCHW feature map"
    assert features.shape[:2] == (2, backbone.out_channels)
    features.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0, "gradients must reach the input"


def _head_batch(head: fgav.AuxHead) -> dict[str, Any]:
    batch = make_batch(4, SIZE)
    if head.missing_keys(batch):
        pytest.skip(f"the conformance batch has no {head.missing_keys(batch)} for head {head.name!r}")
    return batch


class ImageMeanHead(fgav.AuxHead):
    """A head that computes its own ground truth (the image's mean): it sets no target_key."""

    name = "conformance-image-mean"
    loss_weight = 0.1

    def __init__(self, in_channels: int, **options: Any) -> None:
        super().__init__(in_channels, **options)
        self.fc = torch.nn.Linear(in_channels, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(features.mean(dim=(2, 3)))

    def target(self, batch: Any) -> torch.Tensor:
        return batch["image"].float().mean(dim=(1, 2, 3)).unsqueeze(1)

    def loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (pred - target).pow(2).squeeze(1)


@pytest.fixture
def self_target_head() -> Iterator[str]:
    """ImageMeanHead registered as an in-test plugin's head, removed afterwards."""
    heads = registry.components("head")
    heads[ImageMeanHead.name] = registry.ComponentInfo("head", ImageMeanHead.name, ImageMeanHead, "test", "0")
    yield ImageMeanHead.name
    del heads[ImageMeanHead.name]


@pytest.mark.parametrize("name", [*fgav.list_heads(), ImageMeanHead.name])
def test_head_contract(name: str, request: pytest.FixtureRequest) -> None:
    if name == ImageMeanHead.name:
        request.getfixturevalue("self_target_head")
    head = fgav.create_head(name, 16)
    assert isinstance(head, fgav.AuxHead)
    assert head.target_key or type(head).target is not fgav.AuxHead.target, "no target_key: target() computes it"
    batch = _head_batch(head)
    features = torch.randn(4, 16, 2, 2, requires_grad=True)
    pred = head(features)
    assert pred.shape[0] == 4, "head outputs are batch first"
    target = head.target(batch)
    loss = head.loss(pred, target)
    assert loss.shape == (4,), "losses are per sample: attacks and metrics need them"
    assert torch.isfinite(loss).all() and (loss >= 0).all()
    loss.sum().backward()
    assert features.grad is not None and features.grad.abs().sum() > 0
    correct = head.correct(pred.detach(), target)
    if correct is not None:
        assert correct.dtype == torch.bool and correct.shape[0] == 4


@pytest.mark.parametrize("backbone", fgav.list_backbones())
def test_every_backbone_with_every_head(backbone: str) -> None:
    """Each backbone builds into a MultiTaskModel with all registered heads and runs at 32 px."""
    heads = fgav.list_heads()
    model = fgav.build_model(BACKBONE_NAMES.get(backbone, backbone), heads, image_size=SIZE).eval()
    x = torch.rand(2, 3, SIZE, SIZE, requires_grad=True)
    outputs = model(x)
    assert set(outputs) == set(heads)
    batch = make_batch(2, SIZE)
    batch["image"] = x
    losses = model.losses(outputs, batch)
    for name, loss in losses.items():
        assert loss.shape == (2,), name
    assert outputs[CLASSIFICATION].shape == (2, 2)
    model.loss(outputs, batch).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("name", fgav.list_augmenters())
def test_augmenter_contract(name: str) -> None:
    cls = fgav.get_augmenter(name)
    assert issubclass(cls, fgav.Augmenter) and (cls.__doc__ or "").strip()
    augmenter = fgav.create_augmenter(name)
    if augmenter.needs_fit:
        pytest.skip(f"augmenter {name!r} needs fitting; its own tests cover it")
    batch = make_batch(4, SIZE)
    out = augmenter(batch["image"], batch)
    assert out.shape == batch["image"].shape
    assert out.min() >= 0 and out.max() <= 1, "an augmented input stays in [0,1]"


@pytest.mark.parametrize("name", fgav.list_attacks())
def test_attack_contract(name: str) -> None:
    from foolbox.attacks.base import Attack

    cls = fgav.get_attack(name)
    assert issubclass(cls, Attack), "attacks are Foolbox attacks"
    assert (cls.__doc__ or "").strip(), "the docstring's first line is the summary"
    assert isinstance(fgav.create_attack(name), Attack)


UNKNOWN = {"surely_not_an_option": 1}


@pytest.mark.parametrize("name", fgav.list_backbones())
def test_backbone_refuses_an_unknown_option(name: str) -> None:
    with pytest.raises(fgav.FgavError, match="surely_not_an_option"):
        fgav.create_backbone(BACKBONE_NAMES.get(name, name), image_size=SIZE, **UNKNOWN)


@pytest.mark.parametrize("name", fgav.list_heads())
def test_head_refuses_an_unknown_option(name: str) -> None:
    with pytest.raises(fgav.FgavError, match="surely_not_an_option"):
        fgav.create_head(name, 16, **UNKNOWN)


@pytest.mark.parametrize("name", fgav.list_augmenters())
def test_augmenter_refuses_an_unknown_option(name: str) -> None:
    with pytest.raises(fgav.FgavError, match="surely_not_an_option"):
        fgav.create_augmenter(name, **UNKNOWN)


def test_a_misspelled_head_option_is_not_the_default_head() -> None:
    with pytest.raises(fgav.FgavError, match="head 'depth' takes no option 'mapsize'"):
        fgav.create_head("depth", 512, mapsize=32)


def test_a_head_computing_its_own_target_trains_and_is_audited(self_target_head: str, tmp_path: Path) -> None:
    """The documented contract end to end: no target_key, target() from the image."""
    data = TensorFAS(16)
    assert self_target_head not in data.provides
    result = train(out=tmp_path / "run", dataset=data, backbone="timm:test_resnet", image_size=SIZE,
                   heads=[self_target_head], epochs=1, batch_size=8, device="cpu", progress=False)
    assert result.epochs == 1
    model = fgav.load_model(tmp_path / "run")
    assert model.head_names == [self_target_head, CLASSIFICATION], "the head is trained, not left out"
    audited = fgav.audit(model, data, heads=[self_target_head], attacks=["fgsm"], eps=[8 / 255], device="cpu")
    entry = audited.find(part=self_target_head)[0]
    assert entry["n"] == 16 and entry["change"][self_target_head] > 0, "the attack moved the aimed part"
