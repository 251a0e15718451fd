"""The fgav-cam augmenters: maps in [0,1], S(x) - x within alpha, the label's role,
Grad-CAM by hand, the target left untouched, and FGSM wrapped directly and through the audit."""

from __future__ import annotations

from typing import Any

import foolbox as fb
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

import fgav
from fgav.core.errors import FgavError
from fgav_cam import CAMAugmenter

NAMES = ["gradcam", "gradcam++", "scorecam", "ablationcam", "eigencam", "layercam"]
CLASS_AWARE = [n for n in NAMES if n != "eigencam"]
SIZE = 32
ALPHA = 8 / 255


def _batch(n: int = 4, seed: int = 0) -> dict[str, Any]:
    g = torch.Generator().manual_seed(seed)
    return {"image": torch.rand(n, 3, SIZE, SIZE, generator=g), "spoof": torch.arange(n) % 2,
            "index": torch.arange(n)}


class TinyFAS(Dataset):
    """An in-memory data set of batch dicts with live/spoof labels."""

    provides = frozenset({"image", "spoof"})

    def __init__(self, n: int = 8) -> None:
        batch = _batch(n, seed=1)
        self.items = [{k: v[i] for k, v in batch.items()} for i in range(n)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return dict(self.items[i])

    def limit(self, n: int) -> TinyFAS:
        out = TinyFAS.__new__(TinyFAS)
        out.items = self.items[:n]
        return out


class StrideFour(fgav.Backbone):
    """Two strided convolutions: an 8x8 map at 32 px (timm's test_resnet gives 1x1 there,
    where every CAM is constant), and few channels, so that Score-CAM stays fast."""

    def __init__(self, **options: Any) -> None:
        super().__init__()
        self.out_channels = 16
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(3, 16, 3, stride=2, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(16, 16, 3, stride=2, padding=1), torch.nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def _frozen(model: fgav.MultiTaskModel) -> fgav.MultiTaskModel:
    for p in model.parameters():
        p.requires_grad_(False)  # as the audit leaves it
    return model.eval()


@pytest.fixture(scope="module")
def model() -> fgav.MultiTaskModel:
    torch.manual_seed(0)
    head = fgav.create_head("classification", in_channels=16)
    with torch.no_grad():
        head.fc.weight.mul_(20)  # logits far apart, as a trained target's: Score-CAM's weights differ by class
    return _frozen(fgav.MultiTaskModel(StrideFour(), {"classification": head}))


@pytest.fixture(scope="module")
def timm_model() -> fgav.MultiTaskModel:
    torch.manual_seed(0)
    return _frozen(fgav.build_model("timm:test_resnet", image_size=64))  # a 2x2 map at 64 px


def _bound(name: str, model: fgav.MultiTaskModel, **options: Any) -> CAMAugmenter:
    return fgav.get_augmenter(name).for_model(model, **options)


@pytest.mark.parametrize("name", NAMES)
def test_maps_in_unit_range_and_shift_within_alpha(name: str, model: fgav.MultiTaskModel) -> None:
    batch = _batch()
    x = batch["image"]
    augmenter = _bound(name, model)
    maps = augmenter.cams(x, batch["spoof"])
    assert maps.shape == (4, 1, SIZE, SIZE) and maps.min() >= 0 and maps.max() <= 1
    with torch.no_grad():  # the audit computes S(x) without gradients
        s = augmenter(x, batch)
    assert s.shape == x.shape and s.min() >= 0 and s.max() <= 1 and not s.requires_grad
    assert (s - x).abs().max() <= ALPHA + 1e-6
    assert (s - x).abs().max() > 0, "the map moves the image"


@pytest.mark.parametrize("name", CLASS_AWARE)
def test_swapping_the_labels_negates_the_map_term(name: str, model: fgav.MultiTaskModel) -> None:
    batch = _batch()
    augmenter = _bound(name, model)
    term = augmenter.map_term(batch["image"], batch)
    swapped = augmenter.map_term(batch["image"], {**batch, "spoof": 1 - batch["spoof"]})
    assert term.abs().max() > 0
    assert torch.allclose(swapped, -term, atol=1e-6)


def test_gradcam_by_hand(model: fgav.MultiTaskModel) -> None:
    # A linear head on average-pooled features: Grad-CAM's channel weights are W[c] / (h*w),
    # so its map is relu(W[c] . A), min-max normalized, then resized to the image.
    batch = _batch()
    x, classes = batch["image"], torch.tensor([0, 1, 1, 0])
    with torch.no_grad():
        features = model.backbone(x)
    weight = model.heads["classification"].fc.weight
    raw = torch.einsum("bk,bkhw->bhw", weight[classes], features).clamp(min=0).unsqueeze(1)
    resized = F.interpolate(raw, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    low = resized.amin(dim=(2, 3), keepdim=True)
    expected = (resized - low) / (resized.amax(dim=(2, 3), keepdim=True) - low)
    got = _bound("gradcam", model).cams(x, classes)
    assert expected.amax() > 0
    assert torch.allclose(got, expected, atol=1e-3)


def test_eigencam_is_class_agnostic_so_it_adds_its_one_map(model: fgav.MultiTaskModel) -> None:
    batch = _batch()
    x = batch["image"]
    default = _bound("eigencam", model)
    assert default.contrast is False
    assert torch.allclose(default.map_term(x, batch), ALPHA * default.cams(x, batch["spoof"]))
    contrasted = _bound("eigencam", model, contrast=True)
    assert torch.equal(contrasted.map_term(x, batch), torch.zeros_like(x[:, :1]))


def test_options_alpha_contrast_and_batch_size(model: fgav.MultiTaskModel) -> None:
    batch = _batch()
    x = batch["image"]
    small = _bound("gradcam", model, alpha=1 / 255).map_term(x, batch)
    large = _bound("gradcam", model, alpha=4 / 255).map_term(x, batch)
    assert torch.allclose(large, 4 * small, atol=1e-6)
    one_class = _bound("gradcam", model, contrast=False)
    assert torch.allclose(one_class.map_term(x, batch), ALPHA * one_class.cams(x, 1 - batch["spoof"]))
    for name in ("scorecam", "ablationcam"):  # batch_size is speed only
        a = _bound(name, model, batch_size=7).cams(x, batch["spoof"])
        b = _bound(name, model, batch_size=64).cams(x, batch["spoof"])
        assert torch.allclose(a, b, atol=1e-5), name


@pytest.mark.parametrize(("options", "match"), [
    ({"alpha": 0}, "alpha must be in"),
    ({"alpha": "big"}, "alpha must be a number"),
    ({"batch_size": 0}, "batch_size must be an integer"),
    ({"contrast": "maybe"}, "contrast must be true or false"),
    ({"mode": "pull"}, "mode must be one of"),
])
def test_bad_options_are_one_line_errors(options: dict[str, Any], match: str) -> None:
    with pytest.raises(FgavError, match=match):
        fgav.create_augmenter("scorecam", **options)


def test_needs_its_target_until_bound(model: fgav.MultiTaskModel) -> None:
    batch = _batch()
    augmenter = fgav.create_augmenter("gradcam")
    assert augmenter.needs_fit
    with pytest.raises(FgavError, match="needs its target model"):
        augmenter(batch["image"], batch)

    class Unread:
        def __iter__(self) -> Any:
            raise AssertionError("fit must not read the data")

    augmenter.fit(model, Unread())
    assert not augmenter.needs_fit
    assert not list(augmenter.parameters()), "the augmenter does not own the target's weights"
    with pytest.raises(FgavError, match="no 'spoof' key"):
        augmenter(batch["image"], {"image": batch["image"]})


@pytest.mark.parametrize("name", NAMES)
def test_the_target_is_left_as_it_was(name: str, model: fgav.MultiTaskModel) -> None:
    batch = _batch(2)
    backbone, head = model.backbone, model.heads["classification"]
    model.train()
    try:
        _bound(name, model)(batch["image"], batch)
        assert model.backbone is backbone and model.heads["classification"] is head
        assert not any(m._forward_hooks for m in model.modules()), "no hook left behind"
        assert all(m.training for m in model.modules()), "training flags restored"
    finally:
        model.eval()
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("name", NAMES)
def test_wrapped_fgsm_starts_from_the_augmented_image(name: str, model: fgav.MultiTaskModel) -> None:
    batch = _batch()
    x, labels = batch["image"], batch["spoof"]
    augmenter = _bound(name, model)
    fmodel = fgav.foolbox_model(model)
    _, clipped, success = augmenter.wrap(fb.attacks.FGSM(), batch=batch)(fmodel, x, labels, epsilons=ALPHA)
    with torch.no_grad():
        start = augmenter(x, batch)
    assert success.shape == (4,)
    assert (clipped - start).abs().max() <= ALPHA + 1e-6, "push: the budget is centred on S(x)"
    assert (clipped - x).abs().max() <= 2 * ALPHA + 1e-6


@pytest.mark.parametrize("name", NAMES)
def test_audit_runs_fgsm_with_each_cam(name: str, model: fgav.MultiTaskModel) -> None:
    result = fgav.audit(model, TinyFAS(), augmenters=[name], attacks=["fgsm"], eps=ALPHA, device="cpu",
                        batch_size=4, limit=8, augmenter_options={name: {"batch_size": 32}} if name in
                        ("scorecam", "ablationcam") else None)
    (row,) = result.results
    assert row["augmenter"] == name and row["n"] == 8 and 0.0 <= row["asr"] <= 1.0
    assert ALPHA / 10 < row["distortion"]["linf"] <= 2 * ALPHA + 1e-5


def test_a_timm_backbone_through_the_audit(timm_model: fgav.MultiTaskModel) -> None:
    data = TinyFAS.__new__(TinyFAS)
    images = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    data.items = [{"image": images[i], "spoof": torch.tensor(i % 2), "index": torch.tensor(i)} for i in range(4)]
    result = fgav.audit(timm_model, data, augmenters=["gradcam", "none"], attacks=["fgsm"], eps=ALPHA,
                        device="cpu", batch_size=4)
    rows = {r["augmenter"]: r for r in result.results}
    assert rows["gradcam"]["n"] == 4 and 0.0 <= rows["gradcam"]["asr"] <= 1.0
    assert rows["gradcam"]["distortion"]["linf"] > rows["none"]["distortion"]["linf"]


def test_a_layer_inside_the_backbone_gives_a_finer_map(timm_model: fgav.MultiTaskModel) -> None:
    batch = _batch(2)
    x = F.interpolate(batch["image"], size=64)
    names = [n for n, _ in timm_model.backbone.named_modules()]
    early = next(n for n in names if n.endswith("layer1"))  # stride 4: a 16x16 map at 64 px
    fine = _bound("gradcam", timm_model, layer=early).cams(x, batch["spoof"])
    coarse = _bound("gradcam", timm_model).cams(x, batch["spoof"])
    assert fine.shape == coarse.shape == (2, 1, 64, 64)

    def distinct(maps: torch.Tensor) -> int:  # a 2x2 map resized to 64x64 has few values
        return len(torch.unique(maps.round(decimals=4)))

    assert distinct(fine) > 2 * distinct(coarse) and not torch.allclose(fine, coarse)
    with pytest.raises(FgavError, match=f"no layer '{early}x'.*did you mean {early}"):
        _bound("gradcam", timm_model, layer=early + "x")
