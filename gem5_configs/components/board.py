"""The AILFM board: trace-driven tiles, the S-NUCA Ruby hierarchy and edge memory on gem5's ``TestBoard`` (gem5 only).

Built in gem5's fixed wiring order by the stdlib board (memory, then caches, then processor). The board clock is the
uncore clock (``noc.frequency_GHz``): routers, links, L2 banks and directories run on it. Each tile's generators and
sequencer run in the tile's own clock and voltage domain over the system's V/f table (``clock_domains.py``), in
every DVFS mode: at f_max with ``--dvfs rate``, following the governor through the board's ``DVFSHandler`` with
``--dvfs domains``. Its L1 controller runs at the tile's f_max in every mode: Ruby cannot retime a controller while
requests are in flight (``snuca_hierarchy.fixed_clock``).
"""

from __future__ import annotations

from gem5.components.boards.test_board import TestBoard
from m5.objects import DVFSHandler, SrcClockDomain, VoltageDomain

from ailfm.errors import ToolError
from ailfm.gem5_configs.clock_domains import ClockDomainSpec, tile_domain_specs
from ailfm.gem5_configs.components.edge_memory import EdgeMemory
from ailfm.gem5_configs.components.snuca_hierarchy import SnucaCacheHierarchy
from ailfm.gem5_configs.components.trace_tiles import TraceTileProcessor
from ailfm.gem5_configs.epoch import TileQueues
from ailfm.gem5_configs.system_params import cache_params_of, memory_params_of, mesh_of
from ailfm.plugins.system.description import SystemDescription

HOOK = "gem5_configs/hooks/dvfs-python-setter.patch"


def tile_clock_domains(specs: list[ClockDomainSpec]) -> list[SrcClockDomain]:
    """A ``SrcClockDomain`` (own ``VoltageDomain``) per tile holding the whole V/f table, starting at level 0."""
    return [SrcClockDomain(clock=[f"{f}GHz" for f in spec.clocks_GHz], domain_id=spec.domain_id,
                           voltage_domain=VoltageDomain(voltage=[f"{v}V" for v in spec.voltages_V]))
            for spec in specs]


def has_dvfs_hook() -> bool:
    """Whether this gem5 was built with ``HOOK`` (``DVFSHandler.setPerfLevel`` callable from Python)."""
    return any(getattr(export, "name", None) == "setPerfLevel" for export in DVFSHandler.cxx_exports)


class SnucaBoard(TestBoard):
    """The whole system of a description (``memory_bytes`` of memory); ``queues`` feed the tiles' generators epoch
    by epoch; ``follow_governor`` hands the tiles' domains to the ``DVFSHandler`` (``--dvfs domains``)."""

    def __init__(self, system: SystemDescription, memory_bytes: int, queues: TileQueues,
                 follow_governor: bool = False):
        if follow_governor and not has_dvfs_hook():
            raise ToolError(f"--dvfs domains needs gem5 built with {HOOK} (DVFSHandler.setPerfLevel); apply it and "
                            "rebuild as docs/gem5.md, 'Building gem5', says, or use --dvfs rate")
        domains = tile_clock_domains(tile_domain_specs(system))
        hierarchy = SnucaCacheHierarchy(cache_params_of(system), mesh_of(system), tile_clock_domains=domains)
        super().__init__(clk_freq=f"{system.noc.frequency_GHz}GHz",
                         generator=TraceTileProcessor(system.n_cores, queues),
                         memory=EdgeMemory(memory_params_of(system), memory_bytes), cache_hierarchy=hierarchy)
        self.tile_clk_domains = domains
        for core, domain in zip(self.get_processor().get_cores(), domains, strict=True):
            core.resident.clk_domain = core.streamed.clk_domain = domain  # the tile's core: its generators
        if follow_governor:
            self.dvfs_handler.domains = domains
            self.dvfs_handler.enable = True
            self.dvfs_handler.transition_latency = f"{system.dvfs.transition_latency_s * 1e9}ns"
