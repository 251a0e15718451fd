"""``fgav data``: generate, check and describe face anti-spoofing data sets."""

from __future__ import annotations

import click


@click.group()
def data() -> None:
    """Generate SynthSpoof, check and describe data sets."""
