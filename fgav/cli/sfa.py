"""``fgav sfa``: train and show the Semantic Feature Augmentation module."""

from __future__ import annotations

import click


@click.group()
def sfa() -> None:
    """Train SFA against a target model and show its maps."""
