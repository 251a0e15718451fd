"""fgav: the fine-grained adversarial vulnerability of face anti-spoofing models.

Any Foolbox attack aimed at any part of a multitask face anti-spoofing model (the
live/spoof decision, facial attributes, spoof type, illumination, depth map,
reflection map), with or without Semantic Feature Augmentation (SFA).
"""

from __future__ import annotations

import os

# Foolbox imports GitPython, which refuses to import where git is missing unless told
# to stay quiet; fgav must work on such machines.
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

from fgav.core.version import __version__  # noqa: E402
from fgav.core.errors import FgavError  # noqa: E402
from fgav.core.hookspecs import hookimpl  # noqa: E402
from fgav.core.interfaces import AuxHead, Augmenter, Backbone  # noqa: E402
from fgav.registry import (  # noqa: E402
    create_attack,
    create_augmenter,
    create_backbone,
    create_head,
    get_attack,
    get_augmenter,
    get_backbone,
    get_head,
    list_attacks,
    list_augmenters,
    list_backbones,
    list_heads,
)
from fgav.core.model import MultiTaskModel  # noqa: E402
from fgav.factory import build_model, load_model  # noqa: E402
from fgav.core.aiming import foolbox_model  # noqa: E402
from fgav.auditing import AuditResult, audit  # noqa: E402
from fgav.hardening import harden  # noqa: E402

__all__ = [
    "__version__",
    "AuditResult",
    "AuxHead",
    "Augmenter",
    "Backbone",
    "FgavError",
    "MultiTaskModel",
    "audit",
    "build_model",
    "create_attack",
    "create_augmenter",
    "create_backbone",
    "create_head",
    "foolbox_model",
    "get_attack",
    "get_augmenter",
    "get_backbone",
    "get_head",
    "harden",
    "hookimpl",
    "list_attacks",
    "list_augmenters",
    "list_backbones",
    "list_heads",
    "load_model",
]
