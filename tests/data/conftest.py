"""Fixtures of the data tests: tiny trees written under tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fgav.data.testing import write_tree


@pytest.fixture
def tree(tmp_path: Path) -> Callable[..., Path]:
    """``tree(samples, protocol=...)`` writes a CelebA-Spoof tree under tmp_path."""
    return lambda samples, **kw: write_tree(tmp_path / "celeba", samples, **kw)
