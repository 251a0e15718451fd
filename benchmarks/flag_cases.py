"""Each indicator of attack failure raised on a real case, and the healthy audit it must stay silent on.

    python benchmarks/flag_cases.py [--checkpoint DIR] [--limit 32] [--json out.json]

Without ``--checkpoint`` it uses the default ResNet-18 target (``fgav.targets.default``).
It prints, per case, the ASR and the flags of each result: the figures in docs/audit.md
(Flags) come from this script.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from typing import Any

import torch
from torch import nn

import fgav
from fgav.auditing import audit
from fgav.targets import default


class Quantize(nn.Module):
    """Rounds the input to 8 bits (as a model reading JPEG pixels would): a zero gradient everywhere."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.round(x * 255) / 255


class Noise(nn.Module):
    """Fresh Gaussian noise (std 0.1) at every forward pass: a decision that is not deterministic."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.1 * torch.randn_like(x)


def in_front(model: fgav.MultiTaskModel, layer: nn.Module) -> fgav.MultiTaskModel:
    """A copy of ``model`` whose backbone first applies ``layer``."""
    out = copy.deepcopy(model)
    out.backbone = nn.Sequential(layer, out.backbone)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="a saved model (default: the default ResNet-18 target)")
    parser.add_argument("--limit", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="write every case's results here")
    args = parser.parse_args()
    model = fgav.load_model(args.checkpoint) if args.checkpoint else default("resnet18", device="cpu")
    common: dict[str, Any] = dict(limit=args.limit, device=args.device, augmenters=["none"])
    eps = [2 / 255, 8 / 255]
    cases: list[tuple[str, fgav.MultiTaskModel, dict[str, Any]]] = [
        ("healthy: fgsm+pgd, every part", model, dict(heads="all", attacks=["fgsm", "pgd"], eps=eps)),
        ("healthy with --check: fgsm+pgd, live/spoof", model, dict(attacks=["fgsm", "pgd"], eps=eps, check=True)),
        ("input quantized to 8 bits, --check", in_front(model, Quantize()),
         dict(attacks=["fgsm", "pgd"], eps=[8 / 255], check=True)),
        ("pgd steps=1 rel_stepsize=0.1, no random start", model,
         dict(attacks=["pgd"], eps=eps, attack_options={"pgd": {"steps": 1, "rel_stepsize": 0.1,
                                                                "random_start": False}})),
        ("pgd steps=2", model, dict(attacks=["pgd"], eps=[2 / 255], attack_options={"pgd": {"steps": 2}})),
        ("pgd steps=5 abs_stepsize=1/255 (random start), up to eps=1", model,
         dict(attacks=["pgd"], eps=[8 / 255, 32 / 255, 1.0],
              attack_options={"pgd": {"steps": 5, "abs_stepsize": 1 / 255}})),
        ("Gaussian noise (std 0.1) at every forward", in_front(model, Noise()),
         dict(attacks=["deepfool", "pgd"], eps=[8 / 255])),
    ]
    payload = []
    for title, target, options in cases:
        started = time.perf_counter()
        result = audit(target, **{**common, **options})
        seconds = time.perf_counter() - started
        print(f"\n## {title} ({seconds:.1f} s)")
        for r in result.results:
            eps_text = "-" if r["epsilon"] is None else f"{r['epsilon'] * 255:.0f}/255"
            flags = "; ".join(f"{f['code']}: {f['message']}" for f in r["flags"]) or "(none)"
            print(f"{r['part']:>14} {r['attack']:>8} {eps_text:>7} ASR {r['asr']:.3f}  {flags}")
        payload.append({"case": title, "seconds": round(seconds, 1), "results": result.to_dict()["results"]})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(payload, f, indent=1)


if __name__ == "__main__":
    main()
