"""Indicators of attack failure: every audit result says where its own number cannot be trusted.

A weak or broken attack reads as a robust model. After Pintor et al., "Indicators of
Attack Failure" (NeurIPS 2022), and Carlini et al., "On Evaluating Adversarial
Robustness" (2019), each result carries ``flags``, one per failure indicator it raised:

- ``zero-gradients``: the part's loss gradient at the attack's start is zero or not
  finite for a notable share of samples (masked, quantized or broken gradients).
- ``not-monotone``: a larger budget flips fewer samples, or loses samples a smaller
  budget of the same sweep flipped (the larger ball holds the smaller one).
- ``weaker-than-fgsm``: an iterative L-inf attack flips fewer samples than FGSM (one
  gradient step) at the same budget, on the same part and samples.
- ``incomplete-optimization``: for a notable share of the samples the attack failed
  on, the part's loss was still rising over its last steps, with no break point
  behind it (more steps would help).
- ``unbounded-failure``: with an unbounded budget the attack still fails on samples
  it should flip (``check=True`` only: it costs another run of the attack).
- ``unstable``: the decision the attack judged at its returned point is not the one a
  fresh forward pass gives there (non-determinism, autocast, batch statistics).

The thresholds below are the "notable shares"; each is a share of the samples the
indicator looks at, and an indicator fires at or above it (``> 0`` for the ones any
single sample is enough for). The engine collects :class:`Evidence` per result, batch
by batch; :func:`judge` turns it into :class:`Flag` lists once the audit has ended.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import foolbox.attacks as fa
import torch
from foolbox.attacks.base import MinimizationAttack
from foolbox.attacks.gradient_descent_base import BaseGradientDescent
from torch import Tensor

ZERO_GRADIENT_SHARE = 0.05
"""``zero-gradients`` fires when at least this share of samples has a zero or non-finite gradient."""
NOT_MONOTONE_SHARE = 0.05
"""``not-monotone`` fires when this share of the samples right when clean is flipped at a smaller
budget of the sweep but not at a larger one (or when the ASR itself falls)."""
INCOMPLETE_SHARE = 0.2
"""``incomplete-optimization`` fires when at least this share of failed samples was still rising."""
INCOMPLETE_WINDOW = 0.2
"""The share of the steps (at least one) whose mean loss is compared with the window before it."""
INCOMPLETE_RISE = 0.05
"""A failed sample is still rising when its last window's mean loss exceeds the previous window's
by more than this share of the whole range its loss covered (scale-free: the range, not the size,
counts), and its curve shows no break point (:data:`BREAK_POINT_ALIGNMENT`)."""
BREAK_POINT_ALIGNMENT = 0.8
"""A still-rising loss counts as unconverged only when the last half of its curve is this straight
through its break point (:func:`break_point_alignment`) or bends upwards there: after Pintor et
al.'s break-point angle, a curve that bent into a slow creep in its last half has converged; one
that rises along a straight line, or faster and faster, has not. The last half only: an attack's
loss is often S-shaped (slow, steep, levelling off), and its end decides."""
UNBOUNDED_SHARE = 0.0
"""``unbounded-failure`` fires when more than this share of the samples that should flip does not."""
UNSTABLE_SHARE = 0.0
"""``unstable`` fires when more than this share of the judged decisions disagrees with a fresh forward."""

CODES: dict[str, str] = {  # the order flags are listed in
    "zero-gradients": "the part's loss gradient is zero or not finite for many samples: gradient attacks are blind",
    "not-monotone": "a larger budget flips fewer samples than a smaller one of the same sweep",
    "weaker-than-fgsm": "this iterative L-inf attack flips fewer samples than FGSM at the same budget",
    "incomplete-optimization": "the loss was still rising at the last steps of many failed samples",
    "unbounded-failure": "with an unbounded budget the attack still fails on samples it should flip",
    "unstable": "the attack's own decision differs from a fresh forward pass on its returned image",
}
"""Every flag code and what it means, in one line."""

AUXILIARY_CAVEAT = ("; on an auxiliary part a flip is a side effect of ascending the part's loss, so small steps "
                    "can flip fewer decisions than one large one: the part's vulnerability is at least the higher "
                    "figure; try apgd (large adaptive steps)")
"""Appended to ``weaker-than-fgsm`` and ``not-monotone`` on a part other than the decision, where a
flip is a side effect of the attack's objective. Measured on the default target's reflection part
at 8/255 (32 images): PGD 0.281, FGSM 0.375, APGD 0.750 (docs/audit.md)."""
AUXILIARY_CAVEATED = ("weaker-than-fgsm", "not-monotone")

Key = tuple[str, str, float | None, str]
"""A result's key: (part, attack, epsilon, augmenter), as the engine keys results."""


@dataclass(frozen=True)
class Flag:
    """One raised indicator of attack failure: its ``code`` (a key of :data:`CODES`) and a measured message."""

    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """The JSON form: ``{"code": ..., "message": ...}``."""
        return {"code": self.code, "message": self.message}


@dataclass
class AttackRecord:
    """What an attack run reports beside its images: per epsilon, a loss trace and the decisions it judged.

    ``traces[i]`` is ``(steps, B)``, the part's loss at each step (NaN where a sample had
    stopped), or None; ``judged[i]`` is ``(B,)`` int8: 1 where the attack judged the
    decision wrong at its returned point, 0 where right, -1 where it did not judge.
    """

    traces: list[Tensor | None] = field(default_factory=list)
    judged: list[Tensor | None] = field(default_factory=list)
    start_zero: Tensor | None = None
    """Per sample, whether the part's gradient at the attack's start point (x, S(x) in push
    mode, or x shifted to S(x) in guide mode) was zero or not finite, where the attack took it."""

    def add(self, trace: Tensor | None, judged: Tensor | None) -> None:
        """Record one epsilon's trace and judged decisions."""
        self.traces.append(trace)
        self.judged.append(judged)

    def at(self, i: int) -> tuple[Tensor | None, Tensor | None]:
        """The ``i``-th epsilon's trace and judged decisions (None where the attack reported none)."""
        return (self.traces[i] if i < len(self.traces) else None, self.judged[i] if i < len(self.judged) else None)


@dataclass
class Evidence:
    """What one result's flags are judged on, accumulated batch by batch (in sample order)."""

    right: list[bool] = field(default_factory=list)
    flipped: list[bool] = field(default_factory=list)
    gradients_checked: int = 0
    zero_gradients: int = 0
    judged: int = 0
    unstable: int = 0
    failed_traced: int = 0
    rising: int = 0
    fgsm_flipped: list[bool] | None = None
    unbounded_flipped: list[bool] | None = None

    def add_batch(self, right: Tensor, wrong: Tensor, *, zero: Tensor | None = None, trace: Tensor | None = None,
                  judged: Tensor | None = None) -> None:
        """One batch of one result: decisions right when clean and wrong after the attack (a fresh
        forward pass), and where known, the zero-gradient mask, the loss trace and the attack's own
        decisions."""
        self.add_outcome(right, right & wrong)
        if zero is not None:
            self.add_gradients(zero)
        if trace is not None:
            self.add_trace(trace, right & ~wrong)
        if judged is not None:
            self.add_judged(judged, wrong)

    def add_outcome(self, right: Tensor, flipped: Tensor) -> None:
        """One batch's clean decisions (right or not) and flips (right when clean, wrong after)."""
        self.right += right.tolist()
        self.flipped += flipped.tolist()

    def add_gradients(self, zero: Tensor) -> None:
        """One batch's per-sample zero-or-non-finite gradient mask."""
        self.gradients_checked += int(zero.numel())
        self.zero_gradients += int(zero.sum())

    def add_judged(self, judged: Tensor, wrong: Tensor) -> None:
        """The attack's own decisions (-1 where it judged none) against a fresh forward's ``wrong``."""
        known = judged >= 0
        self.judged += int(known.sum())
        self.unstable += int(((judged == 1) != wrong)[known].sum())

    def add_trace(self, trace: Tensor, failed: Tensor) -> None:
        """A batch's loss trace ``(steps, B)``; only the failed samples' traces count."""
        if trace.shape[0] < 2:
            return
        self.failed_traced += int(failed.sum())
        self.rising += int((still_rising(trace) & failed).sum())

    def add_fgsm(self, flipped: Tensor) -> None:
        """FGSM's flips on the same batch, part, augmenter and budget."""
        self.fgsm_flipped = (self.fgsm_flipped or []) + flipped.tolist()

    def add_unbounded(self, flipped: Tensor) -> None:
        """The attack's flips with an unbounded budget on the same batch."""
        self.unbounded_flipped = (self.unbounded_flipped or []) + flipped.tolist()

    def merge(self, other: Evidence) -> None:
        """Add the evidence of the samples that follow this one's (a later shard), in order.

        Every field is a count (added) or a per-sample list (concatenated; ``None`` where
        nothing was collected).
        """
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if theirs is not None:
                setattr(self, f.name, (mine if mine is not None else []) + theirs)

    def state(self) -> dict[str, Any]:
        """JSON-ready (for resuming an interrupted audit)."""
        return dict(vars(self))

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Evidence:
        """The evidence :meth:`state` saved."""
        return cls(**{k: v for k, v in state.items() if k in cls.__dataclass_fields__})


def zero_gradient_samples(grad: Tensor) -> Tensor:
    """Per sample, whether its gradient ``(B, ...)`` is all zero or holds a non-finite value."""
    flat = grad.flatten(1)
    return (flat == 0).all(dim=1) | ~torch.isfinite(flat).all(dim=1)


def break_point_alignment(values: Tensor) -> tuple[float, bool]:
    """How straight a loss curve runs through its break point, and whether it bends upwards there.

    After Pintor et al.'s break-point angle: with the steps and the loss both scaled to
    [0, 1], the break point is the step farthest from the chord joining the first and the
    last; the alignment is minus the cosine of the angle the curve makes there: 1 for a
    straight line, near 0 for a right-angled knee (a steep rise, then flat). The flag
    says whether the break point lies below the chord (the curve bends upwards: the
    loss rises faster and faster).

    Args:
        values: one sample's finite losses, in step order.

    Returns:
        ``(alignment, bends_up)``; ``(1.0, False)`` for fewer than three steps or a flat
        loss (no break point to read).
    """
    n = values.numel()
    span = float(values.max() - values.min()) if n else 0.0
    if n < 3 or span == 0:
        return 1.0, False
    x = torch.linspace(0, 1, n, dtype=torch.float64)
    y = (values.double() - values.min()) / span
    above = y - (y[0] + (y[-1] - y[0]) * x)  # vertical distance from the chord, + above it
    k = int(above[1:-1].abs().argmax()) + 1
    a = torch.stack([x[0] - x[k], y[0] - y[k]])
    b = torch.stack([x[-1] - x[k], y[-1] - y[k]])
    alignment = -float(a @ b) / max(float(a.norm() * b.norm()), 1e-12)
    return alignment, bool(above[k] < -1e-6)  # a straight line lies on its chord, up to rounding


def still_rising(trace: Tensor) -> Tensor:
    """Per sample of a loss trace ``(steps, B)``: whether its loss still rose over the last steps.

    The mean of the last window (:data:`INCOMPLETE_WINDOW` of the steps, at least one)
    is compared with the window before it, relative to the range the loss covered over
    the whole trace (:data:`INCOMPLETE_RISE`); a loss that rises so is unconverged unless
    the last half of its curve bends at a clear break point into that rise
    (:func:`break_point_alignment` below :data:`BREAK_POINT_ALIGNMENT`: converged,
    creeping). NaN entries (steps after a sample stopped) are left out; a sample with
    fewer than two finite steps, or a flat loss, is not rising.
    """
    rising = torch.zeros(trace.shape[1], dtype=torch.bool, device=trace.device)
    for j in range(trace.shape[1]):
        values = trace[:, j][torch.isfinite(trace[:, j])].double()
        if values.numel() < 2:
            continue
        w = min(max(1, round(values.numel() * INCOMPLETE_WINDOW)), values.numel() // 2)
        span = float(values.max() - values.min())
        rise = float(values[-w:].mean() - values[-2 * w:-w].mean())
        if span > 0 and rise > INCOMPLETE_RISE * span:
            alignment, bends_up = break_point_alignment(values[values.numel() // 2:])
            rising[j] = bends_up or alignment > BREAK_POINT_ALIGNMENT
    return rising


def uses_gradients(attack: object) -> bool:
    """Whether an attack follows gradients (``zero-gradients`` concerns it).

    Foolbox's SpatialAttack does not; any other attack says so with ``gradient_free = True``.
    """
    return not getattr(attack, "gradient_free", isinstance(attack, fa.SpatialAttack))


def budget_is_epsilon(attack: object) -> bool:
    """Whether epsilon is an attack's whole budget, so that a large enough epsilon bounds nothing.

    True for Foolbox's own attacks (their ``run`` is Foolbox's) and its gradient
    descents; not for attacks with a budget of their own beside epsilon (fgav's sparse
    counts pixels, stadv bounds a flow). Any attack may say so with ``budget_is_epsilon``.
    """
    declared = getattr(attack, "budget_is_epsilon", None)
    if declared is not None:
        return bool(declared)
    run = getattr(type(attack), "run", None)
    return isinstance(attack, BaseGradientDescent) or getattr(run, "__module__", "").startswith("foolbox.")


def is_iterative_linf(attack: object) -> bool:
    """Whether an attack searches the whole L-inf ball and is not FGSM itself (``weaker-than-fgsm`` concerns it)."""
    if isinstance(attack, fa.LinfFastGradientAttack):
        return False
    return budget_is_epsilon(attack) and getattr(getattr(attack, "distance", None), "p", None) == math.inf


UNBOUNDED: Any = object()
"""What :func:`unbounded_budget` returns for an attack that takes no budget at all."""


def unbounded_budget(attack: object, image: Tensor) -> float | None | Any:
    """The budget that bounds nothing for ``attack`` on images like ``image`` (``(C, H, W)`` in [0,1]).

    L-inf: 1; L2: the diagonal of the image box; L1 and L0: every value. A minimization
    attack gets None (Foolbox's "no clipping"). An attack whose epsilon is not its whole
    budget (:func:`budget_is_epsilon`), that takes no budget, or whose distance this does
    not know gets :data:`UNBOUNDED` (no check).
    """
    if not budget_is_epsilon(attack):
        return UNBOUNDED
    if isinstance(attack, MinimizationAttack):
        return None
    p = getattr(getattr(attack, "distance", None), "p", None)
    size = float(image.numel())
    return {math.inf: 1.0, 2: math.sqrt(size), 1: size, 0: size}.get(p, UNBOUNDED)  # type: ignore[arg-type]


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _budget(eps: float | None) -> str:
    if eps is None:
        return "-"
    scaled = eps * 255
    return f"{round(scaled)}/255" if abs(scaled - round(scaled)) < 1e-6 else f"{eps:.4g}"


def _count(values: Sequence[bool], mask: Sequence[bool] | None = None) -> int:
    return sum(1 for i, v in enumerate(values) if v and (mask is None or mask[i]))


def _own_flags(ev: Evidence) -> list[Flag]:
    """The flags one result's evidence raises by itself."""
    flags = []
    if ev.gradients_checked and _share(ev.zero_gradients, ev.gradients_checked) >= ZERO_GRADIENT_SHARE:
        flags.append(Flag("zero-gradients", f"{ev.zero_gradients} of {ev.gradients_checked} samples have a zero "
                          "or non-finite part-loss gradient at the attack's start: gradient attacks cannot see "
                          "this part (masked, quantized or broken gradients); try a gradient-free attack"))
    n_right, n_flipped = sum(ev.right), _count(ev.flipped)
    if ev.fgsm_flipped is not None:
        fgsm = _count(ev.fgsm_flipped, ev.right)
        if fgsm > n_flipped:
            flags.append(Flag("weaker-than-fgsm", f"ASR {_share(n_flipped, n_right):.3f} is below FGSM's "
                              f"{_share(fgsm, n_right):.3f} at the same budget ({n_flipped} vs {fgsm} of {n_right} "
                              "samples): its step size or steps are too small for the budget"))
    if ev.failed_traced and _share(ev.rising, ev.failed_traced) >= INCOMPLETE_SHARE:
        flags.append(Flag("incomplete-optimization", f"the loss of {ev.rising} of {ev.failed_traced} failed samples "
                          "was still rising at the last steps: give the attack more steps"))
    if ev.judged and _share(ev.unstable, ev.judged) > UNSTABLE_SHARE:
        flags.append(Flag("unstable", f"{ev.unstable} of {ev.judged} decisions the attack judged differ from a "
                          "fresh forward pass on its returned image: the model is not deterministic"))
    return flags


def _not_monotone(sweep: list[tuple[float, Evidence]]) -> dict[float, Flag]:
    """``not-monotone`` per budget of one sweep (same part, attack, augmenter), ordered by budget."""
    out: dict[float, Flag] = {}
    sweep = sorted(sweep, key=lambda item: item[0])
    for j, (eps, ev) in enumerate(sweep):
        if j == 0 or len(ev.flipped) != len(sweep[0][1].flipped):
            continue
        n_right, asr = sum(ev.right), _share(_count(ev.flipped), sum(ev.right))
        best_eps, best_asr = max(((e, _share(_count(o.flipped), sum(o.right))) for e, o in sweep[:j]),
                                 key=lambda item: item[1])
        lost = sum(1 for i, f in enumerate(ev.flipped) if not f and any(o.flipped[i] for _, o in sweep[:j]))
        if asr < best_asr or _share(lost, n_right) >= NOT_MONOTONE_SHARE:
            falls = f"ASR {asr:.3f} is below {best_asr:.3f} at {_budget(best_eps)}; " if asr < best_asr else ""
            out[eps] = Flag("not-monotone", f"{falls}{lost} of {n_right} samples flipped at a smaller budget are "
                            f"not flipped at {_budget(eps)}: the attack does not use its larger budget")
    return out


def _unbounded(key: Key, ev: Evidence, sweep: Iterable[Evidence], classification: str) -> Flag | None:
    """``unbounded-failure``: the samples that should flip with no bound on the budget, and those that did not.

    On the live/spoof part every sample right when clean should flip; on another part,
    every sample this attack flipped at some bounded budget of the sweep.
    """
    if ev.unbounded_flipped is None or len(ev.unbounded_flipped) != len(ev.right):
        return None
    if key[0] == classification:
        should = list(ev.right)
    else:
        should = [False] * len(ev.right)
        for other in sweep:
            if len(other.flipped) == len(should):
                should = [s or f for s, f in zip(should, other.flipped)]
    n_should = sum(should)
    missed = sum(1 for s, f in zip(should, ev.unbounded_flipped) if s and not f)
    if n_should and _share(missed, n_should) > UNBOUNDED_SHARE:
        return Flag("unbounded-failure", f"with an unbounded budget the attack leaves {missed} of {n_should} samples "
                    "that should flip unflipped: the attack, not the model, is failing")
    return None


def judge(evidence: Mapping[Key, Evidence], *, classification: str = "classification") -> dict[Key, list[Flag]]:
    """The flags of every result, from the evidence the audit collected (empty lists where none fires).

    Args:
        evidence: per (part, attack, epsilon, augmenter), what the engine collected.
        classification: the name of the live/spoof part (every sample right when clean
            should flip there with an unbounded budget).
    """
    sweeps: dict[tuple[str, str, str], list[tuple[float, Evidence]]] = {}
    for (part, attack, eps, aug), ev in evidence.items():
        if eps is not None:
            sweeps.setdefault((part, attack, aug), []).append((eps, ev))
    flags: dict[Key, list[Flag]] = {key: _own_flags(ev) for key, ev in evidence.items()}
    for (part, attack, aug), sweep in sweeps.items():
        for eps, falls in _not_monotone(sweep).items():
            flags[(part, attack, eps, aug)].append(falls)
    for key, ev in evidence.items():
        missed = _unbounded(key, ev, [o for _, o in sweeps.get((key[0], key[1], key[3]), [])], classification)
        if missed is not None:
            flags[key].append(missed)
    for key, found in flags.items():
        if key[0] != classification:
            found[:] = [Flag(f.code, f.message + AUXILIARY_CAVEAT) if f.code in AUXILIARY_CAVEATED else f
                        for f in found]
    order = list(CODES)
    return {key: sorted(found, key=lambda f: order.index(f.code)) for key, found in flags.items()}


def with_mark(text: str, mark: str) -> str:
    """A table cell with its flag mark (``1,2``, from ``fgav.auditing.result.flag_footnotes``) appended."""
    return f"{text} [{mark}]" if mark else text


__all__ = ["AUXILIARY_CAVEAT", "AUXILIARY_CAVEATED", "BREAK_POINT_ALIGNMENT", "CODES", "INCOMPLETE_RISE",
           "INCOMPLETE_SHARE", "INCOMPLETE_WINDOW", "NOT_MONOTONE_SHARE", "UNBOUNDED_SHARE", "UNSTABLE_SHARE",
           "ZERO_GRADIENT_SHARE", "AttackRecord", "Evidence", "Flag", "UNBOUNDED", "Key", "break_point_alignment",
           "budget_is_epsilon", "is_iterative_linf", "judge", "still_rising", "unbounded_budget", "uses_gradients",
           "with_mark", "zero_gradient_samples"]
