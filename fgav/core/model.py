"""The multitask face anti-spoofing model: a backbone and its auxiliary heads (Sec. 3.3)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch
from safetensors.torch import load_model as _load_safetensors
from safetensors.torch import save_model as _save_safetensors
from torch import Tensor, nn

from fgav.core.errors import FgavError
from fgav.core.interfaces import AuxHead, Backbone
from fgav.core.io import write_atomically
from fgav.core.types import Batch
from fgav.core.version import __version__

if TYPE_CHECKING:
    from collections.abc import ItemsView, ValuesView

    class _Heads(nn.ModuleDict):
        """``MultiTaskModel.heads`` as type checkers see it: an ``nn.ModuleDict`` of AuxHeads."""

        def __getitem__(self, key: str) -> AuxHead: ...
        def items(self) -> ItemsView[str, AuxHead]: ...
        def values(self) -> ValuesView[AuxHead]: ...
        def pop(self, key: str) -> AuxHead: ...

CLASSIFICATION = "classification"
DEFAULT_HEADS: tuple[str, ...] = ("attribute", "spoof_type", "illumination", "depth", "reflection", CLASSIFICATION)
WEIGHTS_FILE, CONFIG_FILE = "model.safetensors", "config.json"


def spoof_probability(outputs: Mapping[str, Tensor] | Tensor) -> Tensor:
    """The probability of spoof per sample ``(B,)``: the softmax of the live/spoof logits, class 1.

    Args:
        outputs: a model's outputs (head name -> output) or the ``(B, 2)`` logits themselves.
    """
    logits = outputs if isinstance(outputs, Tensor) else outputs[CLASSIFICATION]
    return logits.float().softmax(dim=1)[:, 1]
def check_images(x: Tensor, *, where: str = "the data") -> None:
    """Refuse model inputs that are not images in [0,1]: a clear error, not NaN figures or an assertion.

    Raises:
        FgavError: a NaN or infinite pixel, or one outside [0, 1].
    """
    if not torch.isfinite(x).all():
        raise FgavError(f"{where} holds NaN or infinite pixel values; fgav takes images in [0,1]")
    low, high = float(x.min()), float(x.max())
    if low < 0 or high > 1:
        raise FgavError(f"{where} holds pixel values in [{low:.3g}, {high:.3g}]; fgav takes images in [0,1]")


class MultiTaskModel(nn.Module):
    """A backbone with named auxiliary heads; ``forward`` returns head name -> output.

    The live/spoof ``classification`` head is always present: attacks are judged on it.
    """

    def __init__(
        self,
        backbone: Backbone,
        heads: Mapping[str, AuxHead],
        *,
        config: Mapping[str, Any] | None = None,
        loss_weights: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__()
        if CLASSIFICATION not in heads:
            raise FgavError(f"a MultiTaskModel needs the {CLASSIFICATION!r} head (the live/spoof decision)")
        self.backbone = backbone
        self.heads: _Heads = cast("_Heads", nn.ModuleDict(dict(heads)))  # every value is an AuxHead
        self.config: dict[str, Any] = dict(config or {})
        weights = {name: float(head.loss_weight) for name, head in heads.items()}
        unknown = set(loss_weights or {}) - set(weights)
        if unknown:
            raise FgavError(f"loss weights for heads the model lacks: {', '.join(sorted(unknown))}")
        weights.update({k: float(v) for k, v in (loss_weights or {}).items()})
        self.loss_weights = weights
        self.checkpoint_dir: Path | None = None

    @property
    def head_names(self) -> list[str]:
        """The names of the heads, in order."""
        return list(self.heads.keys())

    def features(self, x: Tensor) -> Tensor:
        """The backbone's feature map of images ``x`` in [0,1]."""
        return self.backbone(x)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """Return every head's output for images ``x`` ``(B,3,H,W)`` in [0,1]."""
        features = self.backbone(x)
        return {name: head(features) for name, head in self.heads.items()}

    def available_heads(self, batch: Batch) -> list[str]:
        """The heads whose ground truth the batch holds (or whose ``target()`` computes it)."""
        return [n for n, h in self.heads.items() if not h.missing_keys(batch)]

    def losses(self, outputs: Mapping[str, Tensor], batch: Batch) -> dict[str, Tensor]:
        """Per-sample loss ``(B,)`` of each head whose ground truth is in the batch.

        Samples whose ground truth is marked missing (``batch["valid"][key]`` false)
        get a zero loss for that head.
        """
        valid = batch.get("valid", {}) or {}
        result: dict[str, Tensor] = {}
        for name in self.available_heads(batch):
            head = self.heads[name]
            target = head.target(batch).to(outputs[name].device)
            loss = head.loss(outputs[name], target)
            mask = valid.get(head.target_key)
            if mask is not None:
                loss = loss * mask.to(loss.device, loss.dtype)
            result[name] = loss
        return result

    def loss(self, outputs: Mapping[str, Tensor], batch: Batch) -> Tensor:
        """The multitask loss of Eq. 10 per sample ``(B,)``: the weighted sum of head losses."""
        parts = self.losses(outputs, batch)
        return sum(self.loss_weights[n] * v for n, v in parts.items())  # type: ignore[return-value]

    def save(self, directory: str | Path) -> Path:
        """Write ``model.safetensors`` and ``config.json`` into ``directory``."""
        directory = Path(directory)
        config = {**self.config, "fgav_version": __version__, "loss_weights": self.loss_weights}
        write_atomically(directory / WEIGHTS_FILE, lambda tmp: _save_safetensors(self, str(tmp)))
        write_atomically(directory / CONFIG_FILE, json.dumps(config, indent=2, sort_keys=True))
        return directory


def load_weights(module: nn.Module, file: str | Path, *, device: str | torch.device = "cpu", describe: str = "") -> None:
    """Load a safetensors file into ``module``, every tensor by name and shape.

    Args:
        module: the module the file must fit exactly (no tensor missing or left over).
        file: the ``.safetensors`` file.
        device: where to put the tensors.
        describe: what the module is, for the message (e.g. "backbone resnet18 at 64 px").

    Raises:
        FgavError: one line naming the file: it is empty, truncated or not safetensors;
            or its tensors do not fit the module (names or shapes).
    """
    what = f" ({describe})" if describe else ""
    try:
        missing, unexpected = _load_safetensors(module, str(file), strict=False, device=str(device))
    except RuntimeError as exc:  # load_state_dict: "size mismatch for <name>: copying a param with shape ..."
        lines = [line.strip() for line in str(exc).splitlines() if "size mismatch" in line]
        if not lines:
            raise FgavError(f"{file}: unreadable weights ({type(exc).__name__}: {str(exc).strip()})".splitlines()[0]) from None
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        raise FgavError(f"{file}: its tensors do not fit the model{what}: {lines[0].rstrip('.')}{more}") from None
    except Exception as exc:  # safetensors' own error (empty, truncated, garbage), an OSError
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FgavError(f"{file}: not a readable safetensors file ({reason})") from None
    if missing or unexpected:
        parts = [f"{len(names)} {kind} (e.g. {names[0]!r})" for kind, names in (("missing", list(missing)), ("unexpected", list(unexpected))) if names]
        raise FgavError(f"{file}: its tensors do not fit the model{what}: {', '.join(parts)}")
