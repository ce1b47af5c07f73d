"""The engine seam: what the co-simulation loop asks of any performance engine (built-in analytic, or gem5).

Per epoch the loop hands the engine the *effective* operating point of every core (after DTM: 0 GHz = clock-gated)
and the thread placement, asks it to advance the workload by ``dt_s``, and gets back an ``EpochActivity``: counts and
time shares per core and thread, from which the engine-independent power model computes power. A gem5 engine fills
the same record from gem5's statistics.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from ailfm.plugins.system.description import SystemDescription


@dataclass(frozen=True, eq=False)
class EpochActivity:
    """What happened in one epoch.

    Per core (n_cores): ``core_activity`` (time-weighted switching activity for dynamic power), ``core_busy``
    (fraction of the epoch issuing, stalled on memory or spinning at a barrier: the load cpufreq governors read),
    ``core_running`` (an unfinished thread is placed there), ``core_instructions``, ``core_llc_accesses``,
    ``core_dram_misses``.
    Per bank (n_banks): ``bank_accesses``. Per router (n_tiles): ``router_flits``.
    Per thread (n_threads): ``thread_instructions``, ``thread_llc_accesses``, ``thread_dram_misses``,
    ``thread_busy_s`` (issuing or stalled: productive time), ``thread_kernel_type`` (the kernel it is in at the end
    of the epoch, -1 when finished).
    Requests and tokens: ``tokens`` finished in the epoch, ``token_times_s`` (absolute), ``finished_requests`` and
    their ``finish_times_s``.
    """

    dt_s: float
    core_activity: np.ndarray
    core_busy: np.ndarray
    core_running: np.ndarray
    core_instructions: np.ndarray
    core_llc_accesses: np.ndarray
    core_dram_misses: np.ndarray
    bank_accesses: np.ndarray
    router_flits: np.ndarray
    thread_instructions: np.ndarray
    thread_llc_accesses: np.ndarray
    thread_dram_misses: np.ndarray
    thread_busy_s: np.ndarray
    thread_kernel_type: np.ndarray
    tokens: int
    token_times_s: np.ndarray
    finished_requests: np.ndarray
    finish_times_s: np.ndarray
    memory_latency_ns: float
    llc_latency_ns: np.ndarray


class Engine(ABC):
    """A performance engine advanced epoch by epoch.

    Attributes
    ----------
    system : the system description the engine models.
    n_threads : threads of the workload (placement vectors have this length).
    """

    system: SystemDescription
    n_threads: int

    @abstractmethod
    def reset(self) -> None:
        """Back to time 0: every kernel pending, no thread placed, no counters."""

    @abstractmethod
    def actuate(self, f_GHz: np.ndarray, thread_core: np.ndarray) -> None:
        """Set each core's effective frequency (0 = clock-gated) and each thread's core (-1 = not placed).

        The engine charges its own actuation costs: a DVFS transition stalls the core's thread, a migration stalls
        the moved thread for the reschedule cost plus the refill of its private working set.
        """

    @abstractmethod
    def advance(self, dt_s: float) -> EpochActivity:
        """Run the workload for ``dt_s`` seconds at the current operating points."""

    @property
    @abstractmethod
    def done(self) -> bool:
        """Every kernel of every instance has finished."""

    @property
    @abstractmethod
    def time_s(self) -> float:
        """Simulated time since reset."""

    @property
    @abstractmethod
    def thread_core(self) -> np.ndarray:
        """Current placement (a copy)."""

    @property
    @abstractmethod
    def migrations(self) -> int:
        """Threads moved since reset."""
