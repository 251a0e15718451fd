"""The fine-grained audit from Python: which part of a ResNet-18 FAS model carries the
vulnerability of its live/spoof decision, with and without SFA?

Run: ``.venv/bin/python examples/python-api/audit_resnet18.py`` (the first run trains the
embedded default target and its SFA module on SynthSpoof, a few minutes on a CPU).
"""

from __future__ import annotations

from rich.console import Console

import fgav
import fgav.targets

model = fgav.targets.default("resnet18")  # trained on the embedded SynthSpoof when not cached
result = fgav.audit(
    model,
    "synth",  # the embedded SynthSpoof test split
    heads="all",  # attack each part in turn (Eq. 11)
    attacks=["fgsm", "pgd"],
    eps=[2 / 255, 8 / 255],
    augmenters=["none", "sfa"],
    limit=128,
    attack_options={"pgd": {"steps": 10}},
)
Console().print(result.table())
for r in result.find(attack="fgsm", epsilon=8 / 255):
    print(f"{r['part']:>15} {r['augmenter']:>5}  ASR {r['asr']:.3f}  L2 {r['distortion']['l2']:.3f}")
result.to_json("audit-resnet18.json")
