"""The fine-grained audit: any Foolbox attack aimed at any part, with and without SFA.

``fgav.audit(model, data, heads=..., attacks=..., eps=..., augmenters=..., limit=...)``
returns an :class:`AuditResult`; ``fgav audit`` is the same on the command line.
"""

from __future__ import annotations

from fgav.auditing.run import AuditResult, audit, check_images

__all__ = ["AuditResult", "audit", "check_images"]
