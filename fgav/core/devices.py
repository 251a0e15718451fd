"""The ``--device`` convention of every command: ``auto`` is cuda when available, else cpu."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from fgav.core.errors import FgavError


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


@contextlib.contextmanager
def full_precision() -> Iterator[None]:
    """Matrix products and convolutions in true fp32 inside the block (TF32 off), restored after.

    The audit runs in it: on Ampere and later GPUs PyTorch lets convolutions use TF32 by
    default, whose 10-bit mantissa can move a decision that sits near the boundary, so the
    decision an attack judged could differ from the one re-evaluated (``unstable``). On a
    CPU it changes nothing.
    """
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
