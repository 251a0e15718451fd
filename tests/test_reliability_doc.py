"""docs/reliability.md names the tests that prove each promise: every one it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_every_test_named_in_reliability_md_exists() -> None:
    text = (ROOT / "docs" / "reliability.md").read_text()
    named, current = [], None
    for file, test in re.findall(r"`((?:tests|plugins|examples)/[\w/]+\.py)?::(\w+)`", text):
        current = file or current
        named.append((current, test))
    assert len(named) > 30
    for file, test in named:
        assert file is not None and (ROOT / file).is_file(), f"{file} does not exist"
        assert re.search(rf"^def {re.escape(test)}\(", (ROOT / file).read_text(), re.M), f"{file}::{test} does not exist"
