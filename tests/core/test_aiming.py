"""The bridge to Foolbox: live/spoof logits in value, the aimed part's loss in gradient."""

from __future__ import annotations

import foolbox as fb
import pytest
import torch

import fgav
from fgav.core.aiming import AimedModule, PartObjective
from fgav.core.errors import FgavError
from tests.conftest import make_batch


@pytest.mark.parametrize("part", ["attribute", "spoof_type", "illumination", "depth", "reflection"])
def test_value_is_the_decision_and_gradient_is_the_parts_loss(part: str) -> None:
    torch.manual_seed(0)
    model = fgav.build_model("timm:test_resnet", image_size=32).eval()
    batch = make_batch(4, 32)
    objective = PartObjective.for_batch(model, part, batch)
    x = batch["image"].clone().requires_grad_(True)
    logits = AimedModule(objective)(x)
    torch.testing.assert_close(logits, model(batch["image"])["classification"])
    # d(z_other - z_true)/dx is the gradient of the part's per-sample loss, sample by sample.
    labels = batch["spoof"]
    margin = logits.gather(1, (1 - labels).view(-1, 1)) - logits.gather(1, labels.view(-1, 1))
    (grad,) = torch.autograd.grad(margin.sum(), x)
    y = batch["image"].clone().requires_grad_(True)
    head = model.heads[part]
    loss = head.loss(model(y)[part], head.target(batch))
    (expected,) = torch.autograd.grad(loss.sum(), y)
    torch.testing.assert_close(grad, expected, rtol=1e-4, atol=1e-7)


def test_classification_part_is_the_plain_logits() -> None:
    model = fgav.build_model("timm:test_resnet", image_size=32).eval()
    batch = make_batch(2, 32)
    objective = PartObjective.for_batch(model, "classification", batch)
    x = batch["image"].clone().requires_grad_(True)
    AimedModule(objective)(x)[:, 1].sum().backward()
    y = batch["image"].clone().requires_grad_(True)
    model(y)["classification"][:, 1].sum().backward()
    torch.testing.assert_close(x.grad, y.grad)


def test_objective_errors_are_one_line() -> None:
    model = fgav.build_model("timm:test_resnet", ["depth"], image_size=32)
    batch = make_batch(2, 32)
    with pytest.raises(FgavError, match="no part 'spoof_type'; its parts: depth, classification"):
        PartObjective.for_batch(model, "spoof_type", batch)
    del batch["depth"]
    with pytest.raises(FgavError, match="no ground truth 'depth' for the part 'depth'"):
        PartObjective.for_batch(model, "depth", batch)


def test_the_public_foolbox_model_aims_at_any_part(tiny_target, tiny_data) -> None:
    batch = make_batch(4, 32)
    plain = fgav.foolbox_model(tiny_target)
    assert torch.equal(plain(batch["image"]), tiny_target(batch["image"])["classification"])
    aimed = fgav.foolbox_model(tiny_target, "depth", batch=batch)
    assert torch.allclose(aimed(batch["image"]), plain(batch["image"])), "values are the live/spoof logits"
    x = batch["image"].clone().requires_grad_(True)
    aimed(x)[:, 1].sum().backward()
    reference = batch["image"].clone().requires_grad_(True)
    objective = PartObjective.for_batch(tiny_target, "depth", batch)
    AimedModule(objective)(reference)[:, 1].sum().backward()
    assert torch.equal(x.grad, reference.grad), "gradients are the aimed part's"
    _, _, success = fb.attacks.FGSM()(aimed, batch["image"], batch["spoof"], epsilons=8 / 255)
    assert success.shape == (4,)
    with pytest.raises(fgav.FgavError, match="needs the batch"):
        fgav.foolbox_model(tiny_target, "depth")
    with pytest.raises(fgav.FgavError, match="no part 'nose'"):
        fgav.foolbox_model(tiny_target, "nose")
