"""The 3D mesh NoC as plain data: routers, directed links, weights and controller placement (no ``m5``).

``mesh3d(tiles_x, tiles_y, layers, directory_tiles=..., ...)`` builds it from plain numbers, for a gem5 config of
your own; ``ailfm.gem5_configs.system_params.mesh_of`` builds it from an ailfm system description.

gem5 v24 has no 3D mesh topology, and Garnet's hard-coded XY routing is 2D only. Garnet's default routing
(``routing_algorithm = 0``, weight-based table routing) computes all-pairs shortest paths over the link *weights*
(``Topology.cc``) and, at each router, takes the candidate output link of lowest weight among those on a shortest
path (``RoutingUnit::lookupRoutingTable``). With weights X = 1, Y = 2, Z = 3 every minimal (Manhattan) route has the
same total weight and any detour costs at least 2 more, so the shortest paths are exactly the minimal routes, and the
lowest-weight choice at each hop moves along X first, then Y, then Z: deterministic dimension-order routing, which is
deadlock-free on a mesh. This module builds that description without gem5 (and emulates the table routing, so tests
can check the routes); ``garnet_mesh3d`` turns it into Garnet objects inside gem5.

Router ``i`` sits in tile ``i = layer * tiles_per_layer + y * tiles_x + x`` (``Geometry.tile_coordinates``). Planar
links take ``link_latency_cycles``, vertical (TSV) links ``tsv_latency_cycles``, every router
``router_latency_cycles``; Garnet needs at least one cycle per link, so a 0-cycle latency is raised to 1 (and
recorded in ``latency_floor_applied``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path

from ailfm.errors import ConfigError

#: (axis, step) -> (output port at the source, input port at the destination, Garnet link weight)
PORTS = {
    (0, +1): ("East", "West", 1), (0, -1): ("West", "East", 1),
    (1, +1): ("North", "South", 2), (1, -1): ("South", "North", 2),
    (2, +1): ("Up", "Down", 3), (2, -1): ("Down", "Up", 3),
}
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

    def with_banks_per_tile(self, banks_per_tile: int) -> Mesh3D:
        """The same mesh with ``banks_per_tile`` LLC banks on every tile (Ruby's merged banks: ``SnucaCacheParams
        .for_ruby``)."""
        return dataclasses.replace(self, bank_router=np.repeat(np.arange(self.n_routers), banks_per_tile))

    def route_latency_cycles(self, path: list[int]) -> int:
        """One-way network latency of a route: every router's pipeline plus every link traversed (no contention)."""
        by_pair = {(link.src, link.dst): link.latency_cycles for link in self.links}
        links = sum(by_pair[(a, b)] for a, b in zip(path[:-1], path[1:], strict=True))
        return len(path) * self.router_latency_cycles + links


def mesh3d(tiles_x: int, tiles_y: int, layers: int, *, directory_tiles, banks_per_tile: int = 1,
           router_latency_cycles: float = 1, link_latency_cycles: float = 1, tsv_latency_cycles: float = 1,
           link_width_bits: int = 128, frequency_GHz: float = 2.0) -> Mesh3D:
    """A ``tiles_x`` x ``tiles_y`` x ``layers`` mesh from plain numbers (what a gem5 config of your own passes).

    ``directory_tiles``: the (x, y, layer) of each memory channel's directory, one per channel in the order of the
    board's memory ports. Each tile holds one L1 controller and ``banks_per_tile`` LLC banks (banks ``k *
    banks_per_tile ...`` on tile ``k``). Latencies are in NoC cycles; ``link_width_bits`` is also the flit size.
    Bad values raise ``ConfigError`` naming the parameter.
    """
    for name, value in (("tiles_x", tiles_x), ("tiles_y", tiles_y), ("layers", layers),
                        ("banks_per_tile", banks_per_tile)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(name, f"must be a positive integer, got {value!r}")
    for name, value in (("router_latency_cycles", router_latency_cycles),
                        ("link_latency_cycles", link_latency_cycles), ("tsv_latency_cycles", tsv_latency_cycles)):
        if not (isinstance(value, (int, float, np.number)) and math.isfinite(value) and value >= 0):
            raise ConfigError(name, f"must be a finite number >= 0, got {value!r}")
    if isinstance(link_width_bits, bool) or not isinstance(link_width_bits, (int, np.integer)) \
            or link_width_bits < 8 or link_width_bits % 8:
        raise ConfigError("link_width_bits", f"must be a positive multiple of 8, got {link_width_bits!r}")
    if not (isinstance(frequency_GHz, (int, float, np.number)) and math.isfinite(frequency_GHz) and frequency_GHz > 0):
        raise ConfigError("frequency_GHz", f"must be a finite number > 0, got {frequency_GHz!r}")
    extent = np.array([tiles_x, tiles_y, layers])
    directories = np.asarray(directory_tiles)
    if directories.ndim != 2 or directories.shape[1] != 3 or len(directories) == 0 \
            or not np.issubdtype(directories.dtype, np.integer):
        raise ConfigError("directory_tiles", f"expected one (x, y, layer) per memory channel, got {directory_tiles!r}")
    outside = np.flatnonzero(np.any((directories < 0) | (directories >= extent), axis=1))
    if len(outside):
        raise ConfigError("directory_tiles", f"{tuple(directories[outside[0]])} lies outside the "
                          f"{tiles_x} x {tiles_y} x {layers} mesh")

    n_tiles = int(extent.prod())
    layer, rest = np.divmod(np.arange(n_tiles), tiles_x * tiles_y)
    y, x = np.divmod(rest, tiles_x)
    coordinates = np.stack([x, y, layer], axis=1)
    strides = np.array([1, tiles_x, tiles_x * tiles_y])
    planar, vertical = _cycles(link_latency_cycles), _cycles(tsv_latency_cycles)
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
    latencies = (link_latency_cycles, tsv_latency_cycles, router_latency_cycles)
    return Mesh3D(
        tiles_x=int(tiles_x), tiles_y=int(tiles_y), layers=int(layers),
        router_latency_cycles=_cycles(router_latency_cycles),
        ext_link_latency_cycles=MIN_LINK_CYCLES, link_width_bits=int(link_width_bits),
        frequency_GHz=float(frequency_GHz), coordinates=coordinates, links=tuple(links),
        l1_router=np.arange(n_tiles),
        bank_router=np.repeat(np.arange(n_tiles), banks_per_tile),
        directory_router=directories @ strides,
        latency_floor_applied=min(latencies) < MIN_LINK_CYCLES or any(v != int(v) for v in latencies))


def _cycles(value: float) -> int:
    return max(MIN_LINK_CYCLES, int(round(value)))
