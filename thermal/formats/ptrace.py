"""HotSpot power traces (``.ptrace``): unit names, then one row of powers (W) per sampling interval.

Row ``k`` holds the power dissipated from ``k * sampling_intvl`` to ``(k + 1) * sampling_intvl``
(HotSpot issue #1). Columns may come in any order; HotSpot maps them to floorplan units by name
and stops with "no. of units in floorplan and trace file differ" when the sets differ in size.
In grid mode with an LCF the names must cover every unit of every power-dissipating layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ailfm.errors import FormatError
from ailfm.thermal.formats._trace import check_table, read_table, write_table


@dataclass(frozen=True, eq=False)
class PowerTrace:
    """Power of each unit (columns, ``names``) in each sampling interval (rows), in W; read-only."""

    names: tuple[str, ...]
    power_W: np.ndarray

    def __post_init__(self) -> None:
        names, power = check_table(self.names, self.power_W, "power")
        if not np.all(np.isfinite(power)) or np.any(power < 0):
            raise ValueError("power must be finite and >= 0")
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "power_W", power)

    @property
    def n_rows(self) -> int:
        return self.power_W.shape[0]

    def reordered(self, names: Sequence[str]) -> PowerTrace:
        """The same trace with columns in the order of ``names`` (the same set of units)."""
        if sorted(names) != sorted(self.names):
            raise ValueError(_mismatch(self.names, names))
        index = {name: k for k, name in enumerate(self.names)}
        return PowerTrace(tuple(names), self.power_W[:, [index[n] for n in names]])


def _mismatch(found: Sequence[str], expected: Sequence[str]) -> str:
    missing = [n for n in expected if n not in set(found)]
    extra = [n for n in found if n not in set(expected)]
    parts = [f"no. of units in floorplan ({len(expected)}) and trace file ({len(found)}) differ"
             if len(found) != len(expected) else "units of floorplan and trace file differ"]
    if missing:
        parts.append(f"missing from the trace: {', '.join(missing[:10])}" + (" ..." if len(missing) > 10 else ""))
    if extra:
        parts.append(f"not in the floorplan: {', '.join(extra[:10])}" + (" ..." if len(extra) > 10 else ""))
    return "; ".join(parts)


def read_ptrace(path: Path | str, expected_names: Sequence[str] | None = None) -> PowerTrace:
    """Read a power trace; with ``expected_names``, check the columns are exactly those units and
    return them in that order. Negative, NaN or infinite power and ragged rows are errors."""
    names, power = read_table(path, "power", minimum=0.0, strictly_above=False)
    trace = PowerTrace(names, power)
    if expected_names is None:
        return trace
    if sorted(expected_names) != sorted(names):
        raise FormatError(path, 1, _mismatch(names, list(expected_names)))
    return trace.reordered(expected_names)


def write_ptrace(path: Path | str, trace: PowerTrace) -> None:
    """Write ``trace`` tab-separated, each power with the shortest exact decimal."""
    write_table(path, trace.names, trace.power_W, "%r")
