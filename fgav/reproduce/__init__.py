"""``fgav reproduce``: the paper's seven tables (Sec. 4) for your own models and data."""

from __future__ import annotations

from fgav.reproduce.study import reproduce
from fgav.reproduce.tables import ReproducedTable

__all__ = ["ReproducedTable", "reproduce"]
