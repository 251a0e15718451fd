"""Output files: every kind of unwritable path refused up front, atomic writes, fallbacks.

The tests run as root here, and root ignores permission bits, so the unwritable places
are ones that fail for root too: a path under a regular file, a folder where a file is
expected, a name too long, and /sys (read-only for everyone). The permission-bit cases
run where the tests do not run as root and are skipped where they do.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from fgav.core.errors import FgavError
from fgav.core.io import check_outputs, check_writable, write_atomically, write_safely

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*"))


def test_a_writable_path_passes_and_leaves_nothing_behind(tmp_path: Path) -> None:
    assert check_writable(tmp_path / "new" / "deeper" / "r.json", what="--json") == tmp_path / "new" / "deeper" / "r.json"
    check_writable(tmp_path / "run", what="--out", folder=True)
    (tmp_path / "old.json").write_text("{}")
    check_writable(tmp_path / "old.json", what="--json")  # an existing file is replaced
    assert _files(tmp_path) == ["old.json"], "no probe, no folder created by the check"


@pytest.mark.parametrize(("make", "folder", "message"), [
    (lambda t: (t / "file").write_text("x") and t / "file" / "sub" / "out.json", False, "file is a file, not a folder"),
    (lambda t: (t / "dir").mkdir() or t / "dir", False, "is a folder; give a file name"),
    (lambda t: (t / "file").write_text("x") and t / "file", True, "is a file, not a folder"),
    (lambda t: (t / "file").write_text("x") and t / "file" / "run", True, "file is a file, not a folder"),
    (lambda t: t / ("x" * 300 + ".json"), False, "is longer than"),
])
def test_unwritable_paths_are_one_line_errors(tmp_path: Path, make, folder: bool, message: str) -> None:
    path = make(tmp_path)
    with pytest.raises(FgavError, match=message) as caught:
        check_writable(path, what="--json", folder=folder)
    assert "\n" not in str(caught.value) and str(caught.value).startswith("--json ")


def test_a_read_only_place_is_refused_for_root_too() -> None:
    if os.access("/sys", os.W_OK) and not IS_ROOT:
        pytest.skip("/sys is writable here")
    try:  # the same probe the check makes: skip where this system lets us write there
        probe = Path("/sys/.fgav-test-probe")
        probe.write_text("")
        probe.unlink()
        pytest.skip("files can be created in /sys here")
    except OSError:
        pass
    with pytest.raises(FgavError, match="no file can be created in /sys"):
        check_writable("/sys/out.json", what="--json")


@pytest.mark.skipif(IS_ROOT, reason="root ignores permission bits")
def test_permission_bits_are_honoured(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    (tmp_path / "ro.json").write_text("{}")
    (tmp_path / "ro.json").chmod(0o444)
    try:
        with pytest.raises(FgavError, match="no file can be created"):
            check_writable(locked / "sub" / "r.json", what="--json")
        with pytest.raises(FgavError, match="not writable"):
            check_writable(tmp_path / "ro.json", what="--json")
    finally:
        locked.chmod(0o755)


def test_two_outputs_naming_one_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(FgavError, match="--json and --csv name the same file"):
        check_outputs({"--json": tmp_path / "r", "--csv": tmp_path / "." / "r", "--markdown": None})


def test_an_atomic_write_that_fails_leaves_no_temporary_file(tmp_path: Path) -> None:
    write_atomically(tmp_path / "a.txt", "one")
    write_atomically(tmp_path / "a.txt", b"two")
    assert (tmp_path / "a.txt").read_text() == "two"
    with pytest.raises(TypeError):
        write_atomically(tmp_path / "a.txt", object())  # type: ignore[arg-type]  # fails mid-write
    assert _files(tmp_path) == ["a.txt"] and (tmp_path / "a.txt").read_text() == "two"


def test_a_write_that_fails_at_the_end_goes_to_a_fallback_and_says_where(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    asked = tmp_path / "file" / "sub" / "r.json"  # unwritable for root too
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "r.json").write_text("an older result")
    saved = write_safely(asked, lambda p: write_atomically(p, "result"),
                         fallbacks=[tmp_path / "file" / "no", tmp_path / "keep"])
    assert saved.path == tmp_path / "keep" / "r-2.json", "the first fallback fails, the older file is kept"
    assert saved.path.read_text() == "result" and (tmp_path / "keep" / "r.json").read_text() == "an older result"
    assert saved.problem == os.strerror(errno.ENOTDIR)
    assert saved.message(asked) == f"could not write {asked} (Not a directory); wrote it to {saved.path} instead"
    with pytest.raises(FgavError, match="could not write .* nor into"):
        write_safely(asked, lambda p: write_atomically(p, "result"), fallbacks=[tmp_path / "file" / "no"])
