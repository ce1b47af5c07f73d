"""The engine's per-epoch scan over kernels, compiled with numba.

Within an epoch each instance runs through a variable number of short kernels (hundreds per decode token), each ending
at its slowest thread: a sequential scan with a few arithmetic operations per (kernel, thread). As numpy it costs a
dozen array operations on (instance, window, thread) arrays per epoch, whose call overhead dominates at this size;
compiled, the same arithmetic takes a few microseconds, which is what makes the co-simulator faster than real time.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ailfm.plugins.system.nuca import bank_wait_kernel, contended_latency_kernel

#: rows of ``step_scratch``'s per-thread array: the scan's inputs (frequency, LLC stall per access) and results
THREAD_ROWS = ("f_GHz", "llc_s", "comp_s", "stall_s", "spin_s", "weighted_comp", "instructions", "llc_accesses",
               "dram_misses")
#: rows of ``step_scratch``'s per-core array (``aggregate_cores``)
CORE_ROWS = ("activity", "busy", "instructions", "llc_accesses", "dram_misses")


@njit(cache=True)
def step_scratch(n_instances, n_threads, n_cores):
    """The arrays one engine step writes its results to (``advance_candidate``): per thread (``THREAD_ROWS``,
    instance, thread), per core (``CORE_ROWS``, core), the cores that run an instance, each thread's kernel type at
    the end of the step. A caller that steps many times allocates them once."""
    return (np.zeros((len(THREAD_ROWS), n_instances, n_threads)), np.zeros((len(CORE_ROWS), n_cores)),
            np.zeros(n_cores, dtype=np.bool_), np.zeros((n_instances, n_threads), dtype=np.int64))


@njit(cache=True, inline="always")
def advance_candidate(dt_s, n, time_s, kernel, remaining, penalty_s, thread_core, f_GHz, llc_latency_ns,
                      dram_latency_ns, traffic_llc, traffic, kernel_table, kernel_type, instance_end, params,
                      finished, finish_s, scratch):
    """One step of candidate ``n`` of an ``EngineState`` (its arrays, in place): ``run_epoch`` at the current
    latencies into ``scratch`` (``step_scratch``), then the step's traffic added to the memory-timing window and the
    clock advanced. ``kernel_table`` and ``params`` as ``EngineTables``. Returns the number of kernels finished."""
    n_instances, n_threads = remaining.shape[1], remaining.shape[2]
    core = thread_core[n].reshape((n_instances, n_threads))
    n_finished = run_epoch(dt_s, time_s[n], core, f_GHz[n], llc_latency_ns[n], dram_latency_ns[n], params[0],
                           kernel[n], instance_end, remaining[n], penalty_s[n], kernel_table, kernel_type, finished,
                           finish_s, params[2], params[3], scratch)
    threads, cores = scratch[0], scratch[1]
    comp_s, stall_s = threads[2], threads[3]
    core_llc, core_dram = cores[3], cores[4]
    busy_s = 0.0
    for i in range(comp_s.shape[0]):
        for th in range(comp_s.shape[1]):
            busy_s += comp_s[i, th] + stall_s[i, th]
    for c in range(core_llc.shape[0]):
        traffic_llc[n, c] += core_llc[c]
    traffic[n, 0] += core_dram.sum()
    traffic[n, 1] += busy_s
    traffic[n, 2] += dt_s
    time_s[n] += dt_s
    return n_finished


@njit(cache=True, inline="always")
def run_epoch(dt_s, now_s, core, f_core_GHz, llc_latency_ns, dram_latency_ns, mlp, kernel, instance_end, remaining,
              penalty_s, kernel_table, kernel_type, finished, finish_s, stall_activity, barrier_activity, scratch):
    """One epoch of every instance plus the per-core sums (see ``scan_epoch`` and ``aggregate_cores``), written to
    ``scratch`` (``step_scratch``); returns the number of kernels finished."""
    threads, cores, running, current_type = scratch
    threads[:] = 0.0
    n_instances, n_threads = remaining.shape
    f_thread, llc_s = threads[0], threads[1]
    for i in range(n_instances):
        for th in range(n_threads):
            c = core[i, th]
            if c >= 0:
                f_thread[i, th] = f_core_GHz[c]
                llc_s[i, th] = llc_latency_ns[c] * 1e-9 / mlp
    running_instance = kernel < instance_end
    comp_s, stall_s, spin_s, weighted_comp = threads[2], threads[3], threads[4], threads[5]
    thread_instr, thread_llc, thread_dram = threads[6], threads[7], threads[8]
    n_finished = scan_epoch(dt_s, now_s, kernel, instance_end, remaining, penalty_s, f_thread, llc_s,
                            dram_latency_ns * 1e-9 / mlp, kernel_table, comp_s, stall_s, spin_s, weighted_comp,
                            thread_instr, thread_llc, thread_dram, finished, finish_s)
    aggregate_cores(core, f_thread, running_instance, comp_s, stall_s, spin_s, weighted_comp, thread_instr,
                    thread_llc, thread_dram, stall_activity, barrier_activity, dt_s, cores, running)
    for i in range(n_instances):
        for th in range(n_threads):
            current_type[i, th] = kernel_type[kernel[i]] if kernel[i] < instance_end[i] else -1
    return n_finished


@njit(cache=True, inline="always")
def scan_epoch(dt_s, now_s, kernel, instance_end, remaining, penalty_s, f_thread_GHz, llc_s, dram_s, kernel_table,
               comp_s, stall_s, spin_s, weighted_comp, thread_instr, thread_llc, thread_dram, finished, finish_s):
    """Advance every instance by ``dt_s``; per-thread outputs are accumulated into the given zeroed arrays.
    ``kernel_table`` as ``EngineTables`` (rows: work cycles, instructions, LLC accesses, DRAM misses, activity,
    ready time, active threads).

    ``kernel``, ``remaining`` and ``penalty_s`` are the state (updated in place). ``finished``/``finish_s`` receive
    the index and absolute end time of every kernel finished in the epoch; the count is returned.
    """
    work_cycles, instructions, llc_accesses, dram_misses = kernel_table[0], kernel_table[1], kernel_table[2], \
        kernel_table[3]
    activity, ready_s, active_threads = kernel_table[4], kernel_table[5], kernel_table[6]
    n_instances, n_threads = remaining.shape
    n_finished = 0
    active_time = np.empty(n_threads)
    comp = np.empty(n_threads)
    stall = np.empty(n_threads)
    work = np.empty(n_threads)
    for i in range(n_instances):
        k = kernel[i]
        t = 0.0
        first = True
        while k < instance_end[i]:
            start = max(t, ready_s[k] - now_s)
            if start >= dt_s:
                break
            longest = 0.0
            for th in range(n_threads):
                w = 1.0 if th < active_threads[k] else 0.0
                if first:
                    w = min(w, remaining[i, th])
                gated = f_thread_GHz[i, th] <= 0.0
                if w > 0.0:
                    comp[th] = np.inf if gated else w * work_cycles[k] / (f_thread_GHz[i, th] * 1e9)
                    memory = llc_accesses[k] * llc_s[i, th] + dram_misses[k] * dram_s
                    stall[th] = np.inf if (gated and memory > 0.0) else w * memory
                else:
                    comp[th] = 0.0
                    stall[th] = 0.0
                work[th] = w
                active_time[th] = comp[th] + stall[th] + (penalty_s[i, th] if first else 0.0)
                longest = max(longest, active_time[th])
            end = start + longest
            if end <= dt_s:
                for th in range(n_threads):
                    comp_s[i, th] += comp[th]
                    stall_s[i, th] += stall[th] + (penalty_s[i, th] if first else 0.0)
                    spin_s[i, th] += longest - active_time[th]
                    weighted_comp[i, th] += comp[th] * activity[k]
                    thread_instr[i, th] += work[th] * instructions[k]
                    thread_llc[i, th] += work[th] * llc_accesses[k]
                    thread_dram[i, th] += work[th] * dram_misses[k]
                    remaining[i, th] = 1.0
                    penalty_s[i, th] = 0.0
                finished[n_finished] = k
                finish_s[n_finished] = now_s + end
                n_finished += 1
                t = end
                k += 1
                first = False
            else:
                elapsed = dt_s - start
                for th in range(n_threads):
                    pen = penalty_s[i, th] if first else 0.0
                    in_penalty = min(elapsed, pen)
                    full = comp[th] + stall[th]
                    if full == 0.0:
                        part = 1.0
                    elif np.isfinite(full):
                        part = min(max((elapsed - in_penalty) / full, 0.0), 1.0)
                    else:
                        part = 0.0
                    comp_s[i, th] += part * comp[th] if part > 0.0 else 0.0
                    stall_s[i, th] += in_penalty + (part * stall[th] if part > 0.0 else 0.0)
                    if np.isfinite(full):
                        spin_s[i, th] += elapsed - in_penalty - part * full
                    weighted_comp[i, th] += part * comp[th] * activity[k] if part > 0.0 else 0.0
                    frac = part * work[th]
                    thread_instr[i, th] += frac * instructions[k]
                    thread_llc[i, th] += frac * llc_accesses[k]
                    thread_dram[i, th] += frac * dram_misses[k]
                    remaining[i, th] = work[th] - frac
                    penalty_s[i, th] = pen - in_penalty
                break
        kernel[i] = k
    return n_finished


@njit(cache=True, inline="always")
def aggregate_cores(core, f_thread_GHz, running_instance, comp_s, stall_s, spin_s, weighted_comp, thread_instr,
                    thread_llc, thread_dram, stall_activity, barrier_activity, dt_s, cores, running):
    """Per-core sums of the per-thread results into ``cores`` (``CORE_ROWS``) and ``running`` (gated threads, at
    frequency 0, contribute nothing and are zeroed in place)."""
    cores[:] = 0.0
    running[:] = False
    activity, busy, instructions, llc, dram = cores[0], cores[1], cores[2], cores[3], cores[4]
    n_instances, n_threads = core.shape
    for i in range(n_instances):
        for th in range(n_threads):
            c = core[i, th]
            if c < 0:
                continue
            if f_thread_GHz[i, th] <= 0.0:
                comp_s[i, th] = 0.0
                stall_s[i, th] = 0.0
                spin_s[i, th] = 0.0
                weighted_comp[i, th] = 0.0
            running[c] = running_instance[i]
            activity[c] += weighted_comp[i, th] + stall_activity * stall_s[i, th] + barrier_activity * spin_s[i, th]
            busy[c] += comp_s[i, th] + stall_s[i, th] + spin_s[i, th]
            instructions[c] += thread_instr[i, th]
            llc[c] += thread_llc[i, th]
            dram[c] += thread_dram[i, th]
    for c in range(activity.shape[0]):
        activity[c] = min(activity[c] / dt_s, 1.0)
        busy[c] = min(busy[c] / dt_s, 1.0)


@njit(cache=True)
def dram_latency_ns(misses, busy_s, current_ns, base_ns, mlp, line_rate_per_s, dt_s):
    """DRAM response time for the next epoch: the asymptotic closed-queue bound ``R >= MLP (B / mu - Z)``.

    ``B`` = busy threads (busy time / epoch), ``mu`` = line rate of all controllers, ``Z`` = non-DRAM time per miss
    (busy time minus the DRAM stall at the current latency, per miss); never below the unloaded latency.
    """
    if misses <= 0.0:
        return base_ns
    dram_stall_s = misses * current_ns * 1e-9 / mlp
    other_per_miss_s = max(busy_s - dram_stall_s, 0.0) / misses
    bound_s = mlp * (busy_s / dt_s / line_rate_per_s - other_per_miss_s)
    return max(base_ns, bound_s * 1e9)


@njit(cache=True)
def close_timing_window(llc_latency_ns, dram_latency_ns_now, traffic_llc, traffic, mean_latency_ns,
                        link_flits_per_access, core_link_share, params):
    """End of a memory-timing window: the next window's LLC latencies (in place) from the window's per-core access
    rates (M/D/1 link waits when ``contention``, plus the bank wait when its service time is set) and its DRAM
    latency (``dram_latency_ns``, returned); the window's traffic is cleared. ``params`` as ``EngineTables.params``.
    """
    span_s = traffic[2]
    if span_s <= 0.0:
        return dram_latency_ns_now
    mlp, line_rate, base_dram_ns, noc_GHz = params[0], params[1], params[4], params[5]
    contention, service_cycles, n_banks = params[6] > 0.0, params[7], params[8]
    rates = traffic_llc / span_s
    if contention:
        contended_latency_kernel(mean_latency_ns, link_flits_per_access, core_link_share, rates, noc_GHz,
                                 llc_latency_ns)
    else:
        llc_latency_ns[:] = mean_latency_ns
    if service_cycles > 0.0:
        wait_ns = bank_wait_kernel(rates.sum(), service_cycles, noc_GHz, n_banks)
        for c in range(llc_latency_ns.shape[0]):
            llc_latency_ns[c] += wait_ns
    dram_now = dram_latency_ns(traffic[0], traffic[1], dram_latency_ns_now, base_dram_ns, mlp, line_rate, span_s)
    traffic_llc[:] = 0.0
    traffic[:] = 0.0
    return dram_now


@njit(cache=True, inline="always")
def retune(thread_core, f_new_GHz, f_GHz, moved, penalty_s, transition_s):
    """Charge a DVFS transition to every thread whose running core changes level (moved threads already paid for
    their move); then adopt the new levels in place (``f_GHz``)."""
    for t in range(thread_core.shape[0]):
        c = thread_core[t]
        if c >= 0 and not moved[t] and f_new_GHz[c] != f_GHz[c] and f_GHz[c] > 0.0:
            penalty_s[t] += transition_s
    for c in range(f_GHz.shape[0]):
        f_GHz[c] = f_new_GHz[c]
