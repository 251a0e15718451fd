"""Throughput of fgav's data loading against reading the same PNGs with bare PIL.

Run by hand: ``.venv/bin/python benchmarks/data_loading.py [--n 1000] [--size 64]``.
Renders a SynthSpoof tree into a temporary folder, then times (a) a bare loop that
opens, decodes and converts each image to a float tensor, and (b) ``make_loader`` over
``open_dataset`` (crop from the box file, depth and reflection maps, labels, collate)
with 0 and 2 workers. The figures go into docs/data.md, with the machine's load.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from fgav.data import make_loader, open_dataset
from fgav.data.synth import generate


def bare_pil(root: Path, paths: list[str]) -> float:
    """Seconds to decode every image with PIL into a float tensor, nothing else."""
    start = time.perf_counter()
    for rel in paths:
        with Image.open(root / rel) as img:
            torch.from_numpy(np.array(img.convert("RGB"))).permute(2, 0, 1).float().div_(255)
    return time.perf_counter() - start


def fgav_loader(root: Path, size: int, workers: int) -> float:
    """Seconds for one pass of make_loader (batch 64) over the train split."""
    dataset = open_dataset(root, split="train", image_size=size)
    start = time.perf_counter()
    for _ in make_loader(dataset, batch_size=64, num_workers=workers):
        pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "synth"
        generate(root, n=args.n, size=args.size, seed=0)
        dataset = open_dataset(root, split="train", image_size=args.size)
        n = len(dataset)
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {n} train images at {args.size} px")
        t = bare_pil(root, dataset.paths)
        print(f"bare PIL decode:            {n / t:7.0f} images/s (image only)")
        for workers in (0, 2):
            t = fgav_loader(root, args.size, workers)
            print(f"make_loader, {workers} workers:    {n / t:7.0f} images/s (image, crop, 2 maps, labels)")


if __name__ == "__main__":
    main()
