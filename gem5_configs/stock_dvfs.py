"""The stock gem5 DVFS baseline: a clock/voltage domain per tile at a static performance level (plain Python).

gem5 v24 changes a ``SrcClockDomain``'s level only from C++ (``DVFSHandler::perfLevel``, driven in full-system ARM
runs by the ``EnergyCtrl`` device and a guest cpufreq driver); SE and NULL-ISA runs have no governor and Python has
no setter after ``m5.instantiate()``. So "stock gem5 DVFS" here is what stock gem5 can do in this mode: every tile
gets its own ``SrcClockDomain`` holding the system's whole V/f table (descending, as gem5 wants) and its own
``VoltageDomain``, registered with the ``DVFSHandler``, and starts at a static level (``init_perf_level``) that
never changes. The tile's L1 controller runs in that domain; ``StaticDvfs`` keeps the co-simulation's view at the
same levels (the loop's DTM still throttles through rate scaling, since gem5's clock cannot follow it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ailfm.errors import ConfigError
from ailfm.plugins.governors.base import Decision, Governor, Observation
from ailfm.plugins.system.description import SystemDescription


@dataclass(frozen=True)
class ClockDomainSpec:
    """One tile's gem5 domains: ``SrcClockDomain(clock=clocks, domain_id, init_perf_level)`` and its voltages."""

    domain_id: int
    clocks_GHz: tuple[float, ...]  # fastest first (gem5's performance level 0)
    voltages_V: tuple[float, ...]
    init_perf_level: int

    @property
    def f_GHz(self) -> float:
        return self.clocks_GHz[self.init_perf_level]


def static_levels_GHz(system: SystemDescription, spec: str) -> np.ndarray:
    """Per-tile static frequency from ``max``, ``min``, one frequency in GHz, or one value per tile (comma list)."""
    dvfs, n = system.dvfs, system.n_cores
    if spec == "max":
        return np.full(n, dvfs.f_max_GHz)
    if spec == "min":
        return np.full(n, dvfs.f_min_GHz)
    try:
        values = np.array([float(v) for v in spec.split(",")])
    except ValueError as err:
        raise ConfigError("static-f-GHz", f"expected max, min, a frequency or {n} comma-separated ones, got {spec!r}"
                          ) from err
    if len(values) not in (1, n):
        raise ConfigError("static-f-GHz", f"expected 1 or {n} frequencies, got {len(values)}")
    if not np.all((values >= dvfs.f_min_GHz - 1e-9) & (values <= dvfs.f_max_GHz + 1e-9)):  # NaN too
        raise ConfigError("static-f-GHz", f"frequencies must lie in [{dvfs.f_min_GHz}, {dvfs.f_max_GHz}] GHz")
    return dvfs.snap_GHz(np.broadcast_to(values, (n,)).copy())


def clock_domain_specs(system: SystemDescription, f_GHz: np.ndarray) -> list[ClockDomainSpec]:
    """One domain per tile over the system's V/f table, each starting (and staying) at the level of ``f_GHz``."""
    levels = system.dvfs.levels_GHz[::-1]  # gem5: level 0 is the fastest
    clocks = tuple(float(f) for f in levels)
    voltages = tuple(float(v) for v in system.dvfs.voltage_V(levels))
    specs = []
    for tile, f in enumerate(np.asarray(f_GHz, dtype=float)):
        matches = np.flatnonzero(np.isclose(levels, f))
        if len(matches) != 1:
            raise ConfigError("static-f-GHz", f"tile {tile}: {f} GHz is not a level of the V/f table")
        specs.append(ClockDomainSpec(tile, clocks, voltages, int(matches[0])))
    return specs


class StaticDvfs(Governor):
    """Fixed per-core levels, no migration: the co-simulation's side of the stock gem5 DVFS baseline."""

    name = "gem5-static"
    source = "gem5 v24 src/sim/DVFSHandler.py, ClockDomain.py (init_perf_level); no run-time governor in SE mode"

    def __init__(self, f_GHz):
        self.f_GHz = np.asarray(f_GHz, dtype=float)

    def decide(self, obs: Observation) -> Decision:
        return Decision(f_GHz=self.f_GHz.copy())
