"""``Gem5Engine``: the co-simulation engine whose memory system is gem5 (plain Python; gem5 sits behind a backend).

gem5 in a NULL-ISA build has no cores, so the split is:

* the project's interval model (a ``BuiltinEngine`` whose memory latencies are set from outside) keeps the
  workload's book: kernels, barriers, tokens, requests, DVFS and migration stalls, and each thread's compute time
  ``I * CPI / f``;
* gem5 times the memory system. Each epoch the thread's LLC accesses and DRAM misses become the states of its tile's
  two ``PyTrafficGen``s (``epoch.thread_states``: V/f scales the request rate because the interval model's busy time
  shrinks with f), gem5 runs the epoch through the L1s, the S-NUCA banks, the 3D-mesh Garnet NoC and DRAM, and the
  measured per-tile LLC latency and chip-wide DRAM-miss latency replace the analytic NUCA and DRAM latencies for the
  next epoch (one epoch of lag, as the built-in contention model has). Bank accesses and router flits for the power
  model come from gem5's counters.
* Migration reassigns a thread's streams to its new tile, which first replays the thread's private working set:
  the refill goes through the new tile's cold L1 to the LLC or DRAM as gem5's caches decide, and the thread is
  charged the reschedule cost plus that refill at the new tile's measured latency.
* Optionally gem5 simulates only a *window* of each control epoch (``window_s``, time sampling). The loop advances
  the engine once per thermal sub-step; each sub-step of ``dt`` simulates ``dt x window_s / epoch_s`` in gem5 at
  that sub-step's rates (every thread's requests and busy time scaled by the same share), so what DTM or the governor
  change within the epoch is sampled too. The latencies fed back at the end of the epoch are request-weighted over
  all its windows, and the counters the power model uses (bank accesses, router flits) are scaled back sub-step by
  sub-step. A migration's refill is spread as it really occurs, while the moved thread is stalled on its migration
  penalty: each step replays the share of the outstanding refill that matches the share of the outstanding penalty
  the interval model consumed in it (scaled to the window like everything else). A *lead-in* (``lead_in_s``) warms
  each control epoch's windows: gem5 first runs that long at the epoch's first sub-step's rates, uncounted
  (``epoch.measure_step``).

The backend (``Gem5Backend``) is the only part that touches ``m5``; ``components/backend.py`` implements it inside
gem5.opt. gem5 cannot rewind, so an engine runs once per gem5 process.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from ailfm.errors import ConfigError, ToolError
from ailfm.gem5_configs.calibration import jittered
from ailfm.gem5_configs.epoch import (
    AddressMap,
    EpochCounters,
    StepTraffic,
    ThreadCursor,
    TileTraffic,
    measure_step,
)
from ailfm.gem5_configs.sampling import TrafficRecorder
from ailfm.plugins.engine.base import Engine, EpochActivity
from ailfm.plugins.engine.builtin import BuiltinEngine
from ailfm.plugins.engine.workload import Workload
from ailfm.plugins.system.description import SystemDescription
from ailfm.plugins.system.nuca import NucaModel


class Gem5Backend(ABC):
    """A running gem5 simulation, advanced one epoch at a time."""

    @abstractmethod
    def run_epoch(self, traffic: Sequence[TileTraffic], epoch_ticks: int) -> EpochCounters:
        """Queue each tile's generator states, simulate ``epoch_ticks`` and return the epoch's counters."""

    def set_levels(self, f_GHz: np.ndarray) -> None:  # noqa: B027 (optional: a no-op unless gem5's clocks follow f)
        """The frequency each tile runs at from the next epoch on; a backend whose gem5 clock domains follow the
        governor (``run_ailfm.py --dvfs domains``) maps it to their performance levels."""


class JitteredBackend(Gem5Backend):
    """A backend whose generators draw every request gap from ``period x (1 -+ jitter)`` (same mean rate).

    Fixed periods started on the same tick keep tiles with equal rates in lock step, and their requests meet in
    the NoC in bursts (docs/gem5.md, loaded LLC latency); random gaps remove that artefact.
    """

    def __init__(self, backend: Gem5Backend, jitter: float):
        self.backend, self.jitter = backend, jitter

    def set_levels(self, f_GHz: np.ndarray) -> None:
        self.backend.set_levels(f_GHz)

    def run_epoch(self, traffic: Sequence[TileTraffic], epoch_ticks: int) -> EpochCounters:
        return self.backend.run_epoch(jittered(list(traffic), self.jitter, "--traffic-jitter"), epoch_ticks)


def interval_model(system: SystemDescription, workload: Workload, nuca: NucaModel | None = None) -> BuiltinEngine:
    """The interval model ``Gem5Engine`` keeps its book with: the built-in engine with latencies set from outside,
    whose migrated threads refill from the LLC (gem5's caches decide where each line really comes from)."""
    return BuiltinEngine(system, workload, nuca, model_timing=False, refill_from="llc")


class Gem5Engine(Engine):
    """An ``Engine`` whose memory timing comes from gem5 (see the module docstring).

    Its state is the interval model's ``EngineState`` (the same bundle as the built-in engine's, so a look-ahead can
    start from it); ``model_timing`` is False, so the loop advances it step by step through ``advance``, which runs
    gem5 on every step.

    Parameters
    ----------
    system, workload : as for ``BuiltinEngine``.
    backend : the running gem5 simulation.
    read_fraction : share of reads per kernel type (indexed like ``workload.kernel_type_names``).
    window_s : gem5 time simulated per control epoch (``system.thermal.epoch_s``), spread over the epoch's steps
        at their rates (default: the whole epoch).
    lead_in_s : gem5 time simulated before each control epoch's first window at that step's rates, its counters
        discarded (``epoch.measure_step``: a warmed window; default 0).
    recorder : keeps every step's traffic and the interval model's state at each epoch's start (for replays).
    """

    model_timing = False  # gem5 times the memory: the loop advances it step by step through ``advance``

    def __init__(self, system: SystemDescription, workload: Workload, backend: Gem5Backend,
                 read_fraction: np.ndarray, nuca: NucaModel | None = None, window_s: float | None = None,
                 recorder: TrafficRecorder | None = None, lead_in_s: float = 0.0):
        if window_s is not None and not 0 < window_s:
            raise ConfigError("window", f"the simulated window must be positive, got {window_s!r} s")
        if not 0 <= lead_in_s:
            raise ConfigError("lead-in", f"the lead-in must be 0 or positive, got {lead_in_s!r} s")
        self.system, self.workload, self.backend = system, workload, backend
        self.window_s, self.recorder, self.lead_in_s = window_s, recorder, lead_in_s
        self.n_threads = workload.n_threads
        self.read_fraction = np.asarray(read_fraction, dtype=float)
        if self.read_fraction.shape != (len(workload.kernel_type_names),):
            raise ValueError(f"read_fraction needs one value per kernel type ({len(workload.kernel_type_names)})")
        used = np.unique(workload.kernel_type)
        unknown = [workload.kernel_type_names[k] for k in used if not 0 <= self.read_fraction[k] <= 1]
        if unknown:
            raise ConfigError("read_fraction", f"no read share in [0, 1] for the workload's kernel types {unknown}")
        self.interval = interval_model(system, workload, nuca)
        self.nuca = self.interval.nuca
        self.state, self.tables = self.interval.state, self.interval.tables
        self.address_map = AddressMap.for_system(system, workload.n_threads)
        self.counters: list[EpochCounters] = []  # what gem5 measured, step by step
        self.reset()

    def reset(self) -> None:
        if self.counters:
            raise ToolError("gem5 cannot rewind a simulation: run one co-simulation per gem5.opt process")
        self.interval.reset()
        self._cursors = [ThreadCursor() for _ in range(self.n_threads)]
        self._refill_bytes = np.zeros(self.n_threads)  # refill still to replay, per thread
        self._windows: list[EpochCounters] = []  # this control epoch's windows so far
        self._epoch_starts = True

    def window_share(self) -> float:
        """The share of every step that gem5 simulates: ``window_s / epoch_s`` (1: the whole step)."""
        return 1.0 if self.window_s is None else min(self.window_s / self.system.thermal.epoch_s, 1.0)

    def place(self, thread_core: np.ndarray) -> np.ndarray:
        moved = self.interval.place(thread_core)
        self._refill_bytes[moved] += self.interval.private_working_set_bytes(np.flatnonzero(moved))
        return moved

    def migration_cost_s(self, to_core: np.ndarray, threads: np.ndarray) -> np.ndarray:
        """The reschedule plus the refill of the private working set at the new tile's current (measured) latency."""
        return self.interval.migration_cost_s(to_core, threads)

    def actuate(self, f_GHz: np.ndarray, thread_core: np.ndarray) -> None:
        if self.recorder is not None and self._epoch_starts:
            self.recorder.start_epoch(self.interval.state)  # before the epoch's first actuation
        thread_core = np.asarray(thread_core, dtype=int)
        old = self.interval.thread_core
        moved = (thread_core != old) & (old >= 0) & (thread_core >= 0)
        self._refill_bytes[moved] += self.interval.private_working_set_bytes(np.flatnonzero(moved))
        self.interval.actuate(f_GHz, thread_core)
        self.backend.set_levels(f_GHz)

    def advance(self, dt_s: float, *, update_timing: bool = True) -> EpochActivity:
        """The interval model's step, then gem5 on a window of the step's traffic; ``update_timing`` (the control
        epoch's last step) sets the latencies measured over the epoch's windows for the next epoch."""
        penalty = self.state.penalty_s[0].reshape(-1)
        owed_s = penalty.copy()
        activity = self.interval.advance(dt_s)
        step = self.step_traffic(activity, dt_s, refill_share(owed_s, penalty, activity.thread_busy_s))
        if self.recorder is not None:
            self.recorder.add(step, self.state.f_GHz[0])
        window_s = dt_s * self.window_share()
        lead_in_s = self.lead_in_s if self._epoch_starts else 0.0
        counters = measure_step(self.backend, step, self.address_map, self._cursors, self.system.n_cores, window_s,
                                lead_in_s)
        self.counters.append(counters)
        self._windows.append(counters)
        self._epoch_starts = update_timing
        if update_timing:
            self.set_measured_latencies(EpochCounters.total(self._windows))
            self._windows = []
        scale = dt_s / window_s  # gem5 counted a window; the power model needs the whole step
        return dataclasses.replace(activity, bank_accesses=counters.bank_accesses * scale,
                                   router_flits=counters.router_flits * scale)

    def set_measured_latencies(self, epoch: EpochCounters) -> None:
        """The next epoch's latencies: measured where a tile sent requests, the analytic value elsewhere (and for
        DRAM until some tile has sent both kinds)."""
        self.interval.set_memory_latencies(epoch.llc_latency_ns(self.nuca.mean_latency_ns),
                                           epoch.dram_extra_ns(float(self.state.dram_latency_ns[0])))

    def step_traffic(self, activity: EpochActivity, dt_s: float, refill_share: np.ndarray) -> StepTraffic:
        """The step's traffic per thread at full scale, with ``refill_share`` of each thread's outstanding refill
        (which leaves the outstanding refill)."""
        kernel = activity.thread_kernel_type
        refill = self._refill_bytes * refill_share
        self._refill_bytes -= refill
        fraction = np.where(kernel >= 0, self.read_fraction[np.maximum(kernel, 0)], 1.0)
        return StepTraffic(dt_s, self.interval.thread_core.copy(), activity.thread_llc_accesses.copy(),
                           activity.thread_dram_misses.copy(), activity.thread_busy_s.copy(), fraction, refill)


def refill_share(owed_s: np.ndarray, left_s: np.ndarray, busy_s: np.ndarray) -> np.ndarray:
    """Per thread, the share of its outstanding refill that falls in a step: the share of the penalty it owed at the
    step's start (``owed_s``) that it paid in the step (``owed_s - left_s``); all of it where a thread that ran owed
    no penalty. The refill happens while the moved thread is stalled on its migration penalty, so it is spread as the
    interval model spends that penalty (a DVFS transition owed at the same time is spent alongside, in proportion).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        paid = np.clip((owed_s - left_s) / owed_s, 0.0, 1.0)
    return np.where(owed_s > 0, paid, (busy_s > 0).astype(float))
