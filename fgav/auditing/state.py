"""The resumable state of an audit: what the finished batches accumulated, saved after each.

The state file is JSON, written atomically after every batch; it carries a fingerprint
of the audit's configuration, so a resume with other settings is refused instead of
mixing two audits. Each batch draws its random numbers from (seed, batch number), so a
resumed audit ends with the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fgav.errors import FgavError
from fgav.io import write_atomically

def save_state(
    path: Path,
    *,
    fingerprint: Mapping[str, Any],
    batches_done: int,
    accumulators: Mapping[tuple[str, str, float | None, str], Any],
    skipped: list[str],
) -> None:
    """Write the state after ``batches_done`` finished batches."""
    payload = {
        "fingerprint": dict(fingerprint),
        "batches_done": batches_done,
        "accumulators": [{"key": list(key), "state": acc.state()} for key, acc in accumulators.items()],
        "skipped": skipped,
    }
    write_atomically(path, json.dumps(payload))


def load_state(path: Path, *, fingerprint: Mapping[str, Any]) -> dict[str, Any]:
    """Read a state file, refusing one written by an audit with other settings.

    Raises:
        FgavError: the file is unreadable or belongs to another audit.
    """
    try:
        payload = json.loads(path.read_text())
        saved = payload["fingerprint"]
    except (OSError, json.JSONDecodeError, KeyError) as exc:
        raise FgavError(f"{path}: not a readable audit state ({exc})") from exc
    expected = json.loads(json.dumps(dict(fingerprint)))  # the same normalization as on disk
    if saved != expected:
        differs = sorted(k for k in set(saved) | set(expected) if saved.get(k) != expected.get(k))
        raise FgavError(f"{path} belongs to an audit with other settings ({', '.join(differs)}); "
                        "run without --resume to start again")
    return payload
