"""The layers hold: import-linter's contract, no import cycle, and light imports where they matter."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
# The venv's own lint-imports, found beside the interpreter when the venv is not on PATH.
LINT_IMPORTS = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")


def _run(code: str) -> str:
    env = {**os.environ, "FGAV_PLUGINS": ""}  # the built-ins only: third-party plugins import what they like
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()


def test_no_import_cycle_counting_function_level_imports() -> None:
    graph = grimp.build_graph("fgav", exclude_type_checking_imports=True)
    cyclic = sorted(m for m in graph.modules
                    for i in graph.find_modules_directly_imported_by(m)
                    if graph.chain_exists(importer=i, imported=m))
    assert cyclic == [], f"modules in an import cycle: {cyclic}"


@pytest.mark.skipif(LINT_IMPORTS is None, reason="import-linter is not installed (pip install -e .[dev])")
def test_the_layer_contract_is_kept() -> None:
    result = subprocess.run([str(LINT_IMPORTS)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]


def test_wrapping_an_attack_with_the_identity_does_not_load_sfa() -> None:
    loaded = _run(
        "import sys, foolbox as fb\n"
        "from fgav.augmenters.none import NoAugmenter\n"
        "NoAugmenter().wrap(fb.attacks.FGSM())\n"
        "print(sorted(m for m in sys.modules if m.startswith('fgav.sfa')))"
    )
    assert loaded == "[]"


def test_building_a_model_loads_only_backbones_and_heads() -> None:
    loaded = _run(
        "import sys, fgav\n"
        "fgav.build_model('timm:test_resnet', ['depth'], image_size=32)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('fgav.sfa', 'fgav.cli', 'fgav.attacks.stadv',\n"
        "                                                     'fgav.attacks.sparse', 'fgav.attacks.foolbox_attacks'))))"
    )
    assert loaded == "[]"
