"""The 3D mesh NoC of a system description, as plain data: routers, directed links, weights and controller placement.

gem5 v24 has no 3D mesh topology, and Garnet's hard-coded XY routing is 2D only. Garnet's default routing
(``routing_algorithm = 0``, weight-based table routing) computes all-pairs shortest paths over the link *weights*
(``Topology.cc``) and, at each router, takes the candidate output link of lowest weight among those on a shortest
path (``RoutingUnit::lookupRoutingTable``). With weights X = 1, Y = 2, Z = 3 every minimal (Manhattan) route has the
same total weight and any detour costs at least 2 more, so the shortest paths are exactly the minimal routes, and the
lowest-weight choice at each hop moves along X first, then Y, then Z: deterministic dimension-order routing, which is
deadlock-free on a mesh. This module builds that description without gem5 (and emulates the table routing, so tests
can check the routes); ``garnet_mesh3d`` turns it into Garnet objects inside gem5.

Router ``i`` sits in tile ``i = layer * tiles_per_layer + y * tiles_x + x`` (``Geometry.tile_coordinates``). Planar
links take ``noc.link_latency_cycles``, vertical (TSV) links ``noc.tsv_latency_cycles``, every router
``noc.router_latency_cycles``; Garnet needs at least one cycle per link, so a 0-cycle latency is raised to 1 (and
recorded in ``latency_floor_applied``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path

from ailfm.errors import ConfigError
from ailfm.plugins.system.description import SystemDescription
from ailfm.plugins.system.nuca import memory_controller_tiles

#: (axis, step) -> (output port at the source, input port at the destination, Garnet link weight)
PORTS = {
    (0, +1): ("East", "West", 1), (0, -1): ("West", "East", 1),
    (1, +1): ("North", "South", 2), (1, -1): ("South", "North", 2),
    (2, +1): ("Up", "Down", 3), (2, -1): ("Down", "Up", 3),
}
#: Ruby's controller sets (``NetDest``) hold at most this many controllers of one type unless gem5 is built with a
#: larger ``NUMBER_BITS_PER_SET`` (gem5 v24 default 64, ``src/mem/ruby/Kconfig``); more is fatal at start-up.
RUBY_SET_BITS = 64
#: Garnet's smallest link latency, in cycles (``BasicLink.latency`` feeds a ``Cycles`` delay that must be positive).
MIN_LINK_CYCLES = 1


@dataclass(frozen=True)
class MeshLink:
    """One directed router-to-router link (a Garnet ``GarnetIntLink``)."""

    link_id: int
    src: int
    dst: int
    src_outport: str
    dst_inport: str
    latency_cycles: int
    weight: int
    axis: int  # 0 = X, 1 = Y, 2 = Z (vertical, TSV)


@dataclass(frozen=True, eq=False)
class Mesh3D:
    """A 3D mesh of ``layers`` x ``tiles_y`` x ``tiles_x`` routers and where each Ruby controller attaches.

    Attributes
    ----------
    coordinates : (n_routers, 3) int array of (x, y, layer) per router.
    links : directed internal links, ids ``0 .. len(links) - 1``.
    l1_router : router of each tile's L1 controller (tile ``i`` -> router ``i``).
    bank_router : router of each LLC bank (``banks_per_tile`` consecutive banks per tile).
    directory_router : router of each memory controller / directory (die edge of layer 0, as the built-in model).
    """

    tiles_x: int
    tiles_y: int
    layers: int
    router_latency_cycles: int
    ext_link_latency_cycles: int
    link_width_bits: int
    frequency_GHz: float
    coordinates: np.ndarray
    links: tuple[MeshLink, ...]
    l1_router: np.ndarray
    bank_router: np.ndarray
    directory_router: np.ndarray
    latency_floor_applied: bool

    @property
    def n_routers(self) -> int:
        return len(self.coordinates)

    @property
    def flit_bytes(self) -> int:
        """Garnet's ``ni_flit_size``: one flit is one link width."""
        return self.link_width_bits // 8

    def degree(self) -> np.ndarray:
        """Outgoing internal links per router (3 at a corner of a 2D layer, up to 6 inside a 3D mesh)."""
        return np.bincount([link.src for link in self.links], minlength=self.n_routers)

    def weight_matrix(self) -> np.ndarray:
        """(n, n) link weight between neighbouring routers, 0 elsewhere (Garnet's topology weights)."""
        weights = np.zeros((self.n_routers, self.n_routers))
        for link in self.links:
            weights[link.src, link.dst] = link.weight
        return weights

    @cached_property
    def _routing_tables(self) -> tuple[np.ndarray, dict[int, list[MeshLink]]]:
        """All-pairs minimum path weights (Garnet's ``shortest_path`` over link weights) and links by source."""
        distance = shortest_path(csr_matrix(self.weight_matrix()), directed=True)
        out_links: dict[int, list[MeshLink]] = {}
        for link in self.links:
            out_links.setdefault(link.src, []).append(link)
        return distance, out_links

    def route(self, src: int, dst: int) -> list[int]:
        """Routers visited from ``src`` to ``dst`` under Garnet's weight-based table routing (emulated)."""
        distance, out_links = self._routing_tables
        path = [src]
        here = src
        while here != dst:
            # candidates: links on a minimum-weight path to dst; Garnet takes the lowest-weight one
            on_path = [link for link in out_links[here]
                       if np.isclose(link.weight + distance[link.dst, dst], distance[here, dst])]
            lightest = min(link.weight for link in on_path)
            chosen = [link for link in on_path if link.weight == lightest]
            if len(chosen) != 1:
                raise AssertionError(f"ambiguous route at router {here} towards {dst}: {chosen}")
            here = chosen[0].dst
            path.append(here)
        return path

    def route_latency_cycles(self, path: list[int]) -> int:
        """One-way network latency of a route: every router's pipeline plus every link traversed (no contention)."""
        by_pair = {(link.src, link.dst): link.latency_cycles for link in self.links}
        links = sum(by_pair[(a, b)] for a, b in zip(path[:-1], path[1:], strict=True))
        return len(path) * self.router_latency_cycles + links


def build_mesh3d(system: SystemDescription) -> Mesh3D:
    """The 3D mesh of ``system`` (geometry, ``noc`` latencies and width, banks per tile, memory controllers)."""
    g, noc = system.geometry, system.noc
    coordinates = g.tile_coordinates()
    strides = np.array([1, g.tiles_x, g.tiles_per_layer])
    extent = np.array([g.tiles_x, g.tiles_y, g.layers])
    planar = _cycles(noc.link_latency_cycles)
    vertical = _cycles(noc.tsv_latency_cycles)
    links = []
    for axis in range(3):
        for step in (+1, -1):
            outport, inport, weight = PORTS[(axis, step)]
            for src, xyz in enumerate(coordinates):
                if not 0 <= xyz[axis] + step < extent[axis]:
                    continue
                dst = src + step * int(strides[axis])
                links.append(MeshLink(len(links), src, dst, outport, inport,
                                      vertical if axis == 2 else planar, weight, axis))
    mc = memory_controller_tiles(system)
    return Mesh3D(
        tiles_x=g.tiles_x, tiles_y=g.tiles_y, layers=g.layers,
        router_latency_cycles=_cycles(noc.router_latency_cycles),
        ext_link_latency_cycles=MIN_LINK_CYCLES, link_width_bits=noc.link_width_bits,
        frequency_GHz=noc.frequency_GHz, coordinates=coordinates, links=tuple(links),
        l1_router=np.arange(g.n_tiles),
        bank_router=np.repeat(np.arange(g.n_tiles), system.llc.banks_per_tile),
        directory_router=mc @ strides,
        latency_floor_applied=min(noc.link_latency_cycles, noc.tsv_latency_cycles, noc.router_latency_cycles)
        < MIN_LINK_CYCLES or any(v != int(v) for v in (noc.link_latency_cycles, noc.tsv_latency_cycles,
                                                         noc.router_latency_cycles)))


def _cycles(value: float) -> int:
    return max(MIN_LINK_CYCLES, int(round(value)))


def ruby_llc(system: SystemDescription, max_controllers: int = RUBY_SET_BITS) -> tuple[SystemDescription, int]:
    """The description gem5's Ruby builds its LLC from, and how many of the system's banks each L2 controller holds.

    A Ruby build holds at most ``max_controllers`` controllers of one type (``RUBY_SET_BITS``). When the system has
    more banks than that, each tile's ``llc.banks_per_tile`` banks become one L2 controller of their total size:
    the same capacity, bank latency and tile, still statically line-interleaved over the tiles (line ``a`` lives on
    tile ``a mod n_tiles`` instead of ``(a mod n_banks) // banks_per_tile``); the bank-level parallelism within a
    tile is what is lost. Per-bank counters are then split evenly over the tile's banks for the power model.
    """
    if system.n_cores > max_controllers:
        raise ConfigError("geometry", f"{system.n_cores} tiles: this gem5 build holds at most {max_controllers} L1 "
                          "controllers (rebuild gem5 with a larger NUMBER_BITS_PER_SET)", path=system.path)
    if system.n_banks <= max_controllers:
        return system, 1
    per_tile = system.llc.banks_per_tile
    llc = dataclasses.replace(system.llc, banks_per_tile=1, bank_kib=system.llc.bank_kib * per_tile)
    return dataclasses.replace(system, llc=llc), per_tile
