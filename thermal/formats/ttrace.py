"""HotSpot temperature traces (``-o`` output, ``.ttrace``): unit names, then one row per power row.

HotSpot writes the header with ``write_names`` and each row with ``write_vals``: tab-separated,
``%.2f``, in kelvin (the source comment says "degree C", but every value is absolute).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ailfm.thermal.formats._trace import check_table, read_table, write_table


@dataclass(frozen=True, eq=False)
class TemperatureTrace:
    """Temperature (K) of each unit (columns, ``names``) at the end of each sampling interval (rows)."""

    names: tuple[str, ...]
    temperatures_K: np.ndarray

    def __post_init__(self) -> None:
        names, temperatures = check_table(self.names, self.temperatures_K, "temperature")
        if not np.all(np.isfinite(temperatures)) or np.any(temperatures <= 0):
            raise ValueError("temperatures must be finite and > 0 K")
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "temperatures_K", temperatures)

    def column(self, name: str) -> np.ndarray:
        """The timeline of unit ``name`` (K)."""
        return self.temperatures_K[:, self.names.index(name)]

    def select(self, names: Sequence[str]) -> TemperatureTrace:
        """A trace of the given units only, in that order."""
        index = {name: k for k, name in enumerate(self.names)}
        missing = [n for n in names if n not in index]
        if missing:
            raise KeyError(f"units not in the trace: {', '.join(missing)}")
        return TemperatureTrace(tuple(names), self.temperatures_K[:, [index[n] for n in names]])


def read_ttrace(path: Path | str) -> TemperatureTrace:
    """Read a temperature trace; non-positive, NaN or infinite temperatures and ragged rows are errors."""
    names, temperatures = read_table(path, "temperature", minimum=0.0, strictly_above=True)
    return TemperatureTrace(names, temperatures)


def write_ttrace(path: Path | str, trace: TemperatureTrace) -> None:
    """Write ``trace`` exactly as HotSpot does: tab-separated, ``%.2f`` K."""
    write_table(path, trace.names, trace.temperatures_K, "%.2f")
