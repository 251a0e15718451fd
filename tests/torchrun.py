"""Run ``fgav`` under torchrun with two CPU processes, as a user would (shared by the torchrun tests)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def torchrun(*args: str, processes: int = 2, program: tuple[str, ...] = ("-m", "fgav")) -> subprocess.CompletedProcess[str]:
    """``torchrun --nproc_per_node=PROCESSES PROGRAM ARGS`` on a free port, one thread a process.

    ``program`` is ``-m fgav`` (the command line) or a script's path.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={processes}",
               f"--master_port={port}", *program, *args]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=Path(__file__).parents[1])


def fgav(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m fgav ARGS`` in one process, one thread (what a torchrun run is held against)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "fgav", *args], capture_output=True, text=True, timeout=600, env=env,
                          cwd=Path(__file__).parents[1])
