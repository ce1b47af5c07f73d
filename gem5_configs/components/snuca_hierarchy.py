"""The S-NUCA Ruby hierarchy: MESI_Two_Level with the LLC banks spread over the tiles of a 3D-mesh Garnet NoC.

Written against the gem5 stdlib's MESI_Two_Level parts (``L1Cache``, ``L2Cache``, ``Directory``, as
``MESITwoLevelCacheHierarchy`` uses them) but with the project's network instead of the stdlib's all-to-all
``SimplePt2Pt``: each tile holds one private L1 controller and ``llc.banks_per_tile`` L2 banks; the L1s select the
bank from the address bits just above the line offset (``l2_select_num_bits = log2(banks)``: static line
interleaving, i.e. S-NUCA); the directories (one per memory channel) sit at the die edge of layer 0.

Sizes and latencies come from the system YAML: L1D = the core's private data capacity (``l1d_kib + l2_kib``:
MESI_Two_Level has one private level, so the private L2 is folded into it), L1I = ``l1i_kib``, an L2 bank =
``llc.bank_kib`` returning data after ``llc.bank_latency_cycles`` (``l2_response_latency``). Associativities
are not in the YAML; 8-way L1 and 16-way L2 banks follow the stdlib examples [inferred]. The L1D replaces LRU
(gem5's Ruby default is tree-PLRU): the trace-driven tiles' LLC traffic is a cyclic sweep over twice the private
capacity (``epoch.RESIDENT_OVER_PRIVATE``), which LRU always misses, so every request the trace counts as an LLC
access reaches the LLC.
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
from m5.objects import LRURP, RubyPortProxy, RubySequencer, RubySystem

from ailfm.errors import ConfigError
from ailfm.gem5_configs.topologies.garnet_mesh3d import Mesh3DGarnetNetwork
from ailfm.gem5_configs.topologies.mesh3d import build_mesh3d, ruby_llc
from ailfm.plugins.system.description import SystemDescription

MESI_TWO_LEVEL_VNETS = 3  # request, response, unblock (MESI_Two_Level-*.sm)
L1_ASSOC, L2_ASSOC = 8, 16  # [inferred], see the module docstring


class SnucaCacheHierarchy(AbstractRubyCacheHierarchy):
    """Private L1 per tile, S-NUCA L2 banks per tile, directories at the edge, on the project's 3D mesh.

    ``tile_clock_domains`` (optional, one per tile) clock each tile's L1 controller and sequencer, for the stock
    gem5 DVFS baseline; by default they run on the board's (uncore) clock.
    """

    def __init__(self, system: SystemDescription, tile_clock_domains: list | None = None):
        super().__init__()
        from m5.defines import buildEnv

        system, self._banks_per_controller = ruby_llc(system, int(buildEnv.get("NUMBER_BITS_PER_SET", 64)))
        n_banks = system.n_banks
        if n_banks & (n_banks - 1):
            raise ConfigError("llc.banks_per_tile", f"MESI_Two_Level selects banks by address bits: {n_banks} "
                              "banks is not a power of two", path=system.path)
        self._system = system
        self._mesh = build_mesh3d(system)
        self._tile_clock_domains = tile_clock_domains

    @overrides(AbstractRubyCacheHierarchy)
    def incorporate_cache(self, board) -> None:
        requires(coherence_protocol_required=CoherenceProtocol.MESI_TWO_LEVEL)
        system, line = self._system, board.get_cache_line_size()
        if int(line) != system.llc.line_bytes:
            raise ConfigError("llc.line_bytes", f"the board's cache line is {line} bytes", path=system.path)
        core, llc = system.core, system.llc
        self.ruby_system = RubySystem()
        self.ruby_system.number_of_virtual_networks = MESI_TWO_LEVEL_VNETS
        self.ruby_system.network = Mesh3DGarnetNetwork(self.ruby_system, self._mesh, MESI_TWO_LEVEL_VNETS)
        network = self.ruby_system.network

        cores = board.get_processor().get_cores()
        if len(cores) != system.n_cores:
            raise ConfigError("geometry", f"{len(cores)} tile cores for {system.n_cores} tiles", path=system.path)
        self._l1_controllers = []
        for i, tile_core in enumerate(cores):
            clock = self._tile_clock_domains[i] if self._tile_clock_domains else board.get_clock_domain()
            l1 = L1Cache(_bytes(core.l1i_kib), L1_ASSOC, _bytes(core.l1d_kib + core.l2_kib), L1_ASSOC, network,
                         tile_core, system.n_banks, line, ISA.NULL, clock)
            l1.L1Dcache.replacement_policy = LRURP()  # a cyclic sweep over twice its capacity then always misses
            l1.sequencer = RubySequencer(version=i, dcache=l1.L1Dcache, clk_domain=l1.clk_domain)
            l1.ruby_system = self.ruby_system
            tile_core.connect_icache(l1.sequencer.in_ports)
            tile_core.connect_dcache(l1.sequencer.in_ports)
            tile_core.connect_walker_ports(l1.sequencer.in_ports, l1.sequencer.in_ports)
            tile_core.connect_interrupt()
            self._l1_controllers.append(l1)

        self._l2_controllers = []
        for _ in range(system.n_banks):
            bank = L2Cache(_bytes(llc.bank_kib), L2_ASSOC, network, system.n_banks, line)
            bank.l2_response_latency = int(round(llc.bank_latency_cycles))
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
        """Banks of the system description that each Ruby L2 controller holds (``mesh3d.ruby_llc``)."""
        return self._banks_per_controller

    def l2_caches(self) -> list:
        """The banks' ``RubyCache`` objects, bank order (their stats hold LLC hits and misses)."""
        return [bank.L2cache for bank in self._l2_controllers]

    def routers(self) -> list:
        return list(self.ruby_system.network.routers)


def _bytes(kib: float) -> str:
    """A gem5 memory size (gem5 parses only whole numbers: "32.0KiB" is an error)."""
    return f"{int(round(kib * 1024))}B"
