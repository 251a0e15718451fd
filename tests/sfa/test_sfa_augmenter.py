"""The SFA augmenter: S(x), options, save and load, and sfa_for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import fgav
from fgav.core.errors import FgavError
from fgav.sfa import SFA, sfa_for
from tests.sfa.conftest import batches, make_task


def test_registered_and_unfitted_by_default() -> None:
    sfa = fgav.create_augmenter("sfa", alpha=4 / 255)
    assert isinstance(sfa, SFA) and sfa.needs_fit and sfa.mode == "push"
    assert sfa.alpha == pytest.approx(4 / 255)
    assert fgav.create_augmenter("sfa", mode="guide").mode == "guide"
    with pytest.raises(FgavError, match="mode"):
        SFA(mode="pull")
    with pytest.raises(FgavError, match="alpha"):
        SFA(alpha=0)


def test_forward_adds_opposite_and_subtracts_same(fitted_sfa: SFA) -> None:
    x, spoof = make_task(6, seed=5)
    s = fitted_sfa(x, {"spoof": spoof})
    m_live, m_spoof = fitted_sfa.maps(x)
    live = spoof == 0
    assert torch.allclose(s[live], (x + m_spoof - m_live)[live].clamp(0, 1))
    assert torch.allclose(s[~live], (x + m_live - m_spoof)[~live].clamp(0, 1))
    assert s.min() >= 0 and s.max() <= 1
    assert (s - x).abs().max() <= 2 * fitted_sfa.alpha + 1e-6
    assert torch.equal(s, fitted_sfa(x, {"spoof": spoof})), "deterministic at attack time"
    with pytest.raises(FgavError, match="'spoof'"):
        fitted_sfa(x, {})
    with pytest.raises(FgavError, match="labels for"):
        fitted_sfa(x, {"spoof": spoof[:2]})


def test_save_and_load_round_trip(fitted_sfa: SFA, tmp_path: Path) -> None:
    fitted_sfa.save(tmp_path)
    record = json.loads((tmp_path / "sfa.json").read_text())
    assert record["alpha"] == pytest.approx(fitted_sfa.alpha) and record["texture"] is True
    assert record["latent_dim"] == 16 and record["training"]["steps"] == 12
    loaded = SFA.load(tmp_path, mode="guide")
    assert not loaded.needs_fit and loaded.mode == "guide" and loaded.latent_dim == 16
    x, spoof = make_task(4, seed=6)
    assert torch.equal(loaded(x, {"spoof": spoof}), fitted_sfa(x, {"spoof": spoof}))
    via_registry = fgav.create_augmenter("sfa", path=str(tmp_path))
    assert torch.equal(via_registry.maps(x)[0], fitted_sfa.maps(x)[0])
    with pytest.raises(FgavError, match="trained with texture=True"):
        SFA(path=tmp_path, texture=False)


def test_load_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(FgavError, match="holds no SFA"):
        SFA.load(tmp_path)
    (tmp_path / "sfa.json").write_text("{not json")
    (tmp_path / "sfa.safetensors").write_text("")
    with pytest.raises(FgavError, match="malformed"):
        SFA.load(tmp_path)


def test_sfa_for_loads_the_stored_one_or_trains(target: fgav.MultiTaskModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = fgav.load_model(target.save(tmp_path / "target"))
    x, spoof = make_task(8, seed=7)
    with pytest.raises(FgavError, match="give data"):
        sfa_for(model)
    trained = sfa_for(model, data=batches(x, spoof, 4), epochs=1)
    assert "Training SFA" in capsys.readouterr().err
    assert (tmp_path / "target" / "sfa" / "sfa.json").is_file()
    again = sfa_for(model, mode="guide")
    assert again.mode == "guide" and torch.equal(again.maps(x)[1], trained.maps(x)[1])
    assert "Training SFA" not in capsys.readouterr().err, "a stored SFA is loaded, not retrained"
    ablation = sfa_for(model, data=batches(x, spoof, 4), texture=False, epochs=1)
    assert not ablation.texture and (tmp_path / "target" / "sfa" / "sfa.json").is_file()
    assert list((tmp_path / "target").glob("sfa-*notexture")), "a variant is stored beside the default"
    assert not sfa_for(model, texture=False).needs_fit
    assert SFA.for_model(model, mode="guide").mode == "guide", "the audit's entry point loads the stored one"
    with pytest.raises(FgavError, match="unknown SFA option"):
        SFA.for_model(model, alhpa=0.1)


@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage", "other-size"])
def test_damaged_or_mismatched_sfa_weights_are_one_line_naming_the_file(fitted_sfa: SFA, tmp_path: Path, damage: str) -> None:
    fitted_sfa.save(tmp_path)
    weights = tmp_path / "sfa.safetensors"
    data = weights.read_bytes()
    if damage == "other-size":  # weights of another latent size under this config
        SFA(latent_dim=8).save(tmp_path / "other")
        weights.write_bytes((tmp_path / "other" / "sfa.safetensors").read_bytes())
        match = "sfa.safetensors: its tensors do not fit the model \\(an SFA module with .*latent_dim=16.*size mismatch"
    else:
        weights.write_bytes({"empty": b"", "truncated": data[: len(data) // 2], "garbage": b"garbage" * 50}[damage])
        match = "sfa.safetensors: not a readable safetensors file"
    with pytest.raises(FgavError, match=match) as info:
        SFA.load(tmp_path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ([1, 2], "not an object"),
        ({"alpha": "big"}, "'alpha' must be a number"),
        ({"latent_dim": 2.5}, "'latent_dim' must be an integer"),
        ({"work_size": -64}, "'work_size' must be an integer"),
        ({"texture": "yes"}, "'texture' must be true or false"),
    ],
)
def test_malformed_sfa_configs_are_one_line_for_load_and_sfa_for(
    fitted_sfa: SFA, target: fgav.MultiTaskModel, tmp_path: Path, config: object, match: str
) -> None:
    fitted_sfa.save(tmp_path / "sfa")
    (tmp_path / "sfa" / "sfa.json").write_text(json.dumps(config))
    with pytest.raises(FgavError, match=f"sfa.json: malformed SFA config \\({match}"):
        SFA.load(tmp_path / "sfa")
    model = fgav.load_model(target.save(tmp_path))  # the damaged module is stored with the target
    with pytest.raises(FgavError, match=f"sfa.json: malformed SFA config \\({match}"):
        sfa_for(model)
