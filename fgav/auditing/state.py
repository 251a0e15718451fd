"""The resumable state of an audit: what the finished batches accumulated, saved after each.

The state file is JSON, written atomically after every batch; it carries a fingerprint
of everything that changes the audit's numbers (the model's weights, the data's samples,
labels and files, each attack's and augmenter's settings and weights, the budgets...), so
a resume with anything else changed is refused instead of mixing two audits. Each batch
draws its random numbers from (seed, batch number), so a resumed audit ends with the same
numbers as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from fgav.core.distributed import DistContext
from fgav.core.errors import FgavError
from fgav.core.io import write_atomically
from fgav.data.dataset import FASDataset

_SIMPLE = (bool, int, float, str, type(None))


def tensor_digest(tensors: Iterable[tuple[str, Tensor]]) -> str:
    """A SHA-256 of named tensors: their names, dtypes, shapes and bytes."""
    digest = hashlib.sha256()
    for name, tensor in tensors:
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{flat.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def settings_of(component: Any) -> dict[str, Any]:
    """What makes an attack or augmenter behave as it does: its type, plain settings and weights.

    The plain settings are the public attributes holding numbers, strings or tuples of
    them (a brightness factor, PGD's steps); a module's weights enter as a digest (SFA's
    generators).
    """
    settings: dict[str, Any] = {"type": f"{type(component).__module__}.{type(component).__qualname__}"}
    for key, value in sorted(vars(component).items()):
        if key.startswith("_") or key == "training":  # a module's mode: a fresh fit and a loaded one differ
            continue
        if isinstance(value, _SIMPLE) or (isinstance(value, tuple) and all(isinstance(v, _SIMPLE) for v in value)):
            settings[key] = repr(value)
    if isinstance(component, torch.nn.Module):
        settings["weights"] = tensor_digest(component.state_dict().items())
    return settings


def data_fingerprint(data: Any) -> dict[str, Any]:
    """What identifies a data set's content, cheaply (no image is read).

    A :class:`FASDataset` (a path, SynthSpoof, CelebA-Spoof, a folder) gives its root,
    split, size, the digest of its sample list, of its labels and of each image file's
    size and modification time. Any other data set gives its type and length only.
    """
    if not isinstance(data, FASDataset):
        return {"type": f"{type(data).__module__}.{type(data).__qualname__}", "n": len(data)}
    digest = hashlib.sha256(json.dumps([str(data.root), data.split, data.image_size, data.paths]).encode())
    for rel in data.paths:
        try:
            stat = os.stat(data.root / rel)
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns};".encode())
        except OSError:
            digest.update(b"missing;")
    try:
        labels = data.labels()
    except NotImplementedError:
        labels = {}
    return {
        "files": digest.hexdigest(),
        "labels": tensor_digest(sorted({**labels, **data.map_validity()}.items())),
    }


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


def rank_state_path(path: Path | None, world: DistContext | None) -> Path | None:
    """This rank's state file: ``path`` itself in one process, ``path.rank-R-of-W`` under torchrun.

    Each rank saves the progress of its own shard, so that a resumed torchrun audit (the
    same number of ranks) continues every shard where it stopped.
    """
    if path is None or world is None or not world.distributed:
        return path
    return path.with_name(f"{path.name}.rank-{world.rank}-of-{world.world_size}")


def claim_state(path: Path | None, *, resume: bool, restart: bool) -> None:
    """Make sure an audit may write its state at ``path``: saved progress is never overwritten silently.

    With ``restart`` an existing state is removed; with ``resume`` it must exist and be
    well formed (whether it belongs to this audit is checked once the audit is built).

    Raises:
        FgavError: both ``resume`` and ``restart``; ``resume`` without a state, or with a
            malformed one; a state that exists while neither was given.
    """
    if resume and restart:
        raise FgavError("give one of --resume (continue the saved audit) or --restart (discard it), not both")
    if resume and (path is None or not path.exists()):
        raise FgavError(f"nothing to resume: no state file {path or '(give --json or --state)'}")
    if resume:
        _read(path)  # type: ignore[arg-type]  # a malformed state fails before any work, not after loading
    if path is not None and path.exists() and not resume:
        if not restart:
            raise FgavError(f"{path} holds the saved progress of an audit: pass --resume to continue it, "
                            "or --restart to discard it and start again")
        path.unlink()


def _malformed(path: Path, why: str) -> FgavError:
    return FgavError(f"{path} is not an audit state file ({why}); pass --restart to start the audit again")


def _read(path: Path) -> dict[str, Any]:
    """The payload of a state file whose shape is what :func:`save_state` writes."""
    try:
        payload = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _malformed(path, str(exc) or type(exc).__name__) from None
    _check_payload(path, payload)
    return payload


def _check_payload(path: Path, payload: Any) -> None:
    """Refuse a state whose shape is not what :func:`save_state` writes."""
    if not isinstance(payload, dict):
        raise _malformed(path, f"it holds a JSON {type(payload).__name__}, not an object")
    missing = [k for k in ("fingerprint", "batches_done", "accumulators", "skipped") if k not in payload]
    if missing:
        raise _malformed(path, f"no {', '.join(missing)}")
    done = payload["batches_done"]
    if not isinstance(payload["fingerprint"], dict):
        raise _malformed(path, "its fingerprint is not an object")
    if isinstance(done, bool) or not isinstance(done, int) or done < 0:
        raise _malformed(path, f"batches_done is {done!r}, not a count")
    if not isinstance(payload["skipped"], list) or not all(isinstance(s, str) for s in payload["skipped"]):
        raise _malformed(path, "skipped is not a list of paths")
    if not isinstance(payload["accumulators"], list):
        raise _malformed(path, "accumulators is not a list")
    for item in payload["accumulators"]:
        key = item.get("key") if isinstance(item, dict) else None
        if (not isinstance(key, list) or len(key) != 4 or not all(isinstance(k, str) for k in (key[0], key[1], key[3]))
                or not (key[2] is None or (isinstance(key[2], (int, float)) and math.isfinite(key[2])))
                or not isinstance(item.get("state"), dict)):
            raise _malformed(path, f"an accumulator entry is malformed: {json.dumps(item)[:60]}")


def load_state(path: Path, *, fingerprint: Mapping[str, Any]) -> dict[str, Any]:
    """Read a state file, refusing one written by an audit with other settings.

    Raises:
        FgavError: one line naming the file: it is unreadable, not a state file (a JSON
            list, missing keys, wrong types), or it belongs to another audit.
    """
    payload = _read(path)
    saved = payload["fingerprint"]
    expected = json.loads(json.dumps(dict(fingerprint)))  # the same normalization as on disk
    if saved != expected:
        differs = sorted(k for k in set(saved) | set(expected) if saved.get(k) != expected.get(k))
        raise FgavError(f"{path} belongs to an audit with other settings ({', '.join(differs)}); "
                        "pass --restart to discard it and start again")
    return payload


__all__ = ["claim_state", "data_fingerprint", "load_state", "rank_state_path", "save_state", "settings_of",
           "tensor_digest"]
