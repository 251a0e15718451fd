"""The ``--device`` convention of every command: ``auto`` is cuda when available, else cpu."""

from __future__ import annotations

import torch

from fgav.errors import FgavError


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` into a torch device.

    Raises:
        FgavError: cuda was asked for where none is available, or the name is unknown.
    """
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise FgavError(f"unknown device {device!r}: use auto, cpu, cuda or cuda:N") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise FgavError(f"device {device!r} asked for, but no CUDA device is available here")
    return resolved
