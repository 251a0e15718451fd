"""SynthSpoof: fgav's embedded face anti-spoofing data set, rendered procedurally.

Faces drawn with numpy from a seed, presented live or through the ten spoof media of
CelebA-Spoof, under its four illuminations and two environments, written in
CelebA-Spoof's on-disk layout with every label's ground truth (see docs/synthspoof.md).

Example:
    >>> from fgav.data.synth import generate, render_sample
    >>> summary = generate("synth", n=1000, seed=0)  # doctest: +SKIP
    >>> sample = render_sample(0, size=64, spoof_type=8)  # a replay on a pad
"""

from __future__ import annotations

from fgav.data.synth.faces import Pose
from fgav.data.synth.identity import RENDERED_ATTRIBUTES, SAMPLED_ONLY_ATTRIBUTES, Subject, sample_subject
from fgav.data.synth.sample import DEFAULT_DIFFICULTY, SynthSample, render_sample
from fgav.data.synth.writer import SynthSummary, generate

__all__ = [
    "DEFAULT_DIFFICULTY",
    "RENDERED_ATTRIBUTES",
    "SAMPLED_ONLY_ATTRIBUTES",
    "Pose",
    "Subject",
    "SynthSample",
    "SynthSummary",
    "generate",
    "render_sample",
    "sample_subject",
]
