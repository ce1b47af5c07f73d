"""The tiles' gem5 clock and voltage domains, and the governor's frequencies as their performance levels (plain Python).

Every tile of the AILFM board has its own ``SrcClockDomain`` holding the system's whole V/f table (fastest first:
gem5's performance level 0) with its own ``VoltageDomain``; the tile's L1 controller and sequencer run in it, in
every DVFS mode (``components/board.py``). What differs between the modes is whether the level moves:

* ``rate``: the domains stay at level 0 (f_max); the governor's V/f acts only through the interval model, whose busy
  time, and hence the tile's request rate, scales with f.
* ``domains``: as in ``rate``, and also the domains follow the frequency each tile runs at (the governor's request
  after DTM, ``Gem5Engine.actuate``): each sub-step the tiles whose level changes get a
  ``DVFSHandler.setPerfLevel(domain_id, level)`` call, which gem5 carries out ``dvfs.transition_latency_s`` later
  (``DVFSHandler::perfLevel``; Python reaches it through ``hooks/dvfs-python-setter.patch``). A clock-gated tile
  (f = 0) sends nothing and holds the lowest level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ailfm.plugins.system.description import SystemDescription

#: ``run_ailfm.py --dvfs`` modes and what each is (``dvfs`` and ``dvfs_mechanism`` in ``summary.json``)
DVFS_MECHANISMS = {
    "rate": "request-rate scaling by the interval model; tile clock domains (L1s) held at f_max",
    "domains": "request-rate scaling, and each tile's gem5 SrcClockDomain/VoltageDomain (L1s) set to the tile's "
               "frequency through the DVFSHandler with the system's transition latency",
}
DVFS_MODES = tuple(DVFS_MECHANISMS)


@dataclass(frozen=True)
class ClockDomainSpec:
    """One tile's gem5 domains: ``SrcClockDomain(clock=clocks, domain_id)`` and its ``VoltageDomain``'s voltages."""

    domain_id: int
    clocks_GHz: tuple[float, ...]  # fastest first (gem5's performance level 0)
    voltages_V: tuple[float, ...]


def tile_domain_specs(system: SystemDescription) -> list[ClockDomainSpec]:
    """One domain per tile over the system's V/f table, domain id = tile index."""
    levels = system.dvfs.levels_GHz[::-1]  # gem5: level 0 is the fastest
    clocks = tuple(float(f) for f in levels)
    voltages = tuple(float(v) for v in system.dvfs.voltage_V(levels))
    return [ClockDomainSpec(tile, clocks, voltages) for tile in range(system.n_cores)]


def perf_levels(system: SystemDescription, f_GHz) -> np.ndarray:
    """gem5's performance level of each tile's frequency: the highest grid level not above it (0 = f_max); below
    f_min (0 for a clock-gated tile) the lowest level."""
    levels = system.dvfs.levels_GHz
    snapped = system.dvfs.snap_GHz(f_GHz)
    return (len(levels) - 1 - np.searchsorted(levels, snapped)).astype(np.int64)
