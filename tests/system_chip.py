"""The project's chip as the floorplan generator sees it: a system description's stack, varied field by field.

``ChipStack`` has no defaults; tests start from the stack ``ailfm simulate`` and ``ailfm demo`` solve.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache

from ailfm.plugins.epoch.chip_thermal import chip_stack
from ailfm.plugins.system.description import load_system
from ailfm.thermal.floorplan_gen import ChipStack


@lru_cache(maxsize=4)
def _stack(system: str) -> ChipStack:
    return chip_stack(load_system(system))


def system_chip(system: str = "snuca-64", **changes) -> ChipStack:
    """The stack of ``system`` (a shipped name) with ``changes`` to its fields."""
    return dataclasses.replace(_stack(system), **changes)
