"""The built-in analytic engine: interval-style progress of kernel sequences on a 3D S-NUCA many-core.

A thread's time for its share of a kernel is

    t = I * CPI_base / f  +  (A * L_llc + D * L_dram) / MLP

with ``I`` instructions, ``A`` LLC accesses and ``D`` DRAM misses per thread, ``L_llc`` the core's S-NUCA latency
(ns, NoC clock: it does not scale with the core's f) and ``L_dram`` the DRAM latency. So compute-bound kernels (GEMM)
scale with f and memory-bound ones (GEMV in decode, attention over a long KV cache) barely do. A kernel ends when the
slowest thread of its instance does (llama.cpp's barrier); threads that finish early spin at the barrier.

Each step scans every instance's upcoming kernels (``scan.scan_epoch``, compiled): a kernel starts when the previous
one ended and its request has arrived, and ends at its slowest thread; the kernel running at the end of the epoch
keeps each thread's remaining share for the next. Contention uses the previous memory-timing window's traffic (one
governor epoch in the loop): M/D/1 waits on NoC links (``NucaModel``) and an asymptotic closed-queue bound on DRAM
bandwidth (response time ``R >= MLP (B / mu - Z)``, ``B`` busy threads, ``mu`` the line rate of all controllers and
``Z`` the non-DRAM time per miss). The state is an ``EngineState`` (``engine/base.py``); the step is
``scan.advance_candidate``, the function the epoch model (``plugins/epoch/model.py``) advances every caller with.
"""

from __future__ import annotations

import numpy as np

from ailfm.errors import ConfigError
from ailfm.plugins.engine.base import Engine, EngineState, EngineTables, EpochActivity
from ailfm.plugins.engine.scan import advance_candidate, close_timing_window, retune, step_scratch
from ailfm.plugins.engine.workload import Workload
from ailfm.plugins.system.description import SystemDescription
from ailfm.plugins.system.nuca import NucaModel


class BuiltinEngine(Engine):
    """Analytic engine over a ``Workload`` (see the module docstring for the model).

    ``model_timing=False`` leaves the memory latencies to an outside timer (``set_memory_latencies``: gem5);
    ``refill_from`` overrides the system's ``migration.refill_from`` (where a moved thread refills its caches from).
    """

    def __init__(self, system: SystemDescription, workload: Workload, nuca: NucaModel | None = None, *,
                 model_timing: bool = True, refill_from: str | None = None):
        if workload.n_threads > system.n_cores:
            raise ConfigError("threads", f"the workload has {workload.n_threads} threads and system {system.name!r} "
                                         f"has {system.n_cores} cores: one thread per core, so use fewer instances x "
                                         "threads")
        self.system = system
        self.workload = workload
        self.nuca = nuca or NucaModel.build(system)
        self.n_threads = workload.n_threads
        self.model_timing = model_timing
        self.refill_from = refill_from or system.migration.refill_from
        w = workload
        instance_end = w.instance_start[1:].copy()
        next_request = np.append(w.request[1:], -1)
        last_of_instance = np.zeros(w.n_kernels, dtype=bool)
        last_of_instance[np.maximum(instance_end - 1, 0)[np.diff(w.instance_start) > 0]] = True
        request_end = np.where((next_request != w.request) | last_of_instance, w.request, -1).astype(np.int64)
        p, noc = system.power, system.noc
        self.tables = EngineTables(
            kernel_table=np.ascontiguousarray(np.stack([
                w.instructions * w.base_cpi, w.instructions, w.llc_accesses, w.dram_misses, w.activity, w.ready_s,
                w.active_threads.astype(float)])),
            kernel_type=np.ascontiguousarray(w.kernel_type, dtype=np.int64),
            tokens=np.ascontiguousarray(w.tokens, dtype=float), request_end=request_end,
            instance_end=instance_end.astype(np.int64),
            mean_latency_ns=self.nuca.mean_latency_ns, link_flits_per_access=self.nuca.link_flits_per_access,
            core_link_share=self.nuca.core_link_share, router_flits_per_access=self.nuca.router_flits_per_access,
            params=np.array([system.core.memory_level_parallelism, system.memory.bandwidth_Bps / system.llc.line_bytes,
                             p.stall_activity, p.barrier_activity, self.nuca.memory_latency_ns, noc.frequency_GHz,
                             float(noc.contention), system.llc.bank_service_cycles or 0.0, system.n_banks,
                             float(model_timing), system.dvfs.transition_latency_s]))
        self._finished = np.zeros(w.n_kernels, dtype=np.int64)  # scan output buffers, reused every step
        self._finish_s = np.zeros(w.n_kernels)
        n_cores, shape = system.n_cores, (1, w.n_instances, w.threads_per_instance)
        self.state = EngineState(
            time_s=np.zeros(1), kernel=np.zeros((1, w.n_instances), dtype=np.int64), remaining=np.ones(shape),
            penalty_s=np.zeros(shape), thread_core=np.full((1, w.n_threads), -1, dtype=np.int64),
            f_GHz=np.zeros((1, n_cores)), llc_latency_ns=np.zeros((1, n_cores)), dram_latency_ns=np.zeros(1),
            traffic_llc=np.zeros((1, n_cores)), traffic=np.zeros((1, 3)), migrations=np.zeros(1, dtype=np.int64))
        self.reset()

    def reset(self) -> None:
        st = self.state
        st.time_s[:] = 0.0
        st.kernel[0] = self.workload.instance_start[:-1]
        st.remaining[:] = 1.0
        st.penalty_s[:] = 0.0
        st.thread_core[:] = -1
        st.f_GHz[:] = 0.0
        st.llc_latency_ns[0] = self.nuca.mean_latency_ns
        st.dram_latency_ns[:] = self.nuca.memory_latency_ns
        st.traffic_llc[:] = 0.0
        st.traffic[:] = 0.0
        st.migrations[:] = 0

    def set_memory_latencies(self, llc_ns: np.ndarray, dram_ns: float) -> None:
        """The next steps' LLC latency per core and DRAM latency, timed outside (``model_timing=False``)."""
        self.state.llc_latency_ns[0] = np.asarray(llc_ns, dtype=float)
        self.state.dram_latency_ns[0] = float(dram_ns)
        self.state.traffic_llc[:] = 0.0
        self.state.traffic[:] = 0.0

    # -- actuation -------------------------------------------------------------------------------------------------
    def actuate(self, f_GHz: np.ndarray, thread_core: np.ndarray) -> None:
        f_GHz = np.asarray(f_GHz, dtype=float)
        n_cores = self.system.n_cores
        if f_GHz.shape != (n_cores,) or not 0.0 <= f_GHz.min() <= f_GHz.max() < np.inf:
            raise ValueError(f"f_GHz must be {n_cores} finite non-negative values")
        st = self.state
        moved = self.place(thread_core)
        retune(st.thread_core[0], f_GHz, st.f_GHz[0], moved, st.penalty_s[0].reshape(-1),
               self.system.dvfs.transition_latency_s)

    def place(self, thread_core: np.ndarray) -> np.ndarray:
        thread_core = np.asarray(thread_core, dtype=np.int64)
        current = self.state.thread_core[0]
        if thread_core.shape == current.shape and not (thread_core != current).any():
            return np.zeros(self.n_threads, dtype=bool)
        n_cores = self.system.n_cores
        if thread_core.shape != (self.n_threads,) or thread_core.min() < -1 or thread_core.max() >= n_cores:
            raise ValueError(f"thread_core must hold {self.n_threads} core indices in [-1, {n_cores})")
        if np.bincount(thread_core + 1, minlength=n_cores + 1)[1:].max(initial=0) > 1:
            raise ValueError("two threads placed on one core")
        moved = (thread_core != current) & (current >= 0) & (thread_core >= 0)
        if moved.any():
            self.state.penalty_s[0].reshape(-1)[moved] += self.migration_cost_s(thread_core[moved],
                                                                               np.flatnonzero(moved))
            self.state.migrations[0] += int(moved.sum())
        current[:] = thread_core
        return moved

    def private_working_set_bytes(self, threads: np.ndarray) -> np.ndarray:
        """What a moved thread must refill: its current kernel's working set, at most the private caches."""
        w = self.workload
        kernel = np.minimum(self.state.kernel[0][w.thread_instance[threads]], w.n_kernels - 1)
        return np.minimum(w.working_set_bytes[kernel], self.system.core.private_working_set_bytes)

    def migration_cost_s(self, to_core: np.ndarray, threads: np.ndarray) -> np.ndarray:
        """Reschedule cost plus the cold-cache refill of a moved thread's working set (at most its private caches)."""
        system, st = self.system, self.state
        refill_bytes = self.private_working_set_bytes(threads)
        if self.refill_from == "dram":
            per_core_Bps = system.memory.bandwidth_Bps / system.n_cores  # the refill competes with every core
            refill_s = st.dram_latency_ns[0] * 1e-9 + refill_bytes / per_core_Bps
        else:
            lines = refill_bytes / system.llc.line_bytes
            refill_s = lines * st.llc_latency_ns[0][to_core] * 1e-9 / system.core.memory_level_parallelism
        return system.migration.reschedule_cost_s + refill_s

    # -- progress --------------------------------------------------------------------------------------------------
    def advance(self, dt_s: float, *, update_timing: bool = True) -> EpochActivity:
        w, system, st, tables = self.workload, self.system, self.state, self.tables
        scratch = step_scratch(*st.remaining.shape[1:], system.n_cores)  # fresh: the activity returned keeps it
        n_finished = advance_candidate(
            dt_s, 0, st.time_s, st.kernel, st.remaining, st.penalty_s, st.thread_core, st.f_GHz, st.llc_latency_ns,
            st.dram_latency_ns, st.traffic_llc, st.traffic, tables.kernel_table, tables.kernel_type,
            tables.instance_end, tables.params, self._finished, self._finish_s, scratch)
        threads, cores, running, kernel_type = scratch
        comp_s, stall_s, instructions, llc_acc, dram_miss = threads[2], threads[3], threads[6], threads[7], threads[8]
        activity, busy, core_instr, core_llc = cores[0], cores[1], cores[2], cores[3]
        finished = self._finished[:n_finished]
        finish_s = self._finish_s[:n_finished].copy()
        tokens = int(w.tokens[finished].sum())
        request = tables.request_end[finished]
        if update_timing and self.model_timing:
            st.dram_latency_ns[0] = close_timing_window(
                st.llc_latency_ns[0], st.dram_latency_ns[0], st.traffic_llc[0], st.traffic[0], tables.mean_latency_ns,
                tables.link_flits_per_access, tables.core_link_share, tables.params)
        return EpochActivity(
            dt_s=dt_s, core_activity=activity, core_busy=busy, core_running=running, core_instructions=core_instr,
            bank_accesses=np.full(system.n_banks, core_llc.sum() / system.n_banks),
            router_flits=self.nuca.router_flits(core_llc), thread_instructions=instructions.ravel(),
            thread_llc_accesses=llc_acc.ravel(), thread_dram_misses=dram_miss.ravel(),
            thread_busy_s=(comp_s + stall_s).ravel(), thread_kernel_type=kernel_type.ravel(),
            tokens=tokens, finished_requests=request[request >= 0], finish_times_s=finish_s[request >= 0])
