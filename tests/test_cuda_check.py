"""benchmarks/cuda_check.sh: what a CPU can check of the CUDA proof (it runs where a GPU is lent)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "cuda_check.sh"


def test_the_script_is_valid_bash() -> None:
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True).returncode == 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA machine runs the whole check instead")
def test_without_cuda_it_says_so_in_one_line_and_runs_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON": sys.executable, "FGAV_CACHE": str(tmp_path / "cache")}
    done = subprocess.run(["bash", str(SCRIPT), str(tmp_path / "out")], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == "no CUDA device: this check needs one"
    assert not list((tmp_path / "out").iterdir()) and not (tmp_path / "cache").exists()
