"""Calibrates SynthSpoof's difficulty: live/spoof accuracy of a ResNet-18 trained on it.

A plain PyTorch loop: timm's resnet18 (pretrained=False, 2 classes), ImageNet-normalized
64 px input, Adam at lr 1e-3, batch 64, a few epochs on a written SynthSpoof tree, then
accuracy on the subject-disjoint test split after every epoch. The default difficulty
is chosen so that this lands at high but not perfect accuracy (0.95-0.99), as the
paper's models do on CelebA-Spoof.

    python benchmarks/synth_calibration.py --difficulty 0.5 [--n 2500 --epochs 4]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import timm
import torch
from PIL import Image

from fgav.data.synth import DEFAULT_DIFFICULTY, generate

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def load_split(root: Path, split: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images (N, 3, H, W) in [0, 1], live/spoof targets and spoof types of one split."""
    labels = json.loads((root / "metas" / "intra_test" / f"{split}_label.json").read_text())
    images = np.stack([np.asarray(Image.open(root / rel).convert("RGB")) for rel in labels])
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    lab = torch.tensor(list(labels.values()))
    return x, lab[:, 43], lab[:, 40]


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The model's live/spoof predictions on x."""
    model.eval()
    return torch.cat([model((xb - MEAN) / STD).argmax(1) for xb in x.split(256)])


def calibrate(*, difficulty: float, n: int, size: int, epochs: int, seed: int, threads: int) -> dict:
    """Generates, trains, evaluates; returns the figures."""
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        summary = generate(Path(tmp) / "synth", n=n, size=size, seed=seed, difficulty=difficulty)
        xtr, ytr, _ = load_split(summary.path, "train")
        xte, yte, tte = load_split(summary.path, "test")
    model = timm.create_model("resnet18", pretrained=False, num_classes=2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    history = []
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(xtr))
        for i in range(0, len(perm), 64):
            idx = perm[i : i + 64]
            xb = xtr[idx]
            xb = torch.where(torch.rand(len(xb), 1, 1, 1) < 0.5, xb.flip(3), xb)  # mirror
            loss = torch.nn.functional.cross_entropy(model((xb - MEAN) / STD), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        pred = evaluate(model, xte, yte)
        acc = (pred == yte).float().mean().item()
        history.append({"epoch": epoch + 1, "seconds": round(time.perf_counter() - start, 1),
                        "loss": round(loss.item(), 4), "test_accuracy": round(acc, 4)})  # fmt: skip
        print(json.dumps(history[-1]), flush=True)
    per_type = {int(t): round((pred[tte == t] == yte[tte == t]).float().mean().item(), 3)
                for t in tte.unique()}  # fmt: skip
    return {
        "difficulty": difficulty, "n": n, "size": size, "seed": seed, "threads": threads,
        "train_images": len(xtr), "test_images": len(xte), "generate_seconds": round(summary.seconds, 1),
        "history": history, "final_test_accuracy": history[-1]["test_accuracy"],
        "accuracy_by_spoof_type": per_type,
    }  # fmt: skip


def main() -> None:
    """Runs the calibration for each difficulty given and prints JSON figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--difficulty", type=float, nargs="+", default=[DEFAULT_DIFFICULTY])
    parser.add_argument("--n", type=int, default=2500)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    for d in args.difficulty:
        result = calibrate(difficulty=d, n=args.n, size=args.size, epochs=args.epochs, seed=args.seed,
                           threads=args.threads)  # fmt: skip
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
