"""NUCA calibration against gem5: probe traffic, the per-core comparison, and the fit of the built-in constants.

``calibrate_nuca.py`` (run by gem5.opt) measures each core's mean LLC latency twice: *idle* (one tile at a time sends
a light stream of LLC hits, the others are quiet) and *under load* (every tile sends at once). This module builds
that probe traffic, compares the measurements with the built-in engine's ``NucaModel``, and fits the model's NoC
constants to the idle measurements.

The built-in model's mean latency of core ``i`` (over all banks, NoC cycles) is linear in three terms:

    L_i = 2 P_i (R + L) + 2 V_i (R + T) + (2 R + B + F - 1)

with ``P_i`` / ``V_i`` the mean planar / vertical hop counts from core ``i`` to all banks, ``R`` the router, ``L``
the planar link, ``T`` the TSV link, ``B`` the bank latency and ``F`` the response's flits. So only the cost of a
planar hop ``R + L``, of a vertical hop ``R + T`` and the constant are identifiable from mean latencies; the fit
keeps ``R`` at its YAML value and moves ``L``, ``T`` and ``B`` (the constant also absorbs what gem5 adds per access
that the model lacks: the L1 controller's request and response latencies and the external links).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ailfm.gem5_configs.epoch import AddressMap, GeneratorState, ThreadCursor, TileTraffic, seconds_to_ticks
from ailfm.plugins.nuca import NucaModel
from ailfm.plugins.system import SystemDescription


def probe_traffic(system: SystemDescription, amap: AddressMap, cursors: list[ThreadCursor], active: np.ndarray,
                  requests_per_s: float, epoch_s: float) -> list[TileTraffic]:
    """One epoch in which each ``active`` tile re-reads its own data (LLC hits) at ``requests_per_s``.

    Tile ``t`` sweeps the first half of thread ``t``'s resident region of ``amap`` (build it for ``n_cores``
    threads): larger than the private caches, so every read reaches the LLC, and with every tile active still half
    the LLC, so they stay hits. Reads only. A tile's first epoch warms the LLC; measure from the second on.
    """
    epoch_ticks = seconds_to_ticks(epoch_s)
    n = int(round(requests_per_s * epoch_s))
    period = max(1, (epoch_ticks - 2) // max(n, 1))  # room for the extra tick of each sweep (at most 2: one wrap)
    traffic = []
    for tile in range(system.n_cores):
        if not active[tile] or n == 0:
            traffic.append(TileTraffic.idle(epoch_ticks))
            continue
        lo, _ = amap.resident(tile)
        span = amap.resident_bytes // 2
        hi = lo + span
        lines = span // amap.line_bytes
        states, done, cursor = [], 0, cursors[tile]
        while done < n:
            count = min(n - done, lines - cursor.resident // amap.line_bytes)
            start = lo + cursor.resident
            states.append(GeneratorState("linear", count * period + 1, start, start + count * amap.line_bytes,
                                         amap.line_bytes, period, 100))  # + 1 tick: see epoch._sweep
            cursor.resident = (cursor.resident + count * amap.line_bytes) % (hi - lo)
            done += count
        idle = epoch_ticks - sum(state.duration_ticks for state in states)
        resident = tuple(states) + ((GeneratorState("idle", idle),) if idle else ())
        traffic.append(TileTraffic(resident, (GeneratorState("idle", epoch_ticks),)))
    return traffic


def hop_features(system: SystemDescription) -> np.ndarray:
    """(n_cores, 3): twice the mean planar and vertical hops to all banks, and 1 (see the module docstring)."""
    xyz = system.geometry.tile_coordinates()
    delta = np.abs(xyz[:, None, :] - xyz[None, :, :])
    planar = (delta[..., 0] + delta[..., 1]).mean(axis=1)
    vertical = delta[..., 2].mean(axis=1)
    return np.stack([2 * planar, 2 * vertical, np.ones(len(xyz))], axis=1)


@dataclass(frozen=True)
class NucaFit:
    """Fitted NoC constants (NoC cycles) and the system description that carries them."""

    planar_hop_cycles: float  # R + L
    vertical_hop_cycles: float  # R + T
    constant_cycles: float  # 2 R + B + F - 1
    system: SystemDescription
    clipped: tuple[str, ...]  # constants the fit would have made negative, held at 0


def fit_nuca(system: SystemDescription, measured_ns: np.ndarray) -> NucaFit:
    """Least-squares fit of the identifiable NoC constants to per-core mean LLC latencies (ns)."""
    cycles = np.asarray(measured_ns, dtype=float) * system.noc.frequency_GHz
    (planar, vertical, constant), *_ = np.linalg.lstsq(hop_features(system), cycles, rcond=None)
    noc, llc = system.noc, system.llc
    router = noc.router_latency_cycles
    flits = int(np.ceil(8 * (llc.line_bytes + noc.request_bytes) / noc.link_width_bits))  # the data response
    wanted = {"noc.link_latency_cycles": planar - router, "noc.tsv_latency_cycles": vertical - router,
              "llc.bank_latency_cycles": constant - 2 * router - flits + 1}
    clipped = tuple(name for name, value in wanted.items() if value < 0)
    fitted = dataclasses.replace(
        system,
        noc=dataclasses.replace(noc, link_latency_cycles=max(wanted["noc.link_latency_cycles"], 0.0),
                                tsv_latency_cycles=max(wanted["noc.tsv_latency_cycles"], 0.0)),
        llc=dataclasses.replace(llc, bank_latency_cycles=max(wanted["llc.bank_latency_cycles"], 0.0)))
    return NucaFit(float(planar), float(vertical), float(constant), fitted, clipped)


def calibration_table(system: SystemDescription, idle_ns: np.ndarray, load_ns: np.ndarray,
                      fit: NucaFit) -> pd.DataFrame:
    """Per core: gem5's idle and loaded latency, the built-in model before and after the fit, relative errors."""
    before = NucaModel.build(system).mean_latency_ns
    after = NucaModel.build(fit.system).mean_latency_ns
    xyz = system.geometry.tile_coordinates()
    return pd.DataFrame({
        "core": np.arange(system.n_cores), "x": xyz[:, 0], "y": xyz[:, 1], "layer": xyz[:, 2],
        "gem5_idle_ns": idle_ns, "gem5_load_ns": load_ns, "builtin_ns": before, "fitted_ns": after,
        "error_before": before / idle_ns - 1.0, "error_after": after / idle_ns - 1.0,
        "load_over_idle": np.asarray(load_ns) / np.asarray(idle_ns)})
