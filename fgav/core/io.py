"""File helpers every layer uses: output paths checked early, atomic writes, safe names.

Every command checks each path it will write with :func:`check_writable` before it loads
a model or reads data, so a path that cannot be written is a one-line error, not a
traceback after the work. Every file fgav writes for the user (results, reports,
checkpoints, audit state) goes through :func:`write_atomically`: written beside its
destination under one temporary name scheme (``.fgav-*.tmp``) and renamed into place,
so a crash never leaves half a file. Where a write still fails at the end (a full disk,
a folder removed meanwhile) :func:`write_safely` puts the result in a fallback folder and
says where.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from fgav.core.errors import FgavError

Writer = Callable[[Path], None]


def temporary_path(path: str | Path) -> Path:
    """A new, short temporary file beside ``path`` (the destination's own name may be near the length limit)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=".fgav-", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def write_atomically(path: str | Path, data: str | bytes | Writer) -> Path:
    """Write a file so that a crash never leaves half of it; return its path.

    The data goes to a temporary file beside the destination, which is then renamed
    into place: a reader sees the old file or the new one, never half of one.

    Args:
        path: the destination; its folder is created where missing.
        data: text (UTF-8), bytes, or a function that writes the file at the path it
            is given (``lambda tmp: torch.save(state, tmp)``).

    Raises:
        OSError: the file or its folder cannot be written; no temporary file is left.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        elif isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            data(tmp)
        # mkstemp creates 0600: give the file the mode a plain open() would have.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def safe_name(name: str) -> str:
    """A name made safe for a file or folder name (``timm:test_resnet`` -> ``timm_test_resnet``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def json_ready(value: Any) -> Any:
    """A value JSON can hold without loss of meaning: NaN and infinities become null (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


# The longest file name most file systems take, where the system does not say.
_NAME_MAX = 255


def reason(exc: OSError) -> str:
    """An OSError's cause in a few words (``Read-only file system``), without the path."""
    return exc.strerror or type(exc).__name__


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return _NAME_MAX


def check_writable(path: str | Path, *, what: str, folder: bool = False) -> Path:
    """Refuse an output path that cannot be written, before any work starts.

    Nothing is left behind: the check creates and removes one probe file in the nearest
    folder that exists (where the output, or its missing parent folders, will be created).

    Args:
        path: the file (or, with ``folder``, the folder) a command will write.
        what: the output's name in the message, e.g. ``"--json"``.
        folder: the output is a folder (created where missing), not a file.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        FgavError: one line naming the path and what is wrong: a folder where a file is
            expected (or the reverse), a parent that is a file, a name too long, an
            existing file without write permission, or a place where no file can be
            created (permissions, a read-only file system).
    """
    path = Path(path)
    target = Path(os.path.abspath(path))
    # os.path's tests, not Path's: they answer False for a name too long instead of raising.
    if os.path.isdir(target) and not folder:
        raise FgavError(f"{what} {path} is a folder; give a file name")
    if os.path.exists(target) and not os.path.isdir(target) and folder:
        raise FgavError(f"{what} {path} is a file, not a folder")
    if not folder and os.path.isfile(target) and not os.access(target, os.W_OK):
        raise FgavError(f"{what} {path} exists and is not writable: it cannot be replaced")
    base = target if os.path.isdir(target) else next(p for p in target.parents if os.path.lexists(p))
    if not os.path.isdir(base):
        raise FgavError(f"{what} {path} cannot be created: {base} is a file, not a folder")
    limit = _name_max(base)
    for part in target.relative_to(base).parts:
        if len(os.fsencode(part)) > limit:
            raise FgavError(f"{what} {path} cannot be created: the name {part[:24]!r}... is longer than {limit} bytes")
    try:
        fd, probe = tempfile.mkstemp(prefix=".fgav-probe-", dir=base)
    except OSError as exc:
        raise FgavError(f"{what} {path} cannot be written: no file can be created in {base} ({reason(exc)})") from None
    os.close(fd)
    os.unlink(probe)
    return path


def check_outputs(paths: Mapping[str, str | Path | None]) -> None:
    """:func:`check_writable` for each output a command was given, and no file named twice.

    Args:
        paths: the option naming each output (``"--json"``) and its path, or ``None``.

    Raises:
        FgavError: an output that cannot be written, or two options naming one file.
    """
    seen: dict[str, str] = {}
    for what, path in paths.items():
        if path is None:
            continue
        check_writable(path, what=what)
        real = os.path.realpath(path)
        if real in seen:
            raise FgavError(f"{seen[real]} and {what} name the same file {path}: give each output its own")
        seen[real] = what


def _umask() -> int:
    """The process's umask (reading it means setting it: set it straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


class Saved(NamedTuple):
    """Where :func:`write_safely` put an output, and why not where asked (``None``: it did)."""

    path: Path
    problem: str | None = None

    def message(self, asked: Path) -> str:
        """One line for the user: the output was written where asked, or where instead."""
        if self.problem is None:
            return f"wrote {self.path}"
        return f"could not write {asked} ({self.problem}); wrote it to {self.path} instead"


def _unused(path: Path) -> Path:
    """``path``, or ``stem-2.suffix``, ``stem-3.suffix``... where that exists already."""
    candidate, number = path, 1
    while os.path.lexists(candidate):
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate


def write_safely(path: str | Path, write: Callable[[Path], object], *, fallbacks: Sequence[Path]) -> Saved:
    """Call ``write(path)``; where that fails, write into the first fallback folder that works.

    Args:
        path: where the output belongs.
        write: writes the output to the path it is given (atomically, ideally).
        fallbacks: folders to try, in order, when ``path`` cannot be written.

    Returns:
        Where the output went and, when not at ``path``, why.

    Raises:
        FgavError: neither ``path`` nor any fallback could be written.
    """
    path = Path(path)
    try:
        write(path)
        return Saved(path)
    except OSError as exc:
        problem = reason(exc)
    for folder in fallbacks:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            candidate = _unused(folder / path.name)
            write(candidate)
            return Saved(candidate, problem)
        except OSError:
            continue
    tried = ", ".join(str(f) for f in fallbacks) or "no other folder"
    raise FgavError(f"could not write {path} ({problem}), nor into {tried}")


__all__ = ["Saved", "check_outputs", "check_writable", "reason", "write_atomically", "write_safely"]
