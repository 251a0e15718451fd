"""Measures SynthSpoof's generation speed: images written to disk per second.

Wall-clock throughput of `fgav.data.synth.generate` (rendering, PNG encoding, the
label files), plus the CPU seconds per image summed over the worker processes, which
says what the machine would do unloaded: cores / (CPU seconds per image). The load
average is printed too, because on a shared machine the wall figure depends on it.

    python benchmarks/synth_speed.py [--n 5000 --size 64 --workers 2 --dir /dev/shm]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

from fgav.data.synth import generate


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(*, n: int, size: int, workers: int | None, seed: int = 0, where: str | None = None) -> dict:
    """Generates `n` images into a temporary folder (under `where`) and returns the figures."""
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(dir=where) as tmp:
        cpu = _cpu_seconds()
        start = time.perf_counter()
        summary = generate(Path(tmp) / "synth", n=n, size=size, seed=seed, workers=workers)
        wall = time.perf_counter() - start
        cpu = _cpu_seconds() - cpu
    cores = workers or os.cpu_count() or 1
    return {
        "n": n, "size": size, "workers": cores, "seconds": round(wall, 2),
        "images_per_second": round(n / wall, 1), "cpu_ms_per_image": round(1000 * cpu / n, 2),
        "unloaded_images_per_second": round(cores * n / cpu, 1), "load_average_before": round(load, 2),
        "train": summary.train, "test": summary.test, "folder": where or tempfile.gettempdir(),
    }  # fmt: skip


def main() -> None:
    """Prints the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--dir", default=None, help="where to write (default: the temp folder)")
    args = parser.parse_args()
    print(json.dumps(measure(n=args.n, size=args.size, workers=args.workers, where=args.dir)))


if __name__ == "__main__":
    main()
