"""The gem5 components' plain parameters from an ailfm system description (what ``run_ailfm.py`` and
``calibrate_nuca.py`` build their board from; no ``m5``).

The one place where the system YAML's fields become the components' numbers: the mesh (``geometry``, ``noc``,
``llc.banks_per_tile``, the memory controllers at the die edge of layer 0, as the built-in NUCA model places them),
the caches (L1D = the core's private data capacity ``l1d_kib + l2_kib``: MESI_Two_Level has one private level, so
the private L2 is folded into it; L1I = ``l1i_kib``; a bank = ``llc.bank_kib`` answering after
``llc.bank_latency_cycles``) and the memory channels (``memory.*``).
"""

from __future__ import annotations

from ailfm.errors import ConfigError
from ailfm.gem5_configs.params import EdgeMemoryParams, SnucaCacheParams
from ailfm.gem5_configs.topologies.mesh3d import Mesh3D, mesh3d
from ailfm.plugins.system.description import SystemDescription
from ailfm.plugins.system.nuca import memory_controller_tiles


def mesh_of(system: SystemDescription) -> Mesh3D:
    """The 3D mesh of ``system`` (geometry, ``noc`` latencies and width, banks per tile, memory controllers)."""
    g, noc = system.geometry, system.noc
    return mesh3d(g.tiles_x, g.tiles_y, g.layers, directory_tiles=memory_controller_tiles(system),
                  banks_per_tile=system.llc.banks_per_tile, router_latency_cycles=noc.router_latency_cycles,
                  link_latency_cycles=noc.link_latency_cycles, tsv_latency_cycles=noc.tsv_latency_cycles,
                  link_width_bits=noc.link_width_bits, frequency_GHz=noc.frequency_GHz)


def cache_params_of(system: SystemDescription) -> SnucaCacheParams:
    """The S-NUCA hierarchy of ``system``; a value gem5 cannot build is a ConfigError naming the system file."""
    core, llc = system.core, system.llc
    try:
        return SnucaCacheParams(tiles=system.n_cores, l1i_bytes=_bytes(core.l1i_kib),
                                l1d_bytes=_bytes(core.l1d_kib + core.l2_kib), bank_bytes=_bytes(llc.bank_kib),
                                banks_per_tile=llc.banks_per_tile,
                                bank_latency_cycles=int(round(llc.bank_latency_cycles)), line_bytes=llc.line_bytes)
    except ConfigError as err:
        raise ConfigError(f"gem5 cache hierarchy: {err.field}", err.reason, path=system.path) from None


def memory_params_of(system: SystemDescription) -> EdgeMemoryParams:
    """The memory channels of ``system`` (``memory.controllers``, ``latency_ns``, ``bandwidth_GBps_per_controller``)."""
    memory = system.memory
    try:
        return EdgeMemoryParams(channels=memory.controllers, latency_ns=memory.latency_ns,
                                bandwidth_GBps=memory.bandwidth_GBps_per_controller, line_bytes=system.llc.line_bytes)
    except ConfigError as err:
        raise ConfigError(f"gem5 memory: {err.field}", err.reason, path=system.path) from None


def _bytes(kib: float) -> int:
    """Whole bytes (gem5 parses only whole numbers as memory sizes: "32.0KiB" is an error)."""
    return int(round(kib * 1024))
