"""fgav's `reliable` ensemble against AutoAttack's two-class attacks (issue 12).

On the default ResNet-18 target (64 px) and the first N SynthSpoof test images, the
live/spoof decision at each epsilon is attacked by
  - fgav's `reliable` (APGD, then Square on the samples APGD left; its defaults), through
    the native path the audit uses, and
  - AutoAttack's attacks that apply to two classes, as torchattacks 3.5.x implements them:
    APGD-CE (100 steps, 1 restart), then Square (5,000 queries, p_init 0.8) on the samples
    APGD-CE left (torchattacks' MultiAttack order). AutoAttack's targeted APGD-DLR (and
    FAB-T) need at least four classes (DLR reads the third largest logit and targets the
    nine best other classes): a two-class decision has none of that.
Both sides run on the same samples, one after the other in one process; the ASR is over
the samples whose clean decision is right. Time is wall time on a CPU: set
OMP_NUM_THREADS=1 and read the ratio, not the seconds, on a shared machine.

With --depth, `reliable` aimed at the depth part is timed too (its ASR on the decision);
with --masked, instead of the comparison, apgd, square and reliable run at 8/255 on the
target whose backbone rounds its input to 8 bits (a masked gradient).

Usage: OMP_NUM_THREADS=1 python benchmarks/reliable_vs_autoattack.py [--n 64] [--depth] [--masked] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torchattacks

import fgav
import fgav.targets
from fgav.attacks.apgd import APGDAttack
from fgav.attacks.reliable import ReliableAttack
from fgav.attacks.square import SquareAttack
from fgav.core.aiming import PartObjective
from fgav.core.model import CLASSIFICATION


class Quantized(fgav.Backbone):
    """A backbone that rounds its input to 8 bits first: the input gradient is zero (masked)."""

    def __init__(self, backbone: fgav.Backbone) -> None:
        super().__init__()
        self.backbone = backbone
        self.out_channels = backbone.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(torch.round(x * 255) / 255)


class Decision(torch.nn.Module):
    """The live/spoof logits of a multitask model, for torchattacks."""

    def __init__(self, model: fgav.MultiTaskModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)[CLASSIFICATION]


def autoattack_pair(decision: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """APGD-CE (100 steps), then Square (5,000 queries) on what it left: torchattacks 3.5.x."""
    apgd = torchattacks.APGD(decision, norm="Linf", eps=eps, steps=100, n_restarts=1, loss="ce", seed=0)
    square = torchattacks.Square(decision, norm="Linf", eps=eps, n_queries=5000, n_restarts=1, p_init=0.8,
                                 loss="margin", seed=0)
    adv = apgd(x, y)
    with torch.no_grad():
        left = (decision(adv).argmax(1) == y).nonzero().squeeze(1)
    if left.numel():
        adv[left] = square(x[left], y[left])
    return adv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="a target checkpoint (default: the cached default resnet18)")
    parser.add_argument("--n", type=int, default=64, help="test images (default 64)")
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--depth", action="store_true", help="also time reliable aimed at the depth part")
    parser.add_argument("--masked", action="store_true",
                        help="instead, run apgd, square and reliable at 8/255 on the target with a backbone that "
                             "rounds its input to 8 bits (zero input gradient)")
    args = parser.parse_args()
    if args.checkpoint:
        model = fgav.load_model(args.checkpoint)
    elif fgav.targets.is_cached("resnet18"):
        model = fgav.targets.default("resnet18", device="cpu", progress=False)
    else:
        raise SystemExit("the default resnet18 target is not cached: run `python -m fgav audit` once to train it")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    data = fgav.data.open_dataset("synth", split="test", image_size=model.config["image_size"])
    batch = torch.utils.data.default_collate([data[i] for i in range(args.n)])
    batch = {k: v for k, v in batch.items() if isinstance(v, torch.Tensor)}
    x, y = batch["image"].float(), batch["spoof"].long()
    decision = Decision(model).eval()
    with torch.no_grad():
        right = decision(x).argmax(1) == y
    objective = PartObjective.for_batch(model, CLASSIFICATION, batch)
    depth = PartObjective.for_batch(model, "depth", batch)
    reliable = ReliableAttack()
    rows = []
    for eps in () if args.masked else (4 / 255, 8 / 255):
        figures: dict[str, float | str] = {"epsilon": f"{round(eps * 255)}/255"}
        for side, attack in (
            ("reliable", lambda: reliable.run_on_objective(objective, x, [eps])[0]),
            ("autoattack", lambda: autoattack_pair(decision, x, y, eps)),
        ):
            torch.manual_seed(0)
            start = time.perf_counter()
            adv = attack().detach()
            seconds = time.perf_counter() - start
            assert float((adv - x).abs().max()) <= eps + 1e-6 and 0 <= float(adv.min()) and float(adv.max()) <= 1
            with torch.no_grad():
                flipped = (decision(adv).argmax(1) != y) & right
            figures[f"{side}_asr"] = float(flipped.sum()) / max(int(right.sum()), 1)
            figures[f"{side}_s"] = seconds
        figures["time_ratio"] = float(figures["autoattack_s"]) / float(figures["reliable_s"])
        if args.depth:  # the cost of a part whose loss ascent seldom flips the decision
            torch.manual_seed(0)
            start = time.perf_counter()
            adv = reliable.run_on_objective(depth, x, [eps])[0]
            figures["reliable_depth_s"] = time.perf_counter() - start
            with torch.no_grad():
                flipped = (decision(adv).argmax(1) != y) & right
            figures["reliable_depth_asr"] = float(flipped.sum()) / max(int(right.sum()), 1)
        rows.append(figures)
        print(json.dumps(figures), flush=True)
    masked: dict[str, float] = {}
    if args.masked:
        model.backbone = Quantized(model.backbone)
        eps = 8 / 255
        parts: list[tuple[str, APGDAttack | SquareAttack | ReliableAttack]] = [
            ("apgd", APGDAttack()), ("square", SquareAttack()), ("reliable", reliable)]
        for name, each in parts:
            torch.manual_seed(0)
            start = time.perf_counter()
            adv = each.run_on_objective(objective, x, [eps])[0]
            masked[f"{name}_s"] = time.perf_counter() - start
            with torch.no_grad():
                flipped = (decision(adv).argmax(1) != y) & right
            masked[f"{name}_asr"] = float(flipped.sum()) / max(int(right.sum()), 1)
        print(json.dumps({"masked_8/255": masked}), flush=True)
    summary = {"n": args.n, "right_clean": int(right.sum()), "torch_threads": torch.get_num_threads(),
               "torchattacks": torchattacks.__version__, "rows": rows,
               "masked_8/255": masked}
    print(json.dumps(summary, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
