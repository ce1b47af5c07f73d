"""The AILFM board: trace-driven tiles, the S-NUCA Ruby hierarchy and edge memory on gem5's ``TestBoard`` (gem5 only).

Built in gem5's fixed wiring order by the stdlib board (memory, then caches, then processor). The board clock is the
uncore clock (``noc.frequency_GHz``): routers, links, L2 banks and directories run on it, and so do the L1s unless
the stock-DVFS baseline gives every tile its own clock and voltage domain (``tile_clock_domains``).
"""

from __future__ import annotations

from gem5.components.boards.test_board import TestBoard
from m5.objects import SrcClockDomain, VoltageDomain

from ailfm.gem5_configs.components.edge_memory import EdgeMemory
from ailfm.gem5_configs.components.snuca_hierarchy import SnucaCacheHierarchy
from ailfm.gem5_configs.components.trace_tiles import TraceTileProcessor
from ailfm.gem5_configs.epoch import TileQueues
from ailfm.gem5_configs.stock_dvfs import ClockDomainSpec
from ailfm.gem5_configs.system_params import cache_params_of, memory_params_of, mesh_of
from ailfm.plugins.system.description import SystemDescription


def tile_clock_domains(specs: list[ClockDomainSpec]) -> list[SrcClockDomain]:
    """A ``SrcClockDomain`` (own ``VoltageDomain``) per tile holding the whole V/f table at a static level."""
    return [SrcClockDomain(clock=[f"{f}GHz" for f in spec.clocks_GHz], domain_id=spec.domain_id,
                           init_perf_level=spec.init_perf_level,
                           voltage_domain=VoltageDomain(voltage=[f"{v}V" for v in spec.voltages_V]))
            for spec in specs]


class SnucaBoard(TestBoard):
    """The whole system of a description (``memory_bytes`` of memory); ``queues`` feed the tiles' generators epoch
    by epoch."""

    def __init__(self, system: SystemDescription, memory_bytes: int, queues: TileQueues,
                 dvfs_domains: list[ClockDomainSpec] | None = None):
        domains = tile_clock_domains(dvfs_domains) if dvfs_domains else None
        hierarchy = SnucaCacheHierarchy(cache_params_of(system), mesh_of(system), tile_clock_domains=domains)
        super().__init__(clk_freq=f"{system.noc.frequency_GHz}GHz",
                         generator=TraceTileProcessor(system.n_cores, queues),
                         memory=EdgeMemory(memory_params_of(system), memory_bytes), cache_hierarchy=hierarchy)
        if domains:
            self.tile_clk_domains = domains
            self.dvfs_handler.domains = domains
            self.dvfs_handler.enable = True
            self.dvfs_handler.transition_latency = f"{system.dvfs.transition_latency_s * 1e9}ns"
