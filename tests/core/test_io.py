"""The file helpers: atomic writes of text, bytes and by writer function; safe names."""

from __future__ import annotations

from pathlib import Path

import pytest

from fgav.core.io import safe_name, write_atomically


def test_text_bytes_and_writer_functions_land_whole(tmp_path: Path) -> None:
    assert write_atomically(tmp_path / "a" / "t.txt", "héllo\n").read_text(encoding="utf-8") == "héllo\n"
    assert (tmp_path / "b.bin").exists() is False
    write_atomically(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    write_atomically(tmp_path / "c.txt", lambda tmp: tmp.write_text("by a writer"))
    assert (tmp_path / "c.txt").read_text() == "by a writer"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b.bin", "c.txt"], "no temporary file is left"


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = write_atomically(tmp_path / "state.json", "old")

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, broken)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"], "no temporary file left"


def test_safe_names_agree_everywhere() -> None:
    assert safe_name("timm:test_resnet") == "timm_test_resnet"
    assert safe_name("a/b c") == "a_b_c"
    assert safe_name("resnet18") == "resnet18"
