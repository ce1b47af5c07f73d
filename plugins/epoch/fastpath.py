"""One compiled call per epoch for the common pairing: the built-in engine with the reduced-order thermal model.

``CoSimulation.step`` calls the engine, the power model, the thermal model and DTM one after the other through their
seams; each is a compiled kernel, but the Python between them (argument checks, small arrays, dataclasses) costs more
than the arithmetic at this size. ``fused_epoch`` chains the same kernels (``run_epoch``, ``retune``,
``contended_latency_kernel``, ``dram_latency_ns``, ``chip_power``, ``dtm_update``, ``place_row``) and the
reduced-order thermal step restricted to core temperatures inside one compiled function, so an epoch costs a single
call. It updates the engine's and the thermal model's state arrays in place, which is why it lives here and only
serves ``BuiltinEngine`` + ``ReducedOrderThermalModel``; ``tests/plugins/test_cosim.py`` checks it gives the same
records as the general path.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ailfm.plugins.engine._scan import dram_latency_ns, retune, run_epoch
from ailfm.plugins.epoch.kernels import chip_power, dtm_update, effective_frequency, place_row
from ailfm.plugins.system.nuca import contended_latency_kernel


@njit(cache=True)
def fused_epoch(epoch, params, f_decided, levels, throttled, gated, moved, thread_core, core, f_engine,
                llc_latency_ns, dram_state, kernel, instance_end, remaining, penalty_s, kernel_table, kernel_type,
                finished, finish_s, mean_latency_ns, link_flits_per_access, core_link_share, router_flits_per_access,
                contention, temperature_K, constants, core_column, bank_column, n_banks, power_W, decay, gain_cores,
                gain_banks, output_cores, modes, chip_scope, rec_floats, rec_ints, rec_throttled, rec_chip):
    """One epoch (see the module docstring); returns what the observation needs that is not in the records.

    ``params``: epoch, now, V/f step, f_min, DVFS transition, MLP, DRAM line rate, stall and barrier activity, NoC
    clock, ambient, V(f) intercept and slope. ``kernel_table`` rows: work cycles, instructions, LLC accesses, DRAM
    misses, activity, ready time, active threads (``BuiltinEngine._kernel_table``). ``constants``: the core-power,
    uncore and DTM constants, concatenated. ``rec_floats`` / ``rec_ints``: ``_Records``' field arrays.
    """
    dt_s, now_s, f_step, f_min, transition_s, mlp, line_rate = params[0], params[1], params[2], params[3], \
        params[4], params[5], params[6]
    stall_activity, barrier_activity, noc_GHz, ambient_K, v0, slope = params[7], params[8], params[9], params[10], \
        params[11], params[12]
    core_constants, uncore_constants, dtm_constants = constants[:10], constants[10:14], constants[14:17]
    rec_f, rec_f_effective, rec_voltage, rec_power = rec_floats[0], rec_floats[1], rec_floats[2], rec_floats[3]
    rec_temperature, rec_instructions = rec_floats[4], rec_floats[5]
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
        kernel_table[0], kernel_table[1], kernel_table[2], kernel_table[3], kernel_table[4], kernel_table[5],
        kernel_table[6], kernel_type, finished, finish_s, stall_activity, barrier_activity, n_cores)
    core_activity, core_busy, core_running, core_instr, core_llc, core_dram = cores

    router_flits = np.dot(router_flits_per_access, core_llc)
    bank_accesses = np.full(n_banks, core_llc.sum() / n_banks)
    core_W = rec_power[epoch]
    uncore_W = chip_power(f_effective, core_activity, temperature_K, gated, core_running, router_flits,
                          bank_accesses, core_constants, uncore_constants, dt_s, core_column, bank_column, power_W,
                          core_W)
    # the reduced-order thermal step (rom_step_kernel) restricted to what the loop reads: the engine's power maps
    # are spanned by one column per core plus one for all banks alike, and only core temperatures are needed
    forced = np.dot(gain_cores, core_W) + gain_banks * (uncore_W / n_banks)
    for m in range(modes.shape[0]):
        modes[m] = decay[m] * modes[m] + forced[m]
    rise = np.dot(output_cores, modes)
    for c in range(n_cores):
        temperature_K[c] = ambient_K + rise[c]
    events = dtm_update(temperature_K, throttled, gated, dtm_constants, chip_scope)

    if contention:
        contended_latency_kernel(mean_latency_ns, link_flits_per_access, core_link_share, core_llc / dt_s, noc_GHz,
                                 llc_latency_ns)
    busy_s = 0.0
    for i in range(comp_s.shape[0]):
        for th in range(comp_s.shape[1]):
            busy_s += comp_s[i, th] + stall_s[i, th]
    dram_state[0] = dram_latency_ns(core_dram.sum(), busy_s, dram_state[0], dram_state[1], mlp, line_rate, dt_s)

    place_row(thread_core, current_type.ravel(), f_effective, v0, slope, rec_ints[0, epoch], rec_ints[1, epoch],
              rec_voltage[epoch])
    rec_temperature[epoch][:] = temperature_K
    rec_instructions[epoch][:] = core_instr
    rec_throttled[epoch, :] = throttled
    core_total = core_W.sum()
    rec_chip[epoch, 0] = now_s + dt_s
    rec_chip[epoch, 1] = core_total + uncore_W
    rec_chip[epoch, 2] = core_total
    rec_chip[epoch, 3] = uncore_W
    rec_chip[epoch, 4] = temperature_K.max() - 273.15
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
