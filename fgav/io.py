"""File helpers every layer uses: atomic writes and file-safe names.

Every file fgav writes for the user (results, reports, checkpoints, audit state) goes
through :func:`write_atomically`: it is written beside its destination under one
temporary name scheme (``.<name>.<pid>.tmp``) and renamed into place, so a crash never
leaves half a file and a reader never sees one.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

Writer = Callable[[Path], None]


def temporary_path(path: str | Path) -> Path:
    """The temporary file beside ``path`` that :func:`write_atomically` renames into place."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_atomically(path: str | Path, data: str | bytes | Writer) -> Path:
    """Write a file so that a crash never leaves half of it; return its path.

    Args:
        path: the destination; its folder is created where missing.
        data: text (UTF-8), bytes, or a function that writes the file at the path it
            is given (``lambda tmp: torch.save(state, tmp)``).
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
        tmp.replace(path)
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
