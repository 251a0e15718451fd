"""Each built-in attack's defaults, timed end to end on an every-part audit (issue 12, item 4).

On the default ResNet-18 target (64 px) and the first N SynthSpoof test images, each
registered built-in attack runs with its defaults in a 6-part audit at one budget (8/255
for the L-inf attacks, DeepFool included; 0.5 for the L2 ones: L2 PGD, C&W and EAD, the
last two minimization attacks that run to their own end; the others take no epsilon or
read it as a cap), no augmenter, early stopping on (the audit's default). The time is the
audit's wall time; the figure for 500 images is it times 500 / N (the audit's work
grows with the images; batches are 32). Run on a quiet machine, alone.

Usage: .venv/bin/python benchmarks/attack_times.py [--limit 32] [--attack NAME ...] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

import fgav
import fgav.targets
from fgav.core.formatting import format_epsilons

L2 = {"l2pgd", "cw", "ead"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=32)
    parser.add_argument("--attack", action="append", help="time only these (default: every built-in attack)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    model = fgav.targets.default("resnet18", device="cpu")
    names = args.attack or fgav.list_attacks()
    rows = []
    print(f"torch threads {torch.get_num_threads()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    for name in names:
        eps = 0.5 if name in L2 else 8 / 255
        start = time.perf_counter()
        result = fgav.audit(model, "synth", heads="all", attacks=[name], eps=[eps], augmenters=["none"],
                            limit=args.limit, device="cpu")
        seconds = time.perf_counter() - start
        asr = {r["part"]: round(r["asr"], 3) for r in result.results}
        flags = sorted({f["code"] for r in result.results for f in r.get("flags") or []})
        row = {"attack": name, "epsilon": format_epsilons([eps]), "n": args.limit, "seconds": round(seconds, 1),
               "seconds_500": round(seconds * 500 / args.limit), "asr": asr, "flags": flags}
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"limit": args.limit, "threads": torch.get_num_threads(), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
