"""``Gem5Engine``: the co-simulation engine whose memory system is gem5 (plain Python; gem5 sits behind a backend).

gem5 in a NULL-ISA build has no cores, so the split is:

* the project's interval model (``BuiltinEngine``) keeps the workload's book: kernels, barriers, tokens, requests,
  DVFS and migration stalls, and each thread's compute time ``I * CPI / f``;
* gem5 times the memory system. Each epoch the thread's LLC accesses and DRAM misses become the states of its tile's
  two ``PyTrafficGen``s (``epoch.thread_states``: V/f scales the request rate because the interval model's busy time
  shrinks with f), gem5 runs the epoch through the L1s, the S-NUCA banks, the 3D-mesh Garnet NoC and DRAM, and the
  measured per-tile LLC latency and chip-wide DRAM-miss latency replace the analytic NUCA and DRAM latencies for the
  next epoch (one epoch of lag, as the built-in contention model has). Bank accesses and router flits for the power
  model come from gem5's counters.
* Migration reassigns a thread's streams to its new tile, which first replays the thread's private working set:
  the refill goes through the new tile's cold L1 to the LLC or DRAM as gem5's caches decide, and the thread is
  charged the reschedule cost plus that refill at the new tile's measured latency.

The backend (``Gem5Backend``) is the only part that touches ``m5``; ``components/backend.py`` implements it inside
gem5.opt. gem5 cannot rewind, so an engine runs once per gem5 process.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from ailfm.errors import ConfigError, ToolError
from ailfm.gem5_configs.epoch import (
    AddressMap,
    EpochCounters,
    ThreadCursor,
    TileTraffic,
    seconds_to_ticks,
    thread_states,
)
from ailfm.plugins.engine.base import EpochActivity
from ailfm.plugins.engine.builtin import BuiltinEngine
from ailfm.plugins.nuca import NucaModel
from ailfm.plugins.system import SystemDescription
from ailfm.plugins.workload import Workload


class Gem5Backend(ABC):
    """A running gem5 simulation, advanced one epoch at a time."""

    @abstractmethod
    def run_epoch(self, traffic: Sequence[TileTraffic], epoch_ticks: int) -> EpochCounters:
        """Queue each tile's generator states, simulate ``epoch_ticks`` and return the epoch's counters."""


class Gem5Engine(BuiltinEngine):
    """The interval model's workload book-keeping with gem5's memory-system timing (see the module docstring).

    Parameters
    ----------
    system, workload : as for ``BuiltinEngine``.
    backend : the running gem5 simulation.
    read_fraction : share of reads per kernel type (indexed like ``workload.kernel_type_names``).
    """

    def __init__(self, system: SystemDescription, workload: Workload, backend: Gem5Backend,
                 read_fraction: np.ndarray, nuca: NucaModel | None = None):
        self.backend = backend
        self.read_fraction = np.asarray(read_fraction, dtype=float)
        if self.read_fraction.shape != (len(workload.kernel_type_names),):
            raise ValueError(f"read_fraction needs one value per kernel type ({len(workload.kernel_type_names)})")
        used = np.unique(workload.kernel_type)
        unknown = [workload.kernel_type_names[k] for k in used if not 0 <= self.read_fraction[k] <= 1]
        if unknown:
            raise ConfigError("read_fraction", f"no read share in [0, 1] for the workload's kernel types {unknown}")
        self.address_map = AddressMap.for_system(system, workload.n_threads)
        self.counters: list[EpochCounters] = []  # what gem5 measured, epoch by epoch
        super().__init__(system, workload, nuca)

    def reset(self) -> None:
        if getattr(self, "counters", None):
            raise ToolError("gem5 cannot rewind a simulation: run one co-simulation per gem5.opt process")
        super().reset()
        self._cursors = [ThreadCursor() for _ in range(self.n_threads)]
        self._refill_bytes = np.zeros(self.n_threads)

    def actuate(self, f_GHz: np.ndarray, thread_core: np.ndarray) -> None:
        thread_core = np.asarray(thread_core, dtype=int)
        old = self.thread_core
        moved = (thread_core != old) & (old >= 0) & (thread_core >= 0)
        self._refill_bytes[moved] += self._private_working_set_bytes(np.flatnonzero(moved))
        super().actuate(f_GHz, thread_core)

    def migration_cost_s(self, to_core: np.ndarray, threads: np.ndarray) -> np.ndarray:
        """Reschedule cost plus the refill of the private working set at the new tile's measured LLC latency."""
        lines = self._private_working_set_bytes(threads) / self.system.llc.line_bytes
        refill_s = lines * self._llc_latency_ns[to_core] * 1e-9 / self._mlp
        return self.system.migration.reschedule_cost_s + refill_s

    def _private_working_set_bytes(self, threads: np.ndarray) -> np.ndarray:
        w = self.workload
        kernel = np.minimum(self._kernel[w.thread_instance[threads]], w.n_kernels - 1)
        return np.minimum(w.working_set_bytes[kernel], self.system.core.private_working_set_bytes)

    def advance(self, dt_s: float) -> EpochActivity:
        activity = super().advance(dt_s)
        traffic = self.epoch_traffic(activity, dt_s)
        counters = self.backend.run_epoch(traffic, seconds_to_ticks(dt_s))
        self.counters.append(counters)
        self._refill_bytes[activity.thread_busy_s > 0] = 0.0  # replayed; a thread that did not run keeps its refill
        # next epoch's latencies: measured where a tile sent requests, the analytic value elsewhere (and for DRAM
        # until some tile has sent both kinds)
        self._llc_latency_ns = counters.llc_latency_ns(self.nuca.mean_latency_ns)
        self._dram_latency_ns = counters.dram_extra_ns(self._dram_latency_ns)
        return dataclasses.replace(activity, bank_accesses=counters.bank_accesses, router_flits=counters.router_flits)

    def epoch_traffic(self, activity: EpochActivity, dt_s: float) -> list[TileTraffic]:
        """Per tile, the generator states replaying the epoch of the thread placed there (idle where none is)."""
        epoch_ticks = seconds_to_ticks(dt_s)
        traffic = [TileTraffic.idle(epoch_ticks) for _ in range(self.system.n_cores)]
        kernel = activity.thread_kernel_type
        for thread, core in enumerate(self._thread_core):
            if core < 0:
                continue
            traffic[core] = thread_states(
                self.address_map, thread, self._cursors[thread], llc_accesses=activity.thread_llc_accesses[thread],
                dram_misses=activity.thread_dram_misses[thread], busy_s=activity.thread_busy_s[thread],
                epoch_s=dt_s, read_fraction=float(self.read_fraction[kernel[thread]]) if kernel[thread] >= 0 else 1.0,
                refill_bytes=self._refill_bytes[thread])
        return traffic

    def _update_contention(self, *traffic) -> None:
        """Latencies come from gem5's measurement (``advance``), not from the analytic contention model."""
