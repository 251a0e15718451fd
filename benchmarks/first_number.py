"""Time from an empty cache to the first audit number, per backbone (issue 14; run by hand).

For each backbone: ``fgav audit --backbone B --head depth`` in a fresh, empty
``FGAV_CACHE`` (so SynthSpoof is rendered, the default target trained, its SFA module
trained, then the audit run), timed as a whole process (wall and CPU seconds), with the
load average before and after, and the target's live/spoof accuracy on SynthSpoof's test
split as ``fgav models --json`` records it. Backbones run one after the other, so their
times sit side by side in one run; quote them only from a quiet machine.

    python benchmarks/first_number.py                         # vgg13, resnet18, densenet121, swin
    python benchmarks/first_number.py --backbone swin --json first.json

Prints a Markdown table for docs/training.md.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click

BACKBONES = ("vgg13", "resnet18", "densenet121", "swin")


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def measure(backbone: str, *, head: str, keep: Path | None = None) -> dict[str, Any]:
    """One backbone's first audit from an empty cache: its row of figures.

    With ``keep``, the cache is ``keep/<backbone>`` (emptied first) and stays afterwards,
    so the trained target can be reused.
    """
    with tempfile.TemporaryDirectory(prefix="fgav-first-") as scratch:
        cache = scratch
        if keep is not None:
            cache = str(keep / backbone)
            shutil.rmtree(cache, ignore_errors=True)
            Path(cache).mkdir(parents=True)
        env = {**os.environ, "FGAV_CACHE": cache, "FGAV_PROGRESS_SECONDS": "30"}
        before, load_before = resource.getrusage(resource.RUSAGE_CHILDREN), _load()
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "fgav", "audit", "--backbone", backbone, "--head", head],
                              env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if keep is not None:  # what the user saw, for the phases' times
            (keep / f"{backbone}.log").write_text(done.stderr + done.stdout)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        listed = subprocess.run([sys.executable, "-m", "fgav", "models", "--json"], env=env, capture_output=True,
                                text=True)
        targets = json.loads(listed.stdout) if listed.returncode == 0 else []
    return {
        "backbone": backbone, "exit": done.returncode, "wall_s": round(wall, 1),
        "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1),
        "load_before": load_before, "load_after": _load(),
        "test_accuracy": targets[0]["test_accuracy"] if targets else None,
        "estimate_line": next((line for line in done.stderr.splitlines() if "Estimated training time" in line), None),
        "error": done.stderr.strip().splitlines()[-1] if done.returncode and done.stderr.strip() else None,
    }


@click.command()
@click.option("--backbone", "backbones", multiple=True, help="Backbones to time (default: the paper's four).")
@click.option("--head", default="depth", show_default=True, help="The part the audit attacks.")
@click.option("--keep", type=click.Path(path_type=Path), help="Keep each backbone's cache in KEEP/<backbone>.")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the rows as JSON too.")
def main(backbones: tuple[str, ...], head: str, keep: Path | None, json_path: Path | None) -> None:
    """Time `fgav audit --backbone B --head depth` from an empty cache for each backbone."""
    rows = []
    for b in backbones or BACKBONES:
        rows.append(measure(b, head=head, keep=keep))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print("| backbone | wall | CPU s | load before -> after | live/spoof acc | exit |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        minutes = f"{r['wall_s'] / 60:.1f} min"
        acc = f"{r['test_accuracy']:.3f}" if isinstance(r["test_accuracy"], float) else "-"
        print(f"| {r['backbone']} | {minutes} | {r['cpu_s']} | {r['load_before']} -> {r['load_after']} | {acc} | "
              f"{r['exit']} |")
    if json_path is not None:
        json_path.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
