"""One compiled call per epoch for the common pairing: the built-in engine with the reduced-order thermal model.

``CoSimulation.step`` calls the engine, the power model, the thermal model and DTM one after the other through their
seams; each is a compiled kernel, but the Python between them (argument checks, small arrays, dataclasses) costs more
than the arithmetic at this size. ``fused_epoch`` chains the very same kernels (``run_epoch``, ``retune``,
``contended_latency_kernel``, ``dram_latency_ns``, ``chip_power``, ``rom_step_kernel``, ``dtm_update``,
``place_row``) inside one compiled function, so an epoch costs a single call. It touches the engine's and the thermal
model's state arrays in place, which is why it lives here and only serves ``BuiltinEngine`` +
``ReducedOrderThermalModel``; ``tests/plugins/test_cosim.py`` checks it gives the same records as the general path.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ailfm.plugins.chip_kernels import chip_power, dtm_update, effective_frequency, place_row
from ailfm.plugins.engine._scan import dram_latency_ns, retune, run_epoch
from ailfm.plugins.nuca import contended_latency_kernel
from ailfm.plugins.thermal_rom import rom_step_kernel


@njit(cache=True)
def fused_epoch(epoch, dt_s, now_s, f_decided, levels, f_step, f_min, throttled, gated, moved, thread_core, core,
                f_engine, transition_s, llc_latency_ns, dram_state, mlp, line_rate, kernel, instance_end, remaining,
                penalty_s, work_cycles, instructions, llc_accesses, dram_misses, activity, ready_s, active_threads,
                kernel_type, finished, finish_s, stall_activity, barrier_activity, mean_latency_ns,
                link_flits_per_access, core_link_share, router_flits_per_access, noc_GHz, contention,
                temperature_K, core_constants, uncore_constants, core_column, bank_column, n_banks, power_W,
                decay, gain, output, modes, ambient_K, core_output, outputs_K, dtm_constants, chip_scope,
                v0, slope, rec_thread, rec_kernel, rec_f, rec_f_effective, rec_voltage, rec_power, rec_temperature,
                rec_instructions, rec_throttled, rec_chip):
    """One epoch (see the module docstring); returns what the observation needs that is not in the records."""
    n_cores = f_decided.shape[0]
    f_request = rec_f[epoch]
    for c in range(n_cores):  # snap to the V/f grid: the highest level not above the request (DvfsSpec.snap_GHz)
        step = int(np.floor((f_decided[c] - f_min) / f_step + 1e-6))
        f_request[c] = levels[min(max(step, 0), levels.shape[0] - 1)]
    f_effective = rec_f_effective[epoch]
    effective_frequency(f_request, throttled, gated, f_min, f_effective)
    retune(thread_core, f_effective, f_engine, moved, penalty_s.reshape(-1), transition_s)
    n_finished, comp_s, stall_s, thread_instr, thread_llc, thread_dram, current_type, cores = run_epoch(
        dt_s, now_s, core, f_engine, llc_latency_ns, dram_state[0], mlp, kernel, instance_end, remaining, penalty_s,
        work_cycles, instructions, llc_accesses, dram_misses, activity, ready_s, active_threads, kernel_type,
        finished, finish_s, stall_activity, barrier_activity, n_cores)
    core_activity, core_busy, core_running, core_instr, core_llc, core_dram = cores

    router_flits = np.dot(router_flits_per_access, core_llc)
    bank_accesses = np.full(n_banks, core_llc.sum() / n_banks)
    core_W = rec_power[epoch]
    uncore_W = chip_power(f_effective, core_activity, temperature_K, gated, core_running, router_flits,
                          bank_accesses, core_constants, uncore_constants, dt_s, core_column, bank_column, power_W,
                          core_W)
    rom_step_kernel(decay, gain, output, modes, power_W, ambient_K, outputs_K)
    for c in range(n_cores):
        temperature_K[c] = outputs_K[core_output[c]]
    events = dtm_update(temperature_K, throttled, gated, dtm_constants, chip_scope)

    if contention:
        contended_latency_kernel(mean_latency_ns, link_flits_per_access, core_link_share, core_llc / dt_s, noc_GHz,
                                 llc_latency_ns)
    busy_s = 0.0
    for i in range(comp_s.shape[0]):
        for th in range(comp_s.shape[1]):
            busy_s += comp_s[i, th] + stall_s[i, th]
    dram_state[0] = dram_latency_ns(core_dram.sum(), busy_s, dram_state[0], dram_state[1], mlp, line_rate, dt_s)

    place_row(thread_core, current_type.ravel(), f_effective, v0, slope, rec_thread[epoch], rec_kernel[epoch],
              rec_voltage[epoch])
    rec_temperature[epoch][:] = temperature_K
    rec_instructions[epoch][:] = core_instr
    rec_throttled[epoch][:] = throttled
    core_total = core_W.sum()
    rec_chip[epoch, 0] = now_s + dt_s
    rec_chip[epoch, 1] = core_total + uncore_W
    rec_chip[epoch, 2] = core_total
    rec_chip[epoch, 3] = uncore_W
    rec_chip[epoch, 4] = outputs_K.max() - 273.15
    n_threads = thread_core.shape[0]
    thread_ips = np.zeros(n_threads)
    thread_apki = np.zeros(n_threads)
    thread_mpki = np.zeros(n_threads)
    flat_instr, flat_busy = thread_instr.ravel(), (comp_s + stall_s).ravel()
    flat_llc, flat_dram = thread_llc.ravel(), thread_dram.ravel()
    for t in range(n_threads):
        if flat_instr[t] > 0.0:
            thread_apki[t] = 1000.0 * flat_llc[t] / flat_instr[t]
            thread_mpki[t] = 1000.0 * flat_dram[t] / flat_instr[t]
            if flat_busy[t] > 0.0:
                thread_ips[t] = flat_instr[t] / flat_busy[t]
    return (n_finished, events, uncore_W, core_activity, core_busy, core_instr / dt_s, thread_ips, thread_apki,
            thread_mpki, current_type.ravel())
