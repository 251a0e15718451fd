"""Train a tiny model and SIGKILL this process at a chosen instant of a checkpoint save.

``python -m tests.train.kill_run OUT SAVE TARGET [--resume]``: on the ``SAVE``-th
checkpoint save (1-based), the process kills itself right after the rename that puts
``TARGET`` (``model.safetensors``, ``config.json``, ``metrics.jsonl``,
``train_state.pt``) in place, or before the state is staged (``TARGET`` = ``staging``).
Used by tests/train/test_checkpointing.py.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import torch

from fgav.train import checkpointing, train
from tests.train.tiny import ToyFAS

TINY = {"backbone": "timm:test_resnet", "image_size": 32, "batch_size": 8, "device": "cpu", "progress": False}


def arm(save: int, target: str) -> None:
    """Patch the save so that it SIGKILLs this process at the chosen instant."""
    seen = {"saves": 0}
    real_replace, real_save = Path.replace, torch.save

    def replace(self: Path, dest: str | os.PathLike[str]) -> Path:
        result = real_replace(self, dest)
        dest = Path(dest)
        if dest.parent.name != checkpointing.STAGING_DIR and dest.name == target and seen["saves"] == save:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    def staged(obj: object, f: object, *args: object, **kwargs: object) -> None:
        seen["saves"] += 1
        if target == "staging" and seen["saves"] == save:
            Path(str(f)).write_bytes(b"half a state")  # cut while the state is written
            os.kill(os.getpid(), signal.SIGKILL)
        real_save(obj, f, *args, **kwargs)

    Path.replace = replace  # type: ignore[method-assign]
    checkpointing.torch.save = staged  # type: ignore[attr-defined]


if __name__ == "__main__":
    torch.set_num_threads(1)
    out, save, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    arm(save, target)
    train(out=out, dataset=ToyFAS(16), epochs=2, resume="--resume" in sys.argv, **TINY)
