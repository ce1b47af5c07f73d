"""S-NUCA latency of a 3D mesh: each core's mean LLC access latency over all banks, optionally with contention.

With static address interleaving every core spreads its LLC accesses evenly over all banks, so a core's LLC latency is
the mean over banks of a round trip through the 3D mesh: request and response each cross ``hops + 1`` routers, the
planar links and the TSV links of a dimension-order (X, Y, then Z) route, and the bank adds its access time. Cores in
the middle of the middle layers are closest, on average, to all banks: the performance heterogeneity AILFM exploits.

Contention (optional) is an M/D/1 waiting time per directed link: a link serves one flit per NoC cycle, and its
arrival rate comes from the LLC access rates of the previous epoch routed over the same paths. A second, separate
option (``llc.bank_service_cycles``, off unless a system sets it) adds an M/D/1 wait at the banks: each bank serves
one access at a time for that many NoC cycles, and static interleaving gives every bank the same share of all cores'
accesses. Its constant is measured on gem5 by ``gem5_configs/calibrate_nuca.py`` (docs/gem5.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numba import njit

from ailfm.plugins.system.description import SystemDescription

_DIRECTIONS = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]])
MAX_LINK_UTILISATION = 0.95  # the M/D/1 wait diverges at 1; a saturated link is held just below it
MAX_BANK_UTILISATION = 0.95  # likewise for a bank


def _route(src: np.ndarray, dst: np.ndarray) -> tuple[list[int], list[int]]:
    """Tiles visited and directions taken by a dimension-order X, Y, Z route (tiles as (x, y, z))."""
    tiles, directions = [], []
    here = src.copy()
    for axis in range(3):
        step = int(np.sign(dst[axis] - here[axis]))
        while here[axis] != dst[axis]:
            tiles.append(here.copy())
            directions.append(2 * axis + (0 if step > 0 else 1))
            here[axis] += step
    tiles.append(here.copy())
    return tiles, directions


def memory_controller_tiles(system: SystemDescription) -> np.ndarray:
    """(x, y, layer) of the memory controllers: spread around the die edge of layer 0 (the I/O side)."""
    g = system.geometry
    perimeter = [(x, 0) for x in range(g.tiles_x)] + [(g.tiles_x - 1, y) for y in range(1, g.tiles_y)]
    perimeter += [(x, g.tiles_y - 1) for x in range(g.tiles_x - 2, -1, -1)]
    perimeter += [(0, y) for y in range(g.tiles_y - 2, 0, -1)]
    n = system.memory.controllers
    picks = [perimeter[(len(perimeter) * (2 * k + 1)) // (2 * n) % len(perimeter)] for k in range(n)]
    return np.array([(x, y, 0) for x, y in picks])


@dataclass(frozen=True, eq=False)
class NucaModel:
    """Per-core LLC latency of a system's 3D mesh (vectorised; built once per system).

    Attributes
    ----------
    mean_latency_ns : ndarray (n_cores,)
        Contention-free mean LLC round-trip latency (network + bank) of each core.
    mean_hops : ndarray (n_cores,)
        Mean hop count (planar + vertical) from each core to all banks: PCGov's AMD in 3D.
    memory_network_ns : float
        Mean bank -> memory controller -> bank network round trip, added to every DRAM miss.
    """

    system: SystemDescription
    mean_latency_ns: np.ndarray
    mean_hops: np.ndarray
    memory_network_ns: float
    link_flits_per_access: np.ndarray  # (directed link tile*6+dir, core): flits one LLC access of a core puts on it
    router_flits_per_access: np.ndarray  # (router, core): flits one LLC access of a core sends through it
    core_link_share: np.ndarray  # (core, link): mean over banks of the links crossed by the request and response

    @classmethod
    def build(cls, system: SystemDescription) -> NucaModel:
        g, noc = system.geometry, system.noc
        xyz = g.tile_coordinates()
        n_tiles = g.n_tiles
        strides = np.array([1, g.tiles_x, g.tiles_per_layer])
        link_rows, link_cols, router_rows, router_cols = [], [], [], []
        for src in range(n_tiles):
            for dst in range(n_tiles):
                pair = src * n_tiles + dst
                tiles, directions = _route(xyz[src], xyz[dst])
                routers = [int(t @ strides) for t in tiles]
                router_rows += [pair] * len(routers)
                router_cols += routers
                link_rows += [pair] * len(directions)
                link_cols += [r * 6 + d for r, d in zip(routers[:-1], directions, strict=True)]
        pair_links = sp.csr_matrix((np.ones(len(link_rows)), (link_rows, link_cols)), shape=(n_tiles**2, n_tiles * 6))
        pair_routers = sp.csr_matrix((np.ones(len(router_rows)), (router_rows, router_cols)),
                                     shape=(n_tiles**2, n_tiles))

        delta = np.abs(xyz[:, None, :] - xyz[None, :, :])  # (tile, tile, 3)
        planar = delta[..., 0] + delta[..., 1]
        vertical = delta[..., 2]
        cycle_ns = 1.0 / noc.frequency_GHz
        one_way_ns = cycle_ns * ((planar + vertical + 1) * noc.router_latency_cycles
                                 + planar * noc.link_latency_cycles + vertical * noc.tsv_latency_cycles)
        response_flits = _flits(system.llc.line_bytes + noc.request_bytes, noc.link_width_bits)
        round_trip_ns = 2 * one_way_ns + cycle_ns * (system.llc.bank_latency_cycles + response_flits - 1)
        # Every tile holds banks_per_tile banks, so a mean over tiles is the mean over banks.
        mean_latency_ns = round_trip_ns.mean(axis=1)
        mean_hops = (planar + vertical).mean(axis=1)

        mc = memory_controller_tiles(system)
        mc_index = mc @ strides
        memory_network_ns = float(2 * one_way_ns[:, mc_index].mean())

        # Traffic is linear in the per-core access rates: fold the routes into small dense matrices once.
        request_flits = _flits(noc.request_bytes, noc.link_width_bits)
        flow = np.zeros((n_tiles, n_tiles, n_tiles))  # (core, src tile, dst tile): flits per access of the core
        cores = np.arange(n_tiles)
        flow[cores, cores, :] += request_flits / n_tiles  # requests, spread over the bank tiles
        flow[cores, :, cores] += response_flits / n_tiles  # responses back to the core
        flow = flow.reshape(n_tiles, -1)
        link_flits_per_access = np.ascontiguousarray(pair_links.T @ flow.T)
        router_flits_per_access = np.ascontiguousarray(pair_routers.T @ flow.T)
        crossed = pair_links.toarray().reshape(n_tiles, n_tiles, -1)
        core_link_share = np.ascontiguousarray((crossed + crossed.transpose(1, 0, 2)).mean(axis=1))
        return cls(system, mean_latency_ns, mean_hops, memory_network_ns, link_flits_per_access,
                   router_flits_per_access, core_link_share)

    @property
    def memory_latency_ns(self) -> float:
        """Contention-free DRAM miss latency: the controller's latency plus the bank-to-controller round trip."""
        return self.system.memory.latency_ns + self.memory_network_ns

    def link_utilisation(self, llc_accesses_per_s: np.ndarray) -> np.ndarray:
        """Utilisation of each directed link (flits per NoC cycle), capped below 1."""
        load = self.link_flits_per_access @ np.asarray(llc_accesses_per_s, dtype=float)
        return np.minimum(load / (self.system.noc.frequency_GHz * 1e9), MAX_LINK_UTILISATION)

    def latency_ns(self, llc_accesses_per_s: np.ndarray | None = None) -> np.ndarray:
        """Each core's mean LLC latency; with access rates, plus M/D/1 link waits (``noc.contention``) and the bank
        wait (``llc.bank_service_cycles``, when set)."""
        if llc_accesses_per_s is None:
            return self.mean_latency_ns
        out = self.mean_latency_ns
        if self.system.noc.contention:
            out = np.empty_like(self.mean_latency_ns)
            contended_latency_kernel(self.mean_latency_ns, self.link_flits_per_access, self.core_link_share,
                                     np.asarray(llc_accesses_per_s, dtype=float), self.system.noc.frequency_GHz, out)
        if self.system.llc.bank_service_cycles is not None:
            out = out + self.bank_wait_ns(llc_accesses_per_s)
        return out

    def bank_wait_ns(self, llc_accesses_per_s: np.ndarray) -> float:
        """M/D/1 wait at a bank (``bank_wait_kernel``) for the given per-core access rates; 0 when the term is off."""
        service = self.system.llc.bank_service_cycles
        if service is None:
            return 0.0
        return bank_wait_kernel(float(np.sum(llc_accesses_per_s)), service, self.system.noc.frequency_GHz,
                                self.system.n_banks)

    def router_flits(self, llc_accesses: np.ndarray) -> np.ndarray:
        """Flits through each router for the given per-core LLC access counts (for router energy)."""
        return self.router_flits_per_access @ np.asarray(llc_accesses, dtype=float)


@njit(cache=True)
def contended_latency_kernel(mean_latency_ns, link_flits_per_access, core_link_share, llc_accesses_per_s,
                             noc_GHz, out_ns):
    """Mean latency plus the M/D/1 wait ``rho / (2 (1 - rho))`` NoC cycles of every link a core's traffic crosses."""
    load = np.dot(link_flits_per_access, llc_accesses_per_s)
    wait_ns = np.empty_like(load)
    for link in range(load.shape[0]):
        rho = min(load[link] / (noc_GHz * 1e9), MAX_LINK_UTILISATION)
        wait_ns[link] = rho / (2.0 * (1.0 - rho)) / noc_GHz
    extra = np.dot(core_link_share, wait_ns)
    for c in range(out_ns.shape[0]):
        out_ns[c] = mean_latency_ns[c] + extra[c]


@njit(cache=True)
def bank_wait_kernel(total_accesses_per_s, service_cycles, noc_GHz, n_banks):
    """M/D/1 wait at a bank, ``rho / (2 (1 - rho)) * S`` cycles with ``S = llc.bank_service_cycles``.

    Static interleaving sends every core's accesses to all banks alike, so each bank sees the chip's total rate
    divided by the bank count, and every core waits the same.
    """
    rho = min(total_accesses_per_s / n_banks * service_cycles / (noc_GHz * 1e9), MAX_BANK_UTILISATION)
    return rho / (2.0 * (1.0 - rho)) * service_cycles / noc_GHz


def _flits(message_bytes: int, link_width_bits: int) -> int:
    return int(np.ceil(8 * message_bytes / link_width_bits))
