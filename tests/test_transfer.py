"""The transfer matrix (Tab. 7) on two tiny models."""

from __future__ import annotations

import json

import pytest
import torch

import fgav
from fgav.auditing.gradient import run_gradient_attack
from fgav.core.aiming import PartObjective
from fgav.core.errors import FgavError
from fgav.transfer import TransferEntry, TransferResult, transfer
from tests.auditing.conftest import train_tiny


@pytest.fixture(scope="module")
def pair(tiny_data, tiny_target):
    return {"a": tiny_target, "b": train_tiny(tiny_data, steps=40, seed=1)}


def test_matrix_cells_by_hand_and_zero_budget_is_clean_accuracy(pair, tiny_data, tmp_path) -> None:
    data = tiny_data.limit(24)
    result = transfer(pair, data, attack="fgsm", eps=[0.0, 8 / 255], augmenters=["none"], device="cpu")
    assert len(result.entries) == 8
    for name in pair:
        assert result.accuracy(name, name, "none", 0.0) == pytest.approx(result.clean_accuracy[name])
    batch = torch.utils.data.default_collate([data[i] for i in range(24)])
    objective = PartObjective.for_batch(pair["a"], "classification", batch)
    (adv,) = run_gradient_attack(fgav.create_attack("fgsm"), objective, batch["image"], [8 / 255], early_stop=False)
    with torch.no_grad():
        for target in ("a", "b"):
            expected = float((pair[target](adv)["classification"].argmax(1) == batch["spoof"]).float().mean())
            assert result.accuracy("a", target, "none", 8 / 255) == pytest.approx(expected)
    assert result.accuracy("a", "a", "none", 8 / 255) < result.clean_accuracy["a"], "white-box FGSM hurts its source"
    payload = json.loads(result.to_json(tmp_path / "t.json"))
    assert payload["kind"] == "transfer" and len(payload["results"]) == 8
    markdown = result.to_markdown()
    # One Markdown writer for every table: a backslash is escaped, so it renders as one.
    assert markdown.startswith("| Source \\\\ target |") and "Original accuracy" in markdown


def test_models_of_different_sizes_are_refused(pair, tiny_data) -> None:
    other = fgav.build_model("timm:test_resnet", image_size=48)
    with pytest.raises(FgavError, match="one image size"):
        transfer({"a": pair["a"], "big": other}, tiny_data, augmenters=["none"], device="cpu")


def test_budget_strings_and_repeats_are_counted_once(pair, tiny_data) -> None:
    data = tiny_data.limit(8)
    once = transfer(pair, data, attack="fgsm", eps="8/255", augmenters="none", device="cpu")
    twice = transfer(pair, data, attack="fgsm", eps="8/255,8/255", augmenters=["none", "none"], device="cpu")
    assert twice.entries == once.entries and len(once.entries) == 4 and {e["n"] for e in once.entries} == {8}
    assert twice.notes == ["augmenter 'none' given 2 times: attacked and counted once",
                           "epsilon 8/255 given 2 times: attacked and counted once"]
    with pytest.raises(FgavError, match="no epsilon given"):
        transfer(pair, data, eps="", augmenters="none", device="cpu")


def test_entries_are_typed_read_as_mappings_and_survive_json(pair, tiny_data, tmp_path) -> None:
    result = transfer(pair, tiny_data.limit(8), attack="fgsm", eps=[8 / 255], augmenters=["none"], device="cpu")
    entry = result.entries[0]
    assert isinstance(entry, TransferEntry) and entry["accuracy"] == entry.accuracy and entry.n == 8
    assert set(entry) == {"source", "target", "augmenter", "epsilon", "accuracy", "n", "flags"}
    payload = json.loads(result.to_json())
    again = TransferResult(payload["results"], payload["clean_accuracy"])
    assert all(isinstance(e, TransferEntry) for e in again.entries) and again.entries == result.entries
    assert again.entries[0] == payload["results"][0], "an entry equals its JSON form"
    with pytest.raises(FgavError, match="lacks its source or target"):
        TransferResult([{"target": "a", "accuracy": 0.5}], {})
    with pytest.raises(FgavError, match="lacks its source or target"):
        TransferResult(["not an entry"], {})  # type: ignore[list-item]
