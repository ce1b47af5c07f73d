"""The engine seam: what the co-simulation loop asks of any performance engine (built-in analytic, or gem5).

Per step the loop hands the engine the *effective* operating point of every core (after DTM: 0 GHz = clock-gated)
and the thread placement, asks it to advance the workload by ``dt_s``, and gets back an ``EpochActivity``: counts and
time shares per core and thread, from which the engine-independent power model computes power. A gem5 engine fills
the same record from gem5's statistics.

An engine's whole mutable state is an ``EngineState``: a documented bundle of arrays with a leading candidate axis
(1 for a running engine), which ``snapshot``/``restore`` copy out and back and which the epoch model
(``ailfm.plugins.epoch.model``) advances for many candidates at once in a look-ahead. ``EngineTables`` are the
static arrays the same model reads (the workload's kernels, the NUCA routes, the engine's constants).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from ailfm.plugins.system.description import SystemDescription


@dataclass(frozen=True, eq=False)
class EpochActivity:
    """What happened in one step.

    Per core (n_cores): ``core_activity`` (time-weighted switching activity for dynamic power), ``core_busy``
    (fraction of the step issuing, stalled on memory or spinning at a barrier: the load cpufreq governors read),
    ``core_running`` (an unfinished thread is placed there), ``core_instructions``.
    Per bank (n_banks): ``bank_accesses``. Per router (n_tiles): ``router_flits``.
    Per thread (n_threads): ``thread_instructions``, ``thread_llc_accesses``, ``thread_dram_misses``,
    ``thread_busy_s`` (issuing or stalled: productive time), ``thread_kernel_type`` (the kernel it is in at the end
    of the step, -1 when finished).
    Requests and tokens: ``tokens`` finished in the step, ``finished_requests`` and their ``finish_times_s``
    (absolute).
    """

    dt_s: float
    core_activity: np.ndarray
    core_busy: np.ndarray
    core_running: np.ndarray
    core_instructions: np.ndarray
    bank_accesses: np.ndarray
    router_flits: np.ndarray
    thread_instructions: np.ndarray
    thread_llc_accesses: np.ndarray
    thread_dram_misses: np.ndarray
    thread_busy_s: np.ndarray
    thread_kernel_type: np.ndarray
    tokens: int
    finished_requests: np.ndarray
    finish_times_s: np.ndarray


@dataclass(eq=False)
class EngineState:
    """The mutable state of an interval engine, every array with a leading candidate axis ``N``.

    ``time_s`` (N,): simulated time since reset. ``kernel`` (N, n_instances): each instance's current kernel (its
    end index once finished). ``remaining`` (N, n_instances, threads_per_instance): share of the current kernel each
    thread still has to do. ``penalty_s`` (same shape): stall still owed (DVFS transition, migration).
    ``thread_core`` (N, n_threads): placement (-1 = not placed). ``f_GHz`` (N, n_cores): the level each core runs at
    (0 = clock-gated). ``llc_latency_ns`` (N, n_cores) and ``dram_latency_ns`` (N,): the memory latencies of the
    current memory-timing window. ``traffic_llc`` (N, n_cores) and ``traffic`` (N, 3: DRAM misses, busy
    thread-seconds, elapsed seconds): what the window has seen so far, from which the next latencies follow.
    ``migrations`` (N,): threads moved since reset.
    """

    time_s: np.ndarray
    kernel: np.ndarray
    remaining: np.ndarray
    penalty_s: np.ndarray
    thread_core: np.ndarray
    f_GHz: np.ndarray
    llc_latency_ns: np.ndarray
    dram_latency_ns: np.ndarray
    traffic_llc: np.ndarray
    traffic: np.ndarray
    migrations: np.ndarray

    def copy(self) -> EngineState:
        return EngineState(**{f.name: getattr(self, f.name).copy() for f in dataclasses.fields(self)})

    def repeat(self, n: int) -> EngineState:
        """``n`` independent copies of candidate 0 (a look-ahead's starting point)."""
        return EngineState(**{f.name: np.repeat(getattr(self, f.name)[:1], n, axis=0)
                              for f in dataclasses.fields(self)})

    def assign(self, other: EngineState) -> None:
        """Copy ``other``'s values into these arrays (in place: views stay valid)."""
        for f in dataclasses.fields(self):
            getattr(self, f.name)[...] = getattr(other, f.name)


@dataclass(frozen=True, eq=False)
class EngineTables:
    """The static arrays the epoch model reads to advance an ``EngineState``.

    ``kernel_table`` (7, n_kernels) rows: work cycles (instructions x base CPI), instructions, LLC accesses, DRAM
    misses (each per thread), switching activity, ready time, active threads. ``kernel_type``, ``tokens``
    (n_kernels,), ``instance_end`` (n_instances,). NUCA: ``mean_latency_ns`` (n_cores,), ``link_flits_per_access``
    (links, n_cores), ``core_link_share`` (n_cores, links), ``router_flits_per_access`` (n_tiles, n_cores).
    ``params``: memory-level parallelism, DRAM line rate (1/s), stall activity, barrier activity, unloaded DRAM
    latency (ns), NoC clock (GHz), link contention (0/1), bank service cycles (0 = no bank wait), number of banks,
    memory timing by the model (1) or set from outside (0, gem5), DVFS transition (s).
    """

    kernel_table: np.ndarray
    kernel_type: np.ndarray
    tokens: np.ndarray
    request_end: np.ndarray
    instance_end: np.ndarray
    mean_latency_ns: np.ndarray
    link_flits_per_access: np.ndarray
    core_link_share: np.ndarray
    router_flits_per_access: np.ndarray
    params: np.ndarray

    PARAMS = ("mlp", "line_rate_per_s", "stall_activity", "barrier_activity", "base_dram_ns", "noc_GHz",
              "contention", "bank_service_cycles", "n_banks", "model_timing", "transition_s")


class Engine(ABC):
    """A performance engine advanced step by step.

    Attributes
    ----------
    system : the system description the engine models.
    n_threads : threads of the workload (placement vectors have this length).
    state : EngineState, the live arrays (candidate axis of length 1).
    tables : EngineTables, what the epoch model needs to advance copies of ``state``.
    model_timing : bool, the epoch model alone advances this engine (its memory timing is the model's), so the loop
        may advance it with the compiled epoch in one call; False when something outside (gem5) times the memory.
    """

    system: SystemDescription
    n_threads: int
    state: EngineState
    tables: EngineTables
    model_timing: bool

    @abstractmethod
    def reset(self) -> None:
        """Back to time 0: every kernel pending, no thread placed, no counters."""

    def snapshot(self) -> EngineState:
        """A copy of the state (for a look-ahead, or to come back to with ``restore``)."""
        return self.state.copy()

    def restore(self, snapshot: EngineState) -> None:
        """Return to a ``snapshot``."""
        self.state.assign(snapshot)

    @abstractmethod
    def place(self, thread_core: np.ndarray) -> np.ndarray:
        """Move threads to cores (-1 = not placed), charging each moved thread the engine's migration cost;
        return which threads moved."""

    @abstractmethod
    def migration_cost_s(self, to_core: np.ndarray, threads: np.ndarray) -> np.ndarray:
        """What moving ``threads`` to ``to_core`` from the current state would cost each of them (seconds)."""

    @abstractmethod
    def actuate(self, f_GHz: np.ndarray, thread_core: np.ndarray) -> None:
        """Set each core's effective frequency (0 = clock-gated) and each thread's core (-1 = not placed).

        The engine charges its own actuation costs: a DVFS transition stalls the core's thread, a migration stalls
        the moved thread for the reschedule cost plus the refill of its private working set.
        """

    @abstractmethod
    def advance(self, dt_s: float, *, update_timing: bool = True) -> EpochActivity:
        """Run the workload for ``dt_s`` seconds at the current operating points. ``update_timing``: close the
        memory-timing window (recompute the latencies from its traffic); the loop does it once per governor epoch."""

    @property
    def done(self) -> bool:
        """Every kernel of every instance has finished."""
        return bool(np.all(self.state.kernel[0] >= self.tables.instance_end))

    @property
    def time_s(self) -> float:
        """Simulated time since reset."""
        return float(self.state.time_s[0])

    @property
    def thread_core(self) -> np.ndarray:
        """Current placement (a copy)."""
        return self.state.thread_core[0].copy()

    @property
    def migrations(self) -> int:
        """Threads moved since reset."""
        return int(self.state.migrations[0])
