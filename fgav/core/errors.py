"""The exceptions fgav raises for bad input: each carries a one-line message for users."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class FgavError(Exception):
    """A user-facing error: the CLI prints its message on one line, without a traceback."""


class UnknownComponentError(FgavError, KeyError):
    """A name that no registered component of that kind has."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        message = f"unknown {kind} {name!r}.{hint} Registered: {', '.join(known) or 'none'}."
        super().__init__(message)
        self.kind, self.name, self.known, self.close = kind, name, known, close

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class NameClashError(FgavError):
    """Two plugins register components of one kind under one name."""
