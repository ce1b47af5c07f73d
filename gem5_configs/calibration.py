"""NUCA calibration against gem5: probe traffic, the per-core comparison, and the fit of the built-in constants.

``calibrate_nuca.py`` (run by gem5.opt) measures each core's mean LLC latency twice: *idle* (one tile at a time sends
a light stream of LLC hits, the others are quiet) and *under load* (every thread of a workload replays its kernels on
its tile at once). This module builds that traffic, compares the measurements with the built-in engine's
``NucaModel`` (under load: its M/D/1 contention at the access rates gem5 saw), and fits the model's NoC constants to
the idle measurements.

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
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ailfm.errors import ConfigError, FormatError
from ailfm.files import read_text
from ailfm.gem5_configs.epoch import (
    AddressMap,
    GeneratorState,
    ThreadCursor,
    TileTraffic,
    kernel_traffic,
    seconds_to_ticks,
)
from ailfm.plugins.engine.workload import Workload
from ailfm.plugins.system.description import SystemDescription
from ailfm.plugins.system.nuca import NucaModel


def probe_traffic(system: SystemDescription, amap: AddressMap, cursors: list[ThreadCursor], active: np.ndarray,
                  requests_per_s: float, epoch_s: float) -> list[TileTraffic]:
    """One epoch in which each ``active`` tile re-reads its own data (LLC hits) at ``requests_per_s``.

    Tile ``t`` sweeps thread ``t``'s resident region of ``amap`` cyclically (build it for ``n_cores`` threads): larger
    than the private caches, so every read reaches the LLC, and with every tile active at most the LLC's share per
    tile, so they stay hits. Reads only. Warm the LLC first (an epoch of at least one whole sweep), then measure.
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
        span = amap.resident_bytes
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


def warm_traffic(system: SystemDescription, amap: AddressMap, tiles: np.ndarray, epoch_s: float
                 ) -> list[TileTraffic]:
    """One epoch in which each of ``tiles`` reads its thread's whole resident region of ``amap`` once, then idles.

    Run before a loaded measurement, so that it starts with the threads' resident data in the LLC, as a running
    thread's would be (a thread's cursor is unchanged: a whole sweep ends where it began). Make ``epoch_s`` long
    enough for DRAM to deliver the regions (every read is a first touch).
    """
    epoch_ticks = seconds_to_ticks(epoch_s)
    lines = amap.resident_bytes // amap.line_bytes
    period = max(1, (epoch_ticks - 1) // lines)
    traffic = []
    for tile in range(system.n_cores):
        if tile not in tiles:
            traffic.append(TileTraffic.idle(epoch_ticks))
            continue
        lo, hi = amap.resident(tile)
        sweep = GeneratorState("linear", lines * period + 1, lo, hi, amap.line_bytes, period, 100)
        rest = epoch_ticks - sweep.duration_ticks
        traffic.append(TileTraffic((sweep,) + ((GeneratorState("idle", rest),) if rest else ()),
                                   (GeneratorState("idle", epoch_ticks),)))
    return traffic


def workload_traffic(system: SystemDescription, workload: Workload, amap: AddressMap, cursors: list[ThreadCursor],
                     read_fraction: np.ndarray, f_GHz: float, window_s: float, dram: bool = True
                     ) -> list[TileTraffic]:
    """Thread ``t`` of ``workload`` replays its instance's kernels back to back on tile ``t`` at ``f_GHz`` for at
    least ``window_s``; other tiles idle. A kernel lasts as long as its slowest thread (the barrier), timed with the
    built-in model's contention-free latency of the instance's farthest tile. Without ``dram`` the DRAM misses are
    sent as LLC hits (``epoch.kernel_traffic``): the same LLC access rates without DRAM traffic."""
    nuca = NucaModel.build(system)
    window_ticks = seconds_to_ticks(window_s)
    w, traffic = workload, []
    for tile in range(system.n_cores):
        if tile >= w.n_threads:
            traffic.append(TileTraffic.idle(window_ticks))
            continue
        instance, rank = divmod(tile, w.threads_per_instance)
        # the instance's tiles (on a system with fewer tiles than threads, those that exist)
        tiles = np.arange(instance * w.threads_per_instance, min((instance + 1) * w.threads_per_instance,
                                                                 system.n_cores))
        resident: list[GeneratorState] = []
        streamed: list[GeneratorState] = []
        used, start, end = 0, w.instance_start[instance], w.instance_start[instance + 1]
        while used < window_ticks and start < end:
            k = slice(start, min(start + 8, end))
            for kernel in kernel_traffic(
                    amap, tile, cursors[tile], instructions=w.instructions[k], cpi=w.base_cpi[k],
                    llc_accesses=w.llc_accesses[k], dram_misses=w.dram_misses[k],
                    read_fraction=read_fraction[w.kernel_type[k]], f_GHz=f_GHz,
                    llc_latency_ns=float(nuca.mean_latency_ns[tiles].max()), dram_latency_ns=nuca.memory_latency_ns,
                    mlp=system.core.memory_level_parallelism, active=rank < w.active_threads[k], dram=dram):
                resident += kernel.resident
                streamed += kernel.streamed
                used += sum(state.duration_ticks for state in kernel.resident)
            start = k.stop
        if used < window_ticks:  # the instance ran out of kernels
            resident.append(GeneratorState("idle", window_ticks - used))
            streamed.append(GeneratorState("idle", window_ticks - used))
        traffic.append(TileTraffic(tuple(resident), tuple(streamed)))
    return traffic


def check_jitter(jitter: float, option: str) -> float:
    """``jitter`` if it is a valid request-gap jitter (in [0, 1)), else a ConfigError naming ``option``."""
    if not 0.0 <= jitter < 1.0:
        raise ConfigError(option, f"must be in [0, 1), got {jitter}")
    return jitter


def jittered(traffic: list[TileTraffic], jitter: float, option: str = "--load-jitter") -> list[TileTraffic]:
    """The same traffic with each linear state's gaps drawn uniformly from ``period * (1 -+ jitter)`` (same mean).

    ``workload_traffic`` sends every thread's requests at a fixed period from the same tick, so threads with equal
    rates issue in step: their requests meet in the NoC in bursts however low the rate. Random gaps break the lock
    step (``GeneratorState.max_period_ticks``); ``jitter`` in [0, 1).
    """
    check_jitter(jitter, option)

    def spread(state: GeneratorState) -> GeneratorState:
        if state.kind != "linear" or jitter == 0.0:
            return state
        low = max(1, int(round(state.period_ticks * (1.0 - jitter))))
        return dataclasses.replace(state, period_ticks=low, max_period_ticks=2 * state.period_ticks - low)

    return [TileTraffic(tuple(map(spread, t.resident)), tuple(map(spread, t.streamed))) for t in traffic]


def idle_latencies(csv_path, n_cores: int) -> np.ndarray:
    """The per-core ``gem5_idle_ns`` of a previous ``calibration.csv`` (core order), to skip the idle measurement."""
    try:
        text = read_text(csv_path)
    except FormatError as err:  # missing, not UTF-8 (with the line)
        raise ConfigError("--idle-csv", err.reason, path=err.path, line=err.line) from None
    try:
        table = pd.read_csv(io.StringIO(text))
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise ConfigError("--idle-csv", f"cannot read it ({err})", path=str(csv_path)) from None
    if not {"core", "gem5_idle_ns"} <= set(table.columns):
        raise ConfigError("--idle-csv", "needs the columns core and gem5_idle_ns (a calibration.csv)",
                          path=str(csv_path))
    if table["core"].duplicated().any():
        raise ConfigError("--idle-csv", f"core {table['core'][table['core'].duplicated()].iloc[0]} appears twice",
                          path=str(csv_path))
    latency = pd.to_numeric(table["gem5_idle_ns"], errors="coerce")  # a word is NaN, refused below
    idle = latency.set_axis(table["core"]).reindex(range(n_cores)).to_numpy(dtype=float)
    if not np.all(np.isfinite(idle) & (idle > 0)):
        raise ConfigError("--idle-csv", f"needs a positive gem5_idle_ns for each of the {n_cores} cores",
                          path=str(csv_path))
    return idle


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


def with_bank_service(system: SystemDescription, service_cycles: float | None) -> SystemDescription:
    """``system`` with ``llc.bank_service_cycles`` set (None: the bank wait off)."""
    return dataclasses.replace(system, llc=dataclasses.replace(system.llc, bank_service_cycles=service_cycles))


def fit_bank_service(system: SystemDescription, load_ns: np.ndarray, load_accesses_per_s: np.ndarray
                     ) -> float | None:
    """``llc.bank_service_cycles`` that makes the model's loaded latency match gem5's on average (least squares).

    The bank wait is the same for every core, so its least-squares value is the mean of gem5's loaded latency minus
    the model's (``system``'s, without a bank term) over the loaded cores. With ``a`` accesses per NoC cycle per bank
    the M/D/1 wait ``w = a S^2 / (2 (1 - a S))`` cycles inverts to ``S = sqrt(w^2 + 2 w / a) - w``. None when gem5
    is not slower than the model or nothing was loaded.
    """
    system = with_bank_service(system, None)
    rates = np.nan_to_num(np.asarray(load_accesses_per_s, dtype=float))
    loaded = np.isfinite(np.asarray(load_ns, dtype=float)) & (rates > 0)
    if not loaded.any():
        return None
    model_ns = NucaModel.build(system).latency_ns(rates)
    wait_cycles = float(np.mean(np.asarray(load_ns)[loaded] - model_ns[loaded])) * system.noc.frequency_GHz
    per_cycle = rates.sum() / system.n_banks / (system.noc.frequency_GHz * 1e9)
    if wait_cycles <= 0:
        return None
    return float(np.sqrt(wait_cycles**2 + 2 * wait_cycles / per_cycle) - wait_cycles)


def calibration_table(system: SystemDescription, idle_ns: np.ndarray, load_ns: np.ndarray,
                      load_accesses_per_s: np.ndarray, fit: NucaFit, banked: SystemDescription | None = None
                      ) -> pd.DataFrame:
    """Per core: gem5's idle and loaded latency and the built-in model's, before and after the fit.

    The loaded comparison gives the built-in model the LLC access rates gem5 saw (its M/D/1 link contention); cores
    without load traffic have NaN there. With ``banked`` (the fitted system with ``llc.bank_service_cycles``), its
    loaded latency too (``banked_load_ns``).
    """
    before, after = NucaModel.build(system), NucaModel.build(fit.system)
    rates = np.nan_to_num(np.asarray(load_accesses_per_s, dtype=float))
    loaded = np.asarray(load_ns, dtype=float)
    xyz = system.geometry.tile_coordinates()
    table = pd.DataFrame({
        "core": np.arange(system.n_cores), "x": xyz[:, 0], "y": xyz[:, 1], "layer": xyz[:, 2],
        "gem5_idle_ns": idle_ns, "builtin_ns": before.mean_latency_ns, "fitted_ns": after.mean_latency_ns,
        "error_before": before.mean_latency_ns / idle_ns - 1.0, "error_after": after.mean_latency_ns / idle_ns - 1.0,
        "load_accesses_per_s": rates, "gem5_load_ns": loaded,
        "builtin_load_ns": np.where(np.isnan(loaded), np.nan, before.latency_ns(rates)),
        "fitted_load_ns": np.where(np.isnan(loaded), np.nan, after.latency_ns(rates)),
        "load_over_idle": loaded / np.asarray(idle_ns)})
    if banked is not None:
        table["banked_load_ns"] = np.where(np.isnan(loaded), np.nan, NucaModel.build(banked).latency_ns(rates))
    return table


def load_errors(table: pd.DataFrame, systems: dict[str, SystemDescription]) -> dict[str, float]:
    """Mean absolute relative error of each system's model against a calibration table's loaded gem5 latencies.

    ``table``: a ``calibration.csv`` (its per-core ``load_accesses_per_s`` and ``gem5_load_ns``), for instance of a
    run at another load level than the one a system's constants were fitted at (the held-out check).
    """
    table = table.sort_values("core")
    rates = np.nan_to_num(table["load_accesses_per_s"].to_numpy(dtype=float))
    measured = table["gem5_load_ns"].to_numpy(dtype=float)
    loaded = np.isfinite(measured) & (rates > 0)
    return {name: float(np.mean(np.abs(NucaModel.build(s).latency_ns(rates)[loaded] / measured[loaded] - 1.0)))
            for name, s in systems.items()}
