"""``fgav.core.devices``: the --device convention and the audit's full precision."""

from __future__ import annotations

import pytest
import torch

from fgav.core.devices import full_precision, resolve_device
from fgav.core.errors import FgavError


def test_auto_and_cpu_resolve_and_nonsense_is_one_line() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(FgavError, match="unknown device 'gpu7'"):
        resolve_device("gpu7")


def test_full_precision_turns_tf32_off_and_restores_it_even_on_error() -> None:
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cudnn.allow_tf32 = True
    try:
        with pytest.raises(RuntimeError):
            with full_precision():
                assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
                raise RuntimeError("an attack failed")
        assert torch.backends.cudnn.allow_tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before
