"""The S-NUCA Ruby hierarchy: MESI_Two_Level with the LLC banks spread over the tiles of a 3D-mesh Garnet NoC.

Written against the gem5 stdlib's MESI_Two_Level parts (``L1Cache``, ``L2Cache``, ``Directory``, as
``MESITwoLevelCacheHierarchy`` uses them) but with the project's network instead of the stdlib's all-to-all
``SimplePt2Pt``: each tile holds one private L1 controller and ``banks_per_tile`` L2 banks; the L1s select the
bank from the address bits just above the line offset (``l2_select_num_bits = log2(banks)``: static line
interleaving, i.e. S-NUCA); the directories (one per memory port of the board) sit where the mesh puts them.

It takes plain parameters, so a gem5 config of your own can use it (``examples/user_config.py``)::

    mesh = mesh3d(2, 2, 2, directory_tiles=[(0, 0, 0), (1, 1, 0)], banks_per_tile=2)
    cache = SnucaCacheParams(tiles=8, l1i_bytes=16384, l1d_bytes=32768, bank_bytes=65536, banks_per_tile=2)
    board = TestBoard(..., cache_hierarchy=SnucaCacheHierarchy(cache, mesh))

(``system_params`` derives both from an ailfm system description.) The L1D replaces LRU (gem5's Ruby default is
tree-PLRU): the project's trace-driven tiles sweep their LLC-resident data cyclically over twice the private capacity
(``epoch.RESIDENT_OVER_PRIVATE``), which LRU always misses, so every request the trace counts as an LLC access
reaches the LLC.
"""

from __future__ import annotations

from gem5.coherence_protocol import CoherenceProtocol
from gem5.components.cachehierarchies.ruby.abstract_ruby_cache_hierarchy import AbstractRubyCacheHierarchy
from gem5.components.cachehierarchies.ruby.caches.mesi_two_level.directory import Directory
from gem5.components.cachehierarchies.ruby.caches.mesi_two_level.l1_cache import L1Cache
from gem5.components.cachehierarchies.ruby.caches.mesi_two_level.l2_cache import L2Cache
from gem5.isas import ISA
from gem5.utils.override import overrides
from gem5.utils.requires import requires
from m5.objects import LRURP, RubyPortProxy, RubySequencer, RubySystem, SrcClockDomain, VoltageDomain

from ailfm.errors import ConfigError
from ailfm.gem5_configs.params import RUBY_SET_BITS, SnucaCacheParams
from ailfm.gem5_configs.topologies.garnet_mesh3d import Mesh3DGarnetNetwork
from ailfm.gem5_configs.topologies.mesh3d import Mesh3D

MESI_TWO_LEVEL_VNETS = 3  # request, response, unblock (MESI_Two_Level-*.sm)


def fixed_clock(domain):
    """The clock a tile's L1 controller runs on: ``domain`` if it has one level, else a fixed domain at its fastest.

    Ruby's controllers are ``Consumer``s whose wake-ups sit on their own clock's edges (``Consumer.cc`` asserts it),
    so a domain that changes level while requests are in flight aborts gem5 (seen on snuca-64 at the first
    ``--dvfs domains`` change). The controller therefore keeps the tile's f_max; the tile's sequencer and
    generators, which are not ``Consumer``s, follow the tile's domain.
    """
    clocks = list(domain.clock) if isinstance(domain, SrcClockDomain) else []
    if len(clocks) <= 1:
        return domain
    return SrcClockDomain(clock=clocks[0], voltage_domain=VoltageDomain(voltage=list(domain.voltage_domain.voltage)[0]))


class SnucaCacheHierarchy(AbstractRubyCacheHierarchy):
    """Private L1 per tile, S-NUCA L2 banks per tile, directories where ``mesh`` places them, on the 3D mesh.

    ``tile_clock_domains`` (optional, one ``SrcClockDomain`` per tile) clock each tile's sequencer with the tile's
    core, as the AILFM board does, and its L1 controller at the domain's fastest level (``fixed_clock``); by default
    both run on the board's clock.
    """

    def __init__(self, cache: SnucaCacheParams, mesh: Mesh3D, tile_clock_domains: list | None = None):
        super().__init__()
        from m5.defines import buildEnv

        if (mesh.n_routers, len(mesh.bank_router)) != (cache.tiles, cache.n_banks):
            raise ConfigError("mesh", f"{mesh.n_routers} tiles and {len(mesh.bank_router)} banks for a hierarchy "
                              f"of {cache.tiles} tiles and {cache.n_banks} banks")
        self._cache, self._banks_per_controller = cache.for_ruby(int(buildEnv.get("NUMBER_BITS_PER_SET",
                                                                                  RUBY_SET_BITS)))
        self._mesh = mesh if self._banks_per_controller == 1 else mesh.with_banks_per_tile(1)
        self._tile_clock_domains = tile_clock_domains

    @overrides(AbstractRubyCacheHierarchy)
    def incorporate_cache(self, board) -> None:
        requires(coherence_protocol_required=CoherenceProtocol.MESI_TWO_LEVEL)
        cache, line = self._cache, board.get_cache_line_size()
        if int(line) != cache.line_bytes:
            raise ConfigError("line_bytes", f"{cache.line_bytes}, but the board's cache line is {line} bytes")
        self.ruby_system = RubySystem()
        self.ruby_system.number_of_virtual_networks = MESI_TWO_LEVEL_VNETS
        self.ruby_system.network = Mesh3DGarnetNetwork(self.ruby_system, self._mesh, MESI_TWO_LEVEL_VNETS)
        network = self.ruby_system.network

        cores = board.get_processor().get_cores()
        if len(cores) != cache.tiles:
            raise ConfigError("tiles", f"{len(cores)} cores in the board's processor for {cache.tiles} tiles")
        self._l1_controllers = []
        for i, tile_core in enumerate(cores):
            tile_clock = self._tile_clock_domains[i] if self._tile_clock_domains else board.get_clock_domain()
            l1 = L1Cache(f"{cache.l1i_bytes}B", cache.l1_assoc, f"{cache.l1d_bytes}B", cache.l1_assoc, network,
                         tile_core, cache.n_banks, line, ISA.NULL, fixed_clock(tile_clock))
            l1.L1Dcache.replacement_policy = LRURP()  # a cyclic sweep over twice its capacity then always misses
            l1.sequencer = RubySequencer(version=i, dcache=l1.L1Dcache, clk_domain=tile_clock)
            l1.ruby_system = self.ruby_system
            tile_core.connect_icache(l1.sequencer.in_ports)
            tile_core.connect_dcache(l1.sequencer.in_ports)
            tile_core.connect_walker_ports(l1.sequencer.in_ports, l1.sequencer.in_ports)
            tile_core.connect_interrupt()
            self._l1_controllers.append(l1)

        self._l2_controllers = []
        for _ in range(cache.n_banks):
            bank = L2Cache(f"{cache.bank_bytes}B", cache.l2_assoc, network, cache.n_banks, line)
            bank.l2_response_latency = cache.bank_latency_cycles
            bank.ruby_system = self.ruby_system
            self._l2_controllers.append(bank)

        self._directory_controllers = []
        for mem_range, port in board.get_mem_ports():
            directory = Directory(network, line, mem_range, port)
            directory.ruby_system = self.ruby_system
            self._directory_controllers.append(directory)

        self.ruby_system.num_of_sequencers = len(self._l1_controllers)
        self.ruby_system.l1_controllers = self._l1_controllers
        self.ruby_system.l2_controllers = self._l2_controllers
        self.ruby_system.directory_controllers = self._directory_controllers
        network.connect_controllers(self._l1_controllers, self._l2_controllers, self._directory_controllers)

        self.ruby_system.sys_port_proxy = RubyPortProxy()
        board.connect_system_port(self.ruby_system.sys_port_proxy.in_ports)

    def banks_per_controller(self) -> int:
        """Banks of the parameters that each Ruby L2 controller holds (``SnucaCacheParams.for_ruby``)."""
        return self._banks_per_controller

    def l2_caches(self) -> list:
        """The banks' ``RubyCache`` objects, bank order (their stats hold LLC hits and misses)."""
        return [bank.L2cache for bank in self._l2_controllers]

    def routers(self) -> list:
        return list(self.ruby_system.network.routers)
