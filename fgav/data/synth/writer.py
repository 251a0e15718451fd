"""Writes a SynthSpoof data set in CelebA-Spoof's on-disk layout, in parallel.

```
OUT/Data/{train,test}/<subject>/{live,spoof}/<id>.png     the image
                                            <id>_BB.txt     x y w h score (224 frame)
                                            <id>_depth.png  8-bit face depth
                                            <id>_reflection.png  8-bit glare layer
OUT/metas/intra_test/{train,test}_label.json   "Data/...png": [44 ints]
OUT/synthspoof.json                            parameters and counts
```

Every image's generator is seeded from (seed, image index) and every subject's from
(seed, subject index), so the files are byte-identical whatever the number of workers.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import struct
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fgav.core.errors import FgavError
from fgav.core.io import check_writable, reason
from fgav.data.labels import ENVIRONMENT_INDEX, ILLUMINATION_INDEX, SPOOF_TYPE_INDEX
from fgav.data.synth.identity import Subject, sample_subject
from fgav.data.synth.sample import DEFAULT_DIFFICULTY, render_sample

BB_FRAME = 224  # CelebA-Spoof's boxes are given in a 224 x 224 frame
BB_SCORE = 0.99
FORMAT_VERSION = 1


@dataclass(frozen=True)
class SynthSummary:
    """What `generate` wrote: where, how many of each kind, and how long it took."""

    path: Path
    n: int
    train: int
    test: int
    live: int
    spoof: int
    subjects: int
    seconds: float

    @property
    def images_per_second(self) -> float:
        """The generation throughput."""
        return self.n / self.seconds if self.seconds > 0 else float("inf")


@dataclass(frozen=True)
class _Job:
    """One image to render: its index, subject, split and spoof type (0 live)."""

    index: int
    subject: int
    split: str
    spoof_type: int

    @property
    def relpath(self) -> str:
        kind = "spoof" if self.spoof_type else "live"
        return f"Data/{self.split}/{self.subject + 1:06d}/{kind}/{self.index + 1:06d}.png"


def _plan(n: int, seed: int, live_ratio: float, test_fraction: float, per_subject: int) -> list[_Job]:
    """Assigns every image its subject, split and spoof type, from the seed alone."""
    rng = np.random.default_rng([seed, 2])
    subjects = -(-n // per_subject)
    n_test = int(round(subjects * test_fraction))
    if subjects > 1:  # both splits non-empty when asked for
        n_test = min(max(n_test, 1 if test_fraction > 0 else 0), subjects - (1 if test_fraction < 1 else 0))
    test = set(rng.permutation(subjects)[:n_test].tolist())
    n_live = int(round(n * live_ratio))
    live = np.zeros(n, dtype=bool)
    live[rng.permutation(n)[:n_live]] = True
    # Spoof types in equal shares, shuffled over the spoof images.
    types = iter((rng.permutation(n - n_live) % 10 + 1).tolist())
    jobs = []
    for i in range(n):
        s = i // per_subject
        jobs.append(_Job(i, s, "test" if s in test else "train", 0 if live[i] else next(types)))
    return jobs


def _subject(seed: int, index: int, cache: dict[int, Subject]) -> Subject:
    """The subject of index `index`, drawn from (seed, index) and kept for its images."""
    if index not in cache:
        cache.clear()  # jobs come in subject order: one subject alive at a time is enough
        cache[index] = sample_subject(np.random.default_rng([seed, 1, index]))
    return cache[index]


def _png(array: np.ndarray) -> bytes:
    """Encodes an 8-bit grayscale (H, W) or RGB (H, W, 3) image as PNG bytes.

    A direct zlib stream (no row filters, level 1): a third of Pillow's time at 64 px,
    and the bytes depend on nothing but the pixels and zlib.
    """
    h, w = array.shape[:2]
    color = 2 if array.ndim == 3 else 0
    raw = np.zeros((h, array[0].size + 1), dtype=np.uint8)  # a 0 (no filter) before each row
    raw[:, 1:] = array.reshape(h, -1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw.tobytes(), 1))
            + chunk(b"IEND", b""))  # fmt: skip


def _write(path: str, data: bytes) -> None:
    # Four small files an image: the bare system calls, without io's buffering layers.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _render_chunk(args: tuple[Path, Sequence[_Job], int, int, float]) -> list[tuple[int, str, list[int]]]:
    """Renders and writes a run of images; returns (index, relative path, label) of each."""
    out, jobs, seed, size, difficulty = args
    cache: dict[int, Subject] = {}
    done = []
    for job in jobs:
        sample = render_sample(
            np.random.default_rng([seed, 0, job.index]), size=size, spoof_type=job.spoof_type,
            subject=_subject(seed, job.subject, cache), difficulty=difficulty,
        )  # fmt: skip
        stem = os.path.join(out, job.relpath[:-4])
        x, y, w, h = (round(v * BB_FRAME / size) for v in sample.bbox)
        _write(stem + ".png", _png(sample.image))
        _write(stem + "_BB.txt", f"{x} {y} {w} {h} {BB_SCORE}\n".encode())
        _write(stem + "_depth.png", _png((sample.depth * 255 + 0.5).astype(np.uint8)))
        _write(stem + "_reflection.png", _png((sample.reflection * 255 + 0.5).astype(np.uint8)))
        done.append((job.index, job.relpath, sample.label))
    return done


def _chunks(jobs: list[_Job], size: int) -> Iterator[list[_Job]]:
    for start in range(0, len(jobs), size):
        yield jobs[start : start + size]


def generate(
    out: Path | str,
    *,
    n: int,
    size: int = 64,
    seed: int = 0,
    live_ratio: float = 0.5,
    test_fraction: float = 0.2,
    images_per_subject: int = 8,
    difficulty: float = DEFAULT_DIFFICULTY,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    overwrite: bool = False,
) -> SynthSummary:
    """Renders `n` SynthSpoof images into `out`, in CelebA-Spoof's layout.

    Args:
        out: the data set's root folder (created).
        n: the number of images.
        size: their side in pixels.
        seed: the seed; the same seed gives byte-identical files.
        live_ratio: the share of live images.
        test_fraction: the share of subjects (not images) in the test split.
        images_per_subject: images per person (pose, expression and medium vary).
        difficulty: the spoof cues' strength against nuisances, in [0, 1].
        workers: processes; `os.cpu_count()` when None, in-process when 1.
        progress: called with the number of images just finished, as they finish.
        overwrite: replace an earlier SynthSpoof tree in `out` instead of refusing.

    Raises:
        ValueError: a parameter out of range.
        FileExistsError: `out` already holds a data set and `overwrite` is off.
        FgavError: `out` cannot be written (checked first), or a write failed meanwhile.
    """
    if n < 1 or size < 16 or images_per_subject < 1:
        raise ValueError(f"need n >= 1, size >= 16, images_per_subject >= 1 (got {n}, {size}, {images_per_subject})")
    for name, value in (("live_ratio", live_ratio), ("test_fraction", test_fraction), ("difficulty", difficulty)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} is in [0, 1], not {value}")
    out = Path(out)
    check_writable(out, what="the SynthSpoof folder", folder=True)
    if (out / "Data").exists() or (out / "metas").exists():
        if not overwrite or not (out / "synthspoof.json").exists():
            raise FileExistsError(f"{out} already holds a data set; pick an empty folder"
                                  + (" or pass overwrite" if (out / "synthspoof.json").exists() else ""))
        shutil.rmtree(out / "Data", ignore_errors=True)
        shutil.rmtree(out / "metas", ignore_errors=True)
    try:  # a full disk or a read-only file system: one line, whichever process hit it
        return _render_all(out, n=n, size=size, seed=seed, live_ratio=live_ratio, test_fraction=test_fraction,
                           images_per_subject=images_per_subject, difficulty=difficulty, workers=workers,
                           progress=progress)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise FgavError(f"cannot write SynthSpoof into {out}: {reason(exc)}{where}") from None


def _render_all(
    out: Path, *, n: int, size: int, seed: int, live_ratio: float, test_fraction: float, images_per_subject: int,
    difficulty: float, workers: int | None, progress: Callable[[int], None] | None,
) -> SynthSummary:
    """Renders every image (in worker processes where ``workers`` > 1), then the label files."""
    start = time.perf_counter()
    jobs = _plan(n, seed, live_ratio, test_fraction, images_per_subject)
    workers = max(1, min(workers or os.cpu_count() or 1, -(-n // 16)))
    chunk = max(8, min(128, n // (workers * 8) or 1))
    for folder in sorted({os.path.dirname(j.relpath) for j in jobs}):  # once, not per image
        (out / folder).mkdir(parents=True, exist_ok=True)
    tasks = [(out, c, seed, size, difficulty) for c in _chunks(jobs, chunk)]
    labels: dict[int, tuple[str, list[int]]] = {}

    def collect(done: list[tuple[int, str, list[int]]]) -> None:
        labels.update({i: (p, lab) for i, p, lab in done})
        if progress is not None:
            progress(len(done))

    if workers == 1:
        for task in tasks:
            collect(_render_chunk(task))
    else:
        methods = multiprocessing.get_all_start_methods()
        # fork: workers inherit the imported modules instead of re-importing torch.
        ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
        with ctx.Pool(workers) as pool:
            for done in pool.imap_unordered(_render_chunk, tasks):
                collect(done)
    summary = _write_metas(out, jobs, labels, dict(
        n=n, size=size, seed=seed, live_ratio=live_ratio, test_fraction=test_fraction,
        images_per_subject=images_per_subject, difficulty=difficulty,
    ))  # fmt: skip
    return SynthSummary(path=out, seconds=time.perf_counter() - start, **summary)


def _write_metas(out: Path, jobs: list[_Job], labels: dict[int, tuple[str, list[int]]], params: dict) -> dict:
    """Writes the label JSONs and synthspoof.json; returns the counts for the summary."""
    metas = out / "metas" / "intra_test"
    metas.mkdir(parents=True, exist_ok=True)
    counts: dict[str, dict[str, int]] = {}
    for split in ("train", "test"):
        split_jobs = [j for j in jobs if j.split == split]
        table = {labels[j.index][0]: labels[j.index][1] for j in split_jobs}
        (metas / f"{split}_label.json").write_text(json.dumps(table) + "\n")
        counts[split] = {
            "images": len(split_jobs),
            "live": sum(1 for j in split_jobs if not j.spoof_type),
            "spoof": sum(1 for j in split_jobs if j.spoof_type),
            "subjects": len({j.subject for j in split_jobs}),
        }
    by: dict[str, dict[int, int]] = {name: {} for name in ("spoof_type", "illumination", "environment")}
    for _, label in labels.values():
        for name, idx in (("spoof_type", SPOOF_TYPE_INDEX), ("illumination", ILLUMINATION_INDEX),
                          ("environment", ENVIRONMENT_INDEX)):  # fmt: skip
            by[name][label[idx]] = by[name].get(label[idx], 0) + 1
    meta = {
        "format": "SynthSpoof", "version": FORMAT_VERSION, "layout": "CelebA-Spoof",
        "protocol": "intra_test", "parameters": params, "counts": counts,
        "label_counts": {k: {str(v): c for v, c in sorted(d.items())} for k, d in by.items()},
    }  # fmt: skip
    (out / "synthspoof.json").write_text(json.dumps(meta, indent=2) + "\n")
    return {
        "n": len(jobs), "train": counts["train"]["images"], "test": counts["test"]["images"],
        "live": counts["train"]["live"] + counts["test"]["live"],
        "spoof": counts["train"]["spoof"] + counts["test"]["spoof"],
        "subjects": counts["train"]["subjects"] + counts["test"]["subjects"],
    }  # fmt: skip
