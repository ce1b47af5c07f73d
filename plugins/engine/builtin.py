"""The built-in analytic engine: interval-style progress of kernel sequences on a 3D S-NUCA many-core.

A thread's time for its share of a kernel is

    t = I * CPI_base / f  +  (A * L_llc + D * L_dram) / MLP

with ``I`` instructions, ``A`` LLC accesses and ``D`` DRAM misses per thread, ``L_llc`` the core's S-NUCA latency
(ns, NoC clock: it does not scale with the core's f) and ``L_dram`` the DRAM latency. So compute-bound kernels (GEMM)
scale with f and memory-bound ones (GEMV in decode, attention over a long KV cache) barely do. A kernel ends when the
slowest thread of its instance does (llama.cpp's barrier); threads that finish early spin at the barrier.

Each epoch scans every instance's upcoming kernels (``_scan.scan_epoch``, compiled): a kernel starts when the previous
one ended and its request has arrived, and ends at its slowest thread; the kernel running at the end of the epoch
keeps each thread's remaining share for the next. Contention uses the previous epoch's traffic: M/D/1 waits on NoC
links (``NucaModel``) and an asymptotic closed-queue bound on DRAM bandwidth (response time
``R >= MLP (B / mu - Z)``, ``B`` busy threads, ``mu`` the line rate of all controllers and ``Z`` the non-DRAM
time per miss).
"""

from __future__ import annotations

import numpy as np

from ailfm.plugins.engine._scan import dram_latency_ns, retune, run_epoch
from ailfm.plugins.engine.base import Engine, EpochActivity
from ailfm.plugins.engine.workload import Workload
from ailfm.plugins.system.description import SystemDescription
from ailfm.plugins.system.nuca import NucaModel


class BuiltinEngine(Engine):
    """Analytic engine over a ``Workload`` (see the module docstring for the model)."""

    def __init__(self, system: SystemDescription, workload: Workload, nuca: NucaModel | None = None):
        if workload.n_threads > system.n_cores:
            raise ValueError(f"{workload.n_threads} threads do not fit on {system.n_cores} cores")
        self.system = system
        self.workload = workload
        self.nuca = nuca or NucaModel.build(system)
        self.n_threads = workload.n_threads
        w = workload
        self._instance_end = w.instance_start[1:].copy()
        next_request = np.append(w.request[1:], -1)
        last_of_instance = np.zeros(w.n_kernels, dtype=bool)
        last_of_instance[np.maximum(self._instance_end - 1, 0)[np.diff(w.instance_start) > 0]] = True
        self._request_ends = (next_request != w.request) | last_of_instance
        self._work_cycles = w.instructions * w.base_cpi
        # the per-kernel columns the compiled fast path reads, as one C-contiguous table (rows: see fused_epoch)
        self._kernel_table = np.ascontiguousarray(np.stack([
            self._work_cycles, w.instructions, w.llc_accesses, w.dram_misses, w.activity, w.ready_s,
            w.active_threads.astype(float)]))
        self._mlp = system.core.memory_level_parallelism
        self._finished = np.zeros(w.n_kernels, dtype=np.int64)  # scan output buffers, reused every epoch
        self._finish_s = np.zeros(w.n_kernels)
        self._line_rate = system.memory.bandwidth_Bps / system.llc.line_bytes
        self.reset()

    # -- state -----------------------------------------------------------------------------------------------------
    def reset(self) -> None:
        w = self.workload
        self._time_s = 0.0
        self._kernel = w.instance_start[:-1].copy()
        self._remaining = np.ones((w.n_instances, w.threads_per_instance))
        self._penalty_s = np.zeros((w.n_instances, w.threads_per_instance))
        self._thread_core = np.full(self.n_threads, -1)
        self._f_GHz = np.zeros(self.system.n_cores)
        self._llc_latency_ns = self.nuca.mean_latency_ns.copy()
        self._dram_latency_ns = self.nuca.memory_latency_ns
        self._migrations = 0

    @property
    def done(self) -> bool:
        return bool(np.all(self._kernel >= self._instance_end))

    @property
    def time_s(self) -> float:
        return self._time_s

    @property
    def thread_core(self) -> np.ndarray:
        return self._thread_core.copy()

    @property
    def migrations(self) -> int:
        return self._migrations

    def current_kernel_type(self) -> np.ndarray:
        """Per thread, the type of the kernel its instance is in (-1 when the instance has finished)."""
        running = self._kernel < self._instance_end
        types = np.where(running, self.workload.kernel_type[np.minimum(self._kernel, self.workload.n_kernels - 1)], -1)
        return np.repeat(types, self.workload.threads_per_instance)

    # -- actuation -------------------------------------------------------------------------------------------------
    def actuate(self, f_GHz: np.ndarray, thread_core: np.ndarray) -> None:
        f_GHz = np.asarray(f_GHz, dtype=float)
        thread_core = np.asarray(thread_core, dtype=int)
        n_cores = self.system.n_cores
        if f_GHz.shape != (n_cores,) or not 0.0 <= f_GHz.min() <= f_GHz.max() < np.inf:
            raise ValueError(f"f_GHz must be {n_cores} finite non-negative values")
        if thread_core.shape != self._thread_core.shape or (thread_core != self._thread_core).any():
            if thread_core.shape != (self.n_threads,) or thread_core.min() < -1 or thread_core.max() >= n_cores:
                raise ValueError(f"thread_core must hold {self.n_threads} core indices in [-1, {n_cores})")
            if np.bincount(thread_core + 1, minlength=n_cores + 1)[1:].max(initial=0) > 1:
                raise ValueError("two threads placed on one core")
        moved = self._place(thread_core)
        retune(self._thread_core, f_GHz, self._f_GHz, moved, self._penalty_s.reshape(-1),
               self.system.dvfs.transition_latency_s)

    def _place(self, thread_core: np.ndarray) -> np.ndarray:
        """Move threads (charging migration costs); return which threads moved."""
        moved = (thread_core != self._thread_core) & (self._thread_core >= 0) & (thread_core >= 0)
        if moved.any():
            self._penalty_s.reshape(-1)[moved] += self.migration_cost_s(thread_core[moved], np.flatnonzero(moved))
            self._migrations += int(moved.sum())
        self._thread_core = thread_core.copy()
        return moved

    def migration_cost_s(self, to_core: np.ndarray, threads: np.ndarray) -> np.ndarray:
        """Reschedule cost plus the cold-cache refill of a moved thread's working set (at most its private caches)."""
        system, w = self.system, self.workload
        kernel = np.minimum(self._kernel[w.thread_instance[threads]], w.n_kernels - 1)
        refill_bytes = np.minimum(w.working_set_bytes[kernel], system.core.private_working_set_bytes)
        if system.migration.refill_from == "dram":
            per_core_Bps = system.memory.bandwidth_Bps / system.n_cores  # the refill competes with every core
            refill_s = self._dram_latency_ns * 1e-9 + refill_bytes / per_core_Bps
        else:
            lines = refill_bytes / system.llc.line_bytes
            refill_s = lines * self._llc_latency_ns[to_core] * 1e-9 / self._mlp
        return system.migration.reschedule_cost_s + refill_s

    # -- progress --------------------------------------------------------------------------------------------------
    def advance(self, dt_s: float) -> EpochActivity:
        w, system = self.workload, self.system
        core = self._thread_core.reshape(w.n_instances, w.threads_per_instance)
        n_finished, comp_s, stall_s, instructions, llc_acc, dram_miss, kernel_type, cores = run_epoch(
            dt_s, self._time_s, core, self._f_GHz, self._llc_latency_ns, self._dram_latency_ns, self._mlp,
            self._kernel, self._instance_end, self._remaining, self._penalty_s, self._work_cycles, w.instructions,
            w.llc_accesses, w.dram_misses, w.activity, w.ready_s, w.active_threads, w.kernel_type, self._finished,
            self._finish_s, system.power.stall_activity, system.power.barrier_activity, system.n_cores)
        activity, busy, running, core_instr, core_llc, core_dram = cores
        finished = self._finished[:n_finished]
        finish_s = self._finish_s[:n_finished].copy()
        tokens = w.tokens[finished].astype(int)
        request_done = self._request_ends[finished]
        self._time_s += dt_s
        result = EpochActivity(
            dt_s=dt_s, core_activity=activity, core_busy=busy, core_running=running, core_instructions=core_instr,
            core_llc_accesses=core_llc, core_dram_misses=core_dram,
            bank_accesses=np.full(system.n_banks, core_llc.sum() / system.n_banks),
            router_flits=self.nuca.router_flits(core_llc), thread_instructions=instructions.ravel(),
            thread_llc_accesses=llc_acc.ravel(), thread_dram_misses=dram_miss.ravel(),
            thread_busy_s=(comp_s + stall_s).ravel(), thread_kernel_type=kernel_type.ravel(),
            tokens=int(tokens.sum()), token_times_s=np.repeat(finish_s, tokens),
            finished_requests=w.request[finished[request_done]], finish_times_s=finish_s[request_done],
            memory_latency_ns=self._dram_latency_ns, llc_latency_ns=self._llc_latency_ns)
        self._update_contention(core_llc, core_dram, comp_s, stall_s, dt_s)
        return result

    def _update_contention(self, core_llc, core_dram, comp_s, stall_s, dt_s) -> None:
        """Next epoch's LLC (NoC M/D/1) and DRAM (closed-queue bound) latencies from this epoch's traffic."""
        self._llc_latency_ns = self.nuca.latency_ns(core_llc / dt_s)
        self._dram_latency_ns = dram_latency_ns(core_dram.sum(), (comp_s + stall_s).sum(), self._dram_latency_ns,
                                                self.nuca.memory_latency_ns, self._mlp, self._line_rate, dt_s)
