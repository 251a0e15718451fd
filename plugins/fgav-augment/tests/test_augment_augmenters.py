"""The fgav-augment augmenters: what each does, the ensemble's per-index combination,
guide mode refused where it means nothing, and FGSM wrapped directly and through the audit."""

from __future__ import annotations

from typing import Any

import foolbox as fb
import pytest
import torch
from torch.utils.data import Dataset

import fgav
from fgav.core.errors import FgavError
from fgav_augment import transforms as T

NAMES = ["vflip", "hflip", "rotate30", "brightness", "hue", "ensemble"]
GEOMETRIC = ["vflip", "hflip", "rotate30", "ensemble"]
SIZE = 32


def _batch(n: int = 6, seed: int = 0) -> dict[str, Any]:
    g = torch.Generator().manual_seed(seed)
    return {"image": torch.rand(n, 3, SIZE, SIZE, generator=g), "spoof": torch.arange(n) % 2,
            "index": torch.arange(n)}


class TinyFAS(Dataset):
    """An in-memory data set of batch dicts: spoof images carry a fine checkerboard."""

    provides = frozenset({"image", "spoof"})

    def __init__(self, n: int = 12) -> None:
        batch = _batch(n, seed=1)
        checker = ((torch.arange(SIZE).view(-1, 1) + torch.arange(SIZE)) % 2).float()
        spoof = batch["spoof"].view(-1, 1, 1, 1).float()
        batch["image"] = (0.2 + 0.6 * batch["image"] + 0.15 * spoof * (checker - 0.5)).clamp(0, 1)
        self.items = [{k: v[i] for k, v in batch.items()} for i in range(n)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return dict(self.items[i])

    def limit(self, n: int) -> TinyFAS:
        out = TinyFAS.__new__(TinyFAS)
        out.items = self.items[:n]
        return out


@pytest.fixture(scope="module")
def model() -> fgav.MultiTaskModel:
    torch.manual_seed(0)
    return fgav.build_model("timm:test_resnet", image_size=SIZE).eval()


@pytest.mark.parametrize("name", NAMES)
def test_output_is_an_image_batch_in_range(name: str) -> None:
    batch = _batch()
    out = fgav.create_augmenter(name)(batch["image"], batch)
    assert out.shape == batch["image"].shape and out.min() >= 0 and out.max() <= 1
    assert not torch.allclose(out, batch["image"]), "each augmenter changes the image"


def test_each_augmenter_does_what_its_name_says() -> None:
    batch = _batch()
    x = batch["image"]
    assert torch.equal(fgav.create_augmenter("vflip")(x, batch), x.flip(-2))
    assert torch.equal(fgav.create_augmenter("hflip")(x, batch), x.flip(-1))
    assert torch.equal(fgav.create_augmenter("rotate30")(x, batch), T.rotate(x, 30))
    assert torch.equal(fgav.create_augmenter("brightness")(x, batch), (x * 1.2).clamp(0, 1))
    assert torch.equal(fgav.create_augmenter("brightness", factor=0.5)(x, batch), x * 0.5)
    assert torch.equal(fgav.create_augmenter("hue", shift=0.3)(x, batch), T.hue(x, 0.3))


def _combination(k: int, x: torch.Tensor) -> torch.Tensor:
    flipped = x.flip(-2).flip(-1)
    if k == 0:
        return T.brightness(flipped, 1.2)
    if k == 1:
        return T.hue(T.rotate(flipped, 30), 0.1)
    return T.hue(T.brightness(T.rotate(flipped, 30), 1.2), 0.1)


def test_ensemble_gives_each_sample_the_combination_of_its_index_mod_3() -> None:
    batch = _batch(6)
    batch["index"] = torch.tensor([7, 3, 11, 5, 0, 4])  # combinations b a c c a b
    x = batch["image"]
    out = fgav.create_augmenter("ensemble")(x, batch)
    for i, index in enumerate(batch["index"].tolist()):
        assert torch.allclose(out[i], _combination(index % 3, x[i : i + 1])[0], atol=1e-6), i
    no_index = {"image": x, "spoof": batch["spoof"]}
    by_position = fgav.create_augmenter("ensemble")(x, no_index)
    for i in range(6):
        assert torch.allclose(by_position[i], _combination(i % 3, x[i : i + 1])[0], atol=1e-6), i
    only_b = fgav.create_augmenter("ensemble", combination="b")(x, batch)
    assert torch.allclose(only_b, _combination(1, x), atol=1e-6)


def test_ensemble_is_differentiable() -> None:
    x = (_batch()["image"] * 0.8).requires_grad_(True)
    fgav.create_augmenter("ensemble")(x, {"index": torch.arange(6)}).sum().backward()
    assert x.grad is not None and (x.grad.abs().flatten(1).sum(1) > 0).all()


@pytest.mark.parametrize("name", GEOMETRIC)
def test_geometric_augmenters_refuse_guide_mode(name: str) -> None:
    with pytest.raises(FgavError, match="guide mode") as info:
        fgav.create_augmenter(name, mode="guide")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["brightness", "hue"])
def test_photometric_augmenters_take_guide_mode(name: str) -> None:
    assert fgav.create_augmenter(name, mode="guide").mode == "guide"


@pytest.mark.parametrize(("name", "options", "match"), [
    ("brightness", {"factor": 0}, "factor must be > 0"),
    ("hue", {"shift": float("nan")}, "shift must be finite"),
    ("ensemble", {"combination": "d"}, "combination must be one of"),
    ("vflip", {"alpha": 1}, "unexpected keyword"),
])
def test_bad_options_are_one_line_errors(name: str, options: dict[str, Any], match: str) -> None:
    with pytest.raises(FgavError, match=match):
        fgav.create_augmenter(name, **options)


@pytest.mark.parametrize("name", NAMES)
def test_wrapped_fgsm_starts_from_the_augmented_image(name: str, model: fgav.MultiTaskModel) -> None:
    batch = _batch(4)
    x, labels = batch["image"], batch["spoof"]
    augmenter = fgav.create_augmenter(name)
    fmodel = fgav.foolbox_model(model)
    eps = 8 / 255
    _, clipped, success = augmenter.wrap(fb.attacks.FGSM(), batch=batch)(fmodel, x, labels, epsilons=eps)
    start = augmenter(x, batch)
    assert clipped.shape == x.shape and success.shape == (4,)
    assert (clipped - start).abs().max() <= eps + 1e-6, "push: the budget is centred on S(x)"
    assert (clipped - start).abs().max() > eps / 2, "FGSM moved the augmented image"


@pytest.mark.parametrize("name", NAMES)
def test_audit_runs_fgsm_with_each_augmenter(name: str, model: fgav.MultiTaskModel) -> None:
    result = fgav.audit(model, TinyFAS(), augmenters=[name, "none"], attacks=["fgsm"], eps=8 / 255,
                        device="cpu", batch_size=6, limit=12)
    rows = {r["augmenter"]: r for r in result.results}
    assert set(rows) == {name, "none"}
    for row in rows.values():
        assert row["n"] == 12 and 0.0 <= row["asr"] <= 1.0
    assert rows["none"]["distortion"]["linf"] <= 8 / 255 + 1e-5
    # Push mode reports the real distortion from x: the transform's change plus FGSM's.
    assert rows[name]["distortion"]["linf"] > 8 / 255
