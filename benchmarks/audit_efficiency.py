"""Audit efficiency against a hand-written PyTorch loop and Foolbox (issue 6, item 6).

Measured in one run, on the same model and batch:
  1. the 6-part FGSM audit (fgav's engine, metrics included) against a minimal PyTorch
     loop doing the same model work (clean forward, per part a gradient and the
     adversarial forward): target within 1.10x;
  2. an 8-epsilon FGSM sweep: fgav's runner against Foolbox's epsilon list: target >= 2x;
  3. PGD-10 with early stopping against Foolbox's LinfPGD: target >= 1.5x faster at an
     equal or higher ASR.

Usage: .venv/bin/python benchmarks/audit_efficiency.py [--checkpoint DIR] [--repeats 3]
(default: the embedded ResNet-18 target, trained into the cache when missing).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable

import foolbox as fb
import torch

import fgav
import fgav.targets
from fgav.auditing.engine import Plan, run_audit
from fgav.auditing.gradient import run_gradient_attack
from fgav.core.aiming import PartObjective, aimed_model
from fgav.core.model import CLASSIFICATION


def timed(fn: Callable[[], object], repeats: int) -> float:
    """The median wall time of ``fn`` over ``repeats`` runs (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="a target checkpoint (default: the embedded resnet18)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    if args.checkpoint:
        model = fgav.load_model(args.checkpoint)
    else:
        model = fgav.targets.default("resnet18")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    data = fgav.data.open_dataset("synth", split="test", image_size=model.config["image_size"])
    batch = torch.utils.data.default_collate([data[i] for i in range(args.batch_size)])
    batch = {k: v for k, v in batch.items() if isinstance(v, torch.Tensor) or k == "valid"}
    x, labels = batch["image"], batch["spoof"]
    parts = list(model.head_names)
    eps = 8 / 255
    fgsm = fgav.create_attack("fgsm")
    figures: dict[str, float] = {}

    # 1. The 6-part FGSM audit against a minimal loop doing the same model work.
    plan = Plan(parts=parts, attacks=[("fgsm", fgsm)], epsilons=[eps], augmenters=[("none", fgav.create_augmenter("none"))])

    def engine() -> None:
        run_audit(model, [batch | {"skipped": [], "skip_reasons": []}], plan, provides=data.provides,
                  device=torch.device("cpu"))

    def hand_loop() -> None:
        with torch.no_grad():
            clean = model(x)
        for part in parts:
            head = model.heads[part]
            point = x.clone().requires_grad_(True)
            loss = head.loss(model(point)[part], head.target(batch)).sum()
            (grad,) = torch.autograd.grad(loss, point)
            adv = (x + eps * grad.sign()).clamp(0, 1)
            with torch.no_grad():
                outputs = model(adv)
            _ = (outputs[CLASSIFICATION].argmax(1) != labels) & (clean[CLASSIFICATION].argmax(1) == labels)

    figures["audit_6part_fgsm_s"] = timed(engine, args.repeats)
    figures["hand_loop_6part_fgsm_s"] = timed(hand_loop, args.repeats)
    figures["audit_over_hand_loop"] = figures["audit_6part_fgsm_s"] / figures["hand_loop_6part_fgsm_s"]

    # 2. An 8-epsilon FGSM sweep: one gradient against Foolbox's gradient per epsilon.
    epsilons = [k / 255 for k in (1, 2, 3, 4, 6, 8, 12, 16)]
    objective = PartObjective.for_batch(model, CLASSIFICATION, batch)
    fmodel = aimed_model(objective)
    criterion = fb.criteria.Misclassification(labels)
    figures["fgsm_sweep_fgav_s"] = timed(lambda: run_gradient_attack(fgsm, objective, x, epsilons), args.repeats)
    figures["fgsm_sweep_foolbox_s"] = timed(lambda: fgsm(fmodel, x, criterion, epsilons=epsilons), args.repeats)
    figures["fgsm_sweep_speedup"] = figures["fgsm_sweep_foolbox_s"] / figures["fgsm_sweep_fgav_s"]

    # 3. PGD-10: early stopping against Foolbox's LinfPGD, with the ASR of each.
    # PGD-10 with the usual step of 2.5 epsilon / steps (Madry et al.); Foolbox's default step is
    # made for 40 steps and would not reach the boundary in 10.
    pgd = fgav.create_attack("pgd", steps=10, rel_stepsize=0.25)

    def asr(adv: torch.Tensor) -> float:
        with torch.no_grad():
            right = model(x)[CLASSIFICATION].argmax(1) == labels
            wrong = model(adv)[CLASSIFICATION].argmax(1) != labels
        return float((right & wrong).sum() / right.sum().clamp_min(1))

    torch.manual_seed(0)
    figures["pgd10_fgav_s"] = timed(lambda: run_gradient_attack(pgd, objective, x, [eps]), args.repeats)
    figures["pgd10_foolbox_s"] = timed(lambda: pgd(fmodel, x, criterion, epsilons=eps), args.repeats)
    figures["pgd10_speedup"] = figures["pgd10_foolbox_s"] / figures["pgd10_fgav_s"]
    torch.manual_seed(1)
    figures["pgd10_fgav_asr"] = asr(run_gradient_attack(pgd, objective, x, [eps])[0])
    torch.manual_seed(1)
    figures["pgd10_foolbox_asr"] = asr(pgd(fmodel, x, criterion, epsilons=eps)[1])
    figures["load_average_1min"] = os.getloadavg()[0]
    figures["threads"] = torch.get_num_threads()
    for key, value in figures.items():
        print(f"{key:>28}: {value:.4f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(figures, handle, indent=2)


if __name__ == "__main__":
    main()
