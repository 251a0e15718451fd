"""``fgav reproduce --quick`` at a test's tiny scale, as a script: one process, or each rank of torchrun.

Usage: ``launch_tiny.py PROFILE_JSON OUT DATA TABLE...`` (one thread, so runs compare exactly).
"""

from __future__ import annotations

import json
import sys

import torch

from fgav.reproduce import reproduce, study as runner

if __name__ == "__main__":
    torch.set_num_threads(1)
    profile, out, data, *only = sys.argv[1:]
    runner.QUICK = json.loads(profile)
    reproduce(out=out, backbones=["timm:test_resnet", "timm:test_efficientnet"], data=data, quick=True, only=only, device="cpu")
