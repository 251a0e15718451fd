"""Device-specific speed-ups: bf16 autocast on CUDA, channels_last (CPU, and CUDA with bf16), torch.compile.

Resolved by small functions so that the CUDA choices are unit-tested on a CPU.
``FGAV_PRECISION=fp32`` turns both off on CUDA (to measure what they buy, or to train
in full precision); the default, ``bf16``, keeps them on.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any, cast

import torch
from torch import Tensor, nn

from fgav.core.errors import FgavError
from fgav.core.types import Batch

PRECISIONS = ("bf16", "fp32")


def precision() -> str:
    """The precision asked for CUDA training (``FGAV_PRECISION``): ``bf16`` (default) or ``fp32``.

    Raises:
        FgavError: another value.
    """
    value = os.environ.get("FGAV_PRECISION", "bf16").strip().lower() or "bf16"
    if value not in PRECISIONS:
        raise FgavError(f"FGAV_PRECISION must be one of {', '.join(PRECISIONS)}, not {value!r}")
    return value


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The autocast dtype of a device: bf16 on CUDA (unless ``FGAV_PRECISION=fp32``), none on CPU."""
    return torch.bfloat16 if device.type == "cuda" and precision() == "bf16" else None


def uses_channels_last(device: torch.device) -> bool:
    """Whether to keep images and weights in channels_last memory: on a CPU, and on CUDA with bf16.

    On a CPU, oneDNN's convolutions run faster on channels_last (measured on the 2-core
    CPU, a training step at 64 px: ResNet-18 1.7x, VGG-13 1.3x, DenseNet-121 1.2x,
    Swin unchanged); on CUDA it pays with bf16's tensor cores.
    """
    return device.type == "cpu" or (device.type == "cuda" and precision() == "bf16")


@contextlib.contextmanager
def autocast(device: torch.device) -> Iterator[None]:
    """Autocast to the device's dtype (a no-op where it has none)."""
    dtype = autocast_dtype(device)
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield


def prepare_model(model: nn.Module, device: torch.device) -> nn.Module:
    """Move a model to its device, channels_last where that pays."""
    model = model.to(device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick its fastest kernels
    if uses_channels_last(device):
        model = model.to(memory_format=torch.channels_last)
    return model


def move_batch(batch: Mapping[str, Any], device: torch.device) -> Batch:
    """A batch dict with its tensors (and those of nested dicts, e.g. ``valid``) on ``device``."""
    out: dict[str, Any] = {}
    for key, value in batch.items():
        if isinstance(value, Tensor):
            value = value.to(device, non_blocking=True)
            if key == "image" and uses_channels_last(device):
                value = value.contiguous(memory_format=torch.channels_last)
        elif isinstance(value, Mapping):
            value = move_batch(value, device)
        out[key] = value
    return cast("Batch", out)


def maybe_compile(model: nn.Module, *, enabled: bool) -> nn.Module:
    """``torch.compile(model)`` when asked; the model itself otherwise."""
    # torch.compile's stubs return a plain callable; it returns the wrapped module.
    return cast(nn.Module, torch.compile(model)) if enabled else model
