"""``fgav data synth | check | info`` through Click's test runner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import fgav.data.cache as cache
from fgav.cli import add_plugin_commands, cli
from fgav.data.testing import label, write_folder, write_tree


def run(*args: str) -> Any:
    add_plugin_commands()
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def celeba(tmp_path: Path) -> Path:
    samples = {
        "Data/train/1/live/a.png": {"label": label(spoof=0)},
        "Data/train/1/spoof/b.png": {"label": label(spoof=1, spoof_type=7, illumination=4, environment=2)},
        "Data/test/2/live/c.png": {"label": label(spoof=0)},
        "Data/test/2/spoof/d.png": {"label": label(spoof=1, spoof_type=1, illumination=1, environment=1)},
        "Data/test/2/spoof/e.png": {"label": label(spoof=1, spoof_type=1, illumination=2, environment=1), "bb": "0 0 99 99 1"},
    }
    return write_tree(tmp_path / "celeba", samples)


def test_info_json_counts(celeba: Path) -> None:
    result = run("data", "info", str(celeba), "--json")
    assert result.exit_code == 0, result.output
    splits = json.loads(result.output)["splits"]
    assert set(splits) == {"train", "test"}
    assert (splits["test"]["images"], splits["test"]["live"], splits["test"]["spoof"]) == (3, 1, 2)
    assert splits["test"]["spoof_type"]["Photo"] == 2 and splits["train"]["spoof_type"]["PC"] == 1
    assert splits["test"]["illumination"] == {"Normal": 1, "Strong": 1, "Back": 0, "Dark": 0}
    assert splits["train"]["environment"] == {"Indoor": 0, "Outdoor": 1}
    assert splits["test"]["depth_known"] == 2  # the spoofs' (zero); the live face's is unknown


def test_info_table(celeba: Path) -> None:
    result = run("data", "info", str(celeba), "--split", "test")
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "spoof type: Photo" in line)
    assert row.split()[-2] == "2"  # one split: no total column
    assert "illumination: Strong" in result.output and "environment: Outdoor" in result.output


def test_info_plain_folder(tmp_path: Path) -> None:
    result = run("data", "info", str(write_folder(tmp_path, {"live": 2, "spoof": 1})), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)["splits"]["all"]
    assert (summary["images"], summary["live"], summary["spoof"]) == (3, 2, 1) and "spoof_type" not in summary


def test_check_names_each_unreadable_file(celeba: Path) -> None:
    assert run("data", "check", str(celeba)).exit_code == 0
    (celeba / "Data/test/2/live/c.png").write_bytes(b"broken")
    (celeba / "Data/train/1/live/a.png").write_bytes(b"")
    (celeba / "Data/test/2/spoof/e_BB.txt").write_text("1 2")
    result = run("data", "check", str(celeba))
    assert result.exit_code == 1
    assert "cannot read Data/test/2/live/c.png" in result.output and "cannot read Data/train/1/live/a.png" in result.output
    assert "malformed bounding-box file Data/test/2/spoof/e_BB.txt" in result.output
    assert "3 of 5 images" in result.output
    assert run("data", "check", str(celeba), "--split", "train").output.count("cannot read") == 1


def test_bad_paths_are_one_line_errors(tmp_path: Path, celeba: Path) -> None:
    result = run("data", "info", str(tmp_path / "nowhere"))
    assert result.exit_code == 1 and result.output.startswith("Error: data path") and result.output.count("\n") == 1
    result = run("data", "info", str(celeba), "--protocol", "protocol1")
    assert result.exit_code == 1 and "metas/protocol1/test_label.json is missing" in result.output
    assert "Traceback" not in result.output


def test_synth_calls_the_renderer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[dict[str, Any]] = []

    def generate(out: Path, **options: Any) -> None:
        calls.append(options)
        Path(out).mkdir(parents=True)
        options["progress"](options["n"])

    monkeypatch.setattr("fgav.data.synth.generate", generate, raising=False)
    result = run("data", "synth", str(tmp_path / "out"), "--n", "12", "--size", "32", "--seed", "5", "--live-ratio", "0.25")
    assert result.exit_code == 0, result.output
    assert calls[0]["n"] == 12 and calls[0]["size"] == 32 and calls[0]["seed"] == 5 and calls[0]["live_ratio"] == 0.25
    assert "difficulty" not in calls[0]  # the renderer's default
    assert run("data", "synth", str(tmp_path / "out2"), "--difficulty", "0.9").exit_code == 0 and calls[1]["difficulty"] == 0.9


def test_synth_check_info_with_the_real_renderer(tmp_path: Path) -> None:
    out = str(tmp_path / "synth")
    result = run("data", "synth", out, "--n", "16", "--size", "16", "--seed", "1", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert "Wrote 16 SynthSpoof images" in result.output
    info = run("data", "info", out, "--json")
    splits = json.loads(info.output)["splits"]
    assert sum(s["images"] for s in splits.values()) == 16
    assert all(s["depth_known"] == s["reflection_known"] == s["images"] for s in splits.values())
    assert run("data", "check", out).exit_code == 0
    again = run("data", "synth", out, "--n", "16", "--size", "16")
    assert again.exit_code == 1 and "already holds a data set" in again.output and "Traceback" not in again.output
    assert run("data", "synth", out, "--n", "16", "--size", "8").exit_code == 2  # below the renderer's minimum


def test_info_synth_uses_the_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def fake(out: Path, **options: Any) -> None:
        write_tree(out, {"Data/test/1/live/a.png": {"label": label(spoof=0)}})
        (out / "synthspoof.json").write_text("{}")

    monkeypatch.setenv("FGAV_CACHE", str(tmp_path))
    monkeypatch.setattr(cache, "_generate", fake)
    monkeypatch.setattr(cache, "default_difficulty", lambda: 0.5)
    result = run("data", "info", "synth", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output[result.output.index("{") :])["splits"]["test"]["images"] == 1


def test_check_reports_an_empty_split_and_checks_the_others(celeba: Path) -> None:
    import numpy as np
    from PIL import Image

    (celeba / "metas/intra_test/train_label.json").write_text("{}")  # an evaluation-only download
    result = run("data", "check", str(celeba))
    assert result.exit_code == 0, result.output
    assert "note: train split not checked: label file metas/intra_test/train_label.json lists no images" in result.output
    assert "all 3 images readable (test (3))" in result.output
    (celeba / "Data/test/2/live/c.png").write_bytes(b"not a png")  # the test split is still read
    Image.fromarray(np.full((8, 8), 7_000_000, dtype=np.int32)).save(celeba / "Data/test/2/spoof/d.png.tif")
    (celeba / "Data/test/2/spoof/d.png").unlink()
    (celeba / "Data/test/2/spoof/d.png.tif").rename(celeba / "Data/test/2/spoof/d.png")  # an int32 TIFF named .png
    result = run("data", "check", str(celeba))
    assert result.exit_code == 1
    assert "cannot read Data/test/2/live/c.png" in result.output
    assert "cannot read Data/test/2/spoof/d.png: a 32-bit integer image" in result.output
    assert "2 of 3 images have unreadable or malformed files (test (3))" in result.output
    result = run("data", "info", str(celeba), "--json")
    assert result.exit_code == 0 and "note: train split left out" in result.output


def test_check_names_a_split_that_cannot_be_opened_and_reads_the_others(celeba: Path) -> None:
    (celeba / "metas/intra_test/train_label.json").write_text("[1, 2]")
    result = run("data", "check", str(celeba))
    assert result.exit_code == 1
    assert "train split not checked: label file metas/intra_test/train_label.json must be a dict" in result.output
    assert "0 of 3 images have unreadable or malformed files (test (3)); 1 split could not be opened" in result.output
    (celeba / "metas/intra_test/test_label.json").write_text("{}")
    result = run("data", "check", str(celeba))
    assert result.exit_code == 1 and "Traceback" not in result.output and "lists no images" in result.output
