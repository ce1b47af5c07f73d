"""``ailfm`` subcommands of the thermal subsystem."""

from __future__ import annotations


def add_subcommands(subparsers) -> None:
    """Register the thermal subcommands (the demo is added once the solver lands)."""
