"""The epoch model: one chip epoch's physics, once, as compiled functions over arrays with a leading candidate axis.

Every caller advances the chip through these functions: the co-simulation loop (one candidate; ``CoSimulation``),
the Oracle's look-ahead (many candidates over a horizon; ``plugins/epoch/lookahead.py``) and, for the thermal step,
the shield's model of the chip (``plugins/imitation/shield.py``). A governor epoch (``thermal.epoch_s``) is
``substeps`` sub-steps (``thermal.dtm_interval_s``, 50 us in the shipped systems); each sub-step:

1. **DTM's effective frequency** (``effective_frequency``): 0 when clock-gated, f_min when throttled, the governor's
   request (snapped to the V/f grid, ``snap_levels``) otherwise; a core whose level changes charges its thread a
   DVFS transition (``retune``).
2. **Thread progress** (``advance_candidate`` in ``plugins/engine/scan.py``): every instance's kernels, each ending
   at its slowest thread (barriers), with S-NUCA and DRAM stalls at the current memory latencies and the stalls
   owed for migrations and DVFS transitions.
3. **Power** (``chip_power``): cores with temperature-dependent leakage (``system/power.py``), routers, LLC banks.
4. **Thermal step** (``modal_step``): the linear model in modal form, ``z <- decay z + G_core p_core + g_bank
   p_bank``, read out at the cores (``ailfm.thermal.base.LinearView``, restricted to the chip's power maps).
5. **DTM** (``dtm_update``): the sensors read every sub-step, as a chip's thermal sensors and PROCHOT do.

At the end of the epoch the memory system's timing window closes (``close_timing_window``: NoC and bank queueing,
DRAM bandwidth) and the epoch's outputs are averaged (``finish_epoch``). ``run_candidates`` chains all of it for N
candidates and a horizon of epochs in one compiled call; the loop's seam-by-seam path (any engine, any thermal
model) calls the same pieces one by one (``CoSimulation``), with the engine's own ``advance`` for step 2.

Outputs (one epoch, or the whole horizon where marked): ``out_core`` (CORE_FIELDS, N, n_cores), ``out_ints`` (2, N,
n_cores: thread and kernel type on each core), ``out_throttled`` (N, n_cores), ``out_thread`` (4, N, n_threads:
instructions, LLC accesses, DRAM misses, busy seconds), ``out_kernel`` (N, n_threads), ``out_chip`` (N, CHIP_FIELDS)
and ``out_counts`` (N, 2: DTM events over the horizon, kernels finished in the last epoch).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ailfm.plugins.engine.scan import advance_candidate, close_timing_window, retune
from ailfm.plugins.system.power import core_power_kernel

#: per-core outputs of an epoch: the request, the time-mean effective frequency and its voltage, mean power (core +
#: router), temperature at the end, instructions, mean switching activity, mean load
CORE_FIELDS = ("f_GHz", "f_effective_GHz", "voltage_V", "power_W", "temperature_K", "instructions", "activity",
               "utilisation")
#: per-candidate chip outputs: time at the end, mean chip/core/uncore power of the last epoch; over the horizon: the
#: hottest core at any sub-step (C), tokens, seconds with a core above T_max (sub-step resolution), instructions, the
#: hottest core at the end of an epoch (C; what the governor samples)
CHIP_FIELDS = ("time_s", "chip_power_W", "core_power_W", "uncore_power_W", "peak_temp_C", "tokens", "above_tmax_s",
               "instructions", "epoch_end_peak_C")
#: ``chip_params`` of ``run_candidates``
CHIP_PARAMS = ("dt_sub_s", "f_min_GHz", "ambient_K", "v0_V", "v_slope_V_per_GHz", "dtm_trigger_K", "dtm_release_K",
               "dtm_stop_K", "dtm_chip_scope", "t_max_C", "n_banks")


@njit(cache=True)
def snap_levels(f_GHz, levels, f_min, f_step, out):
    """The highest V/f level not above each request, clipped to the grid (``DvfsSpec.snap_GHz``)."""
    for c in range(out.shape[0]):
        step = int(np.floor((f_GHz[c] - f_min) / f_step + 1e-6))
        out[c] = levels[min(max(step, 0), levels.shape[0] - 1)]


@njit(cache=True)
def effective_frequency(f_request, throttled, gated, f_min, out):
    """What DTM lets each core run at: 0 when clock-gated, f_min when throttled, the request otherwise."""
    for c in range(out.shape[0]):
        out[c] = 0.0 if gated[c] else (f_min if throttled[c] else f_request[c])


@njit(cache=True)
def chip_power(f_effective, activity, temperature_K, gated, running, router_flits, bank_accesses, core_constants,
               uncore_constants, dt_s, core_out_W, bank_out_W):
    """Power of a step: per core (``core_power_kernel``: state gated, running, else idle) plus its tile's router
    (flits x energy + static power; the floorplan has no router block), per bank (accesses x energy + leakage).
    Returns the banks' total."""
    n_cores = f_effective.shape[0]
    state = np.empty(n_cores, dtype=np.int64)
    for c in range(n_cores):
        state[c] = 2 if gated[c] else (0 if running[c] else 1)
    dynamic, leakage = np.empty(n_cores), np.empty(n_cores)
    core_power_kernel(f_effective, activity, temperature_K, state, core_constants, dynamic, leakage)
    bank_energy_J, bank_leakage_W, flit_energy_J, router_static_W = uncore_constants[:4]
    for c in range(n_cores):
        core_out_W[c] = dynamic[c] + leakage[c] + router_flits[c] * flit_energy_J / dt_s + router_static_W
    banks_W = 0.0
    for b in range(bank_out_W.shape[0]):
        bank_out_W[b] = bank_accesses[b] * bank_energy_J / dt_s + bank_leakage_W
        banks_W += bank_out_W[b]
    return banks_W


@njit(cache=True)
def modal_step(modes, decay, core_gain, bank_gain, core_W, bank_W):
    """The linear thermal step in place: ``z <- decay z + core_gain @ p_core + bank_gain p_bank`` (every bank at
    ``bank_W``; ``ThermalTwin``)."""
    forced = np.dot(core_gain, core_W) + bank_gain * bank_W
    for m in range(modes.shape[0]):
        modes[m] = decay[m] * modes[m] + forced[m]


@njit(cache=True)
def core_temperatures(core_output, modes, ambient_K, out_K):
    """``T = ambient + core_output @ z``."""
    rise = np.dot(core_output, modes)
    for c in range(out_K.shape[0]):
        out_K[c] = ambient_K + rise[c]


@njit(cache=True)
def dtm_update(temperature_K, throttled, gated, constants, chip_scope):
    """DTM after a thermal step, in place; returns the number of cores newly throttled.

    Throttle at or above the trigger, release below the release temperature; a core that was already throttled and
    is still above trigger + stop margin is clock-gated for the next step. ``chip_scope`` senses the hottest core.
    """
    trigger_K, release_K, stop_K = constants[0], constants[1], constants[2]
    hottest = temperature_K.max()
    events = 0
    for c in range(temperature_K.shape[0]):
        sensed = hottest if chip_scope else temperature_K[c]
        now = sensed >= trigger_K or (throttled[c] and sensed >= release_K)
        gated[c] = throttled[c] and temperature_K[c] > stop_K
        if now and not throttled[c]:
            events += 1
        throttled[c] = now
    return events


@njit(cache=True)
def start_candidate(n, row, out_chip, out_counts):
    """Reset candidate ``n``'s over-the-horizon outputs (peak, tokens, time above T_max, instructions, DTM events);
    ``row``: its row of the per-core and chip outputs."""
    for f in range(5, 8):
        out_chip[row, f] = 0.0
    out_chip[row, 4] = out_chip[row, 8] = -np.inf
    out_counts[n, 0] = 0


@njit(cache=True)
def start_epoch(n, row, out_core, out_thread, out_chip):
    """Zero candidate ``n``'s per-epoch accumulators."""
    for f in range(1, out_core.shape[0]):
        out_core[f, row, :] = 0.0
    for f in range(out_thread.shape[0]):
        out_thread[f, n, :] = 0.0
    for f in range(1, 4):
        out_chip[row, f] = 0.0


@njit(cache=True)
def accumulate_substep(n, row, f_effective, core_W, uncore_W, temperature_K, activity, busy, core_instructions,
                       thread_instructions, thread_llc, thread_dram, thread_busy_s, tokens, events, t_max_C, dt_s,
                       out_core, out_thread, out_chip, out_counts):
    """Add one sub-step to candidate ``n``'s outputs (sums; ``finish_epoch`` turns them into means)."""
    core_total = 0.0
    hottest = -np.inf
    instructions = 0.0
    for c in range(core_W.shape[0]):
        out_core[1, row, c] += f_effective[c]
        out_core[3, row, c] += core_W[c]
        out_core[4, row, c] = temperature_K[c]
        out_core[5, row, c] += core_instructions[c]
        out_core[6, row, c] += activity[c]
        out_core[7, row, c] += busy[c]
        core_total += core_W[c]
        hottest = max(hottest, temperature_K[c])
        instructions += core_instructions[c]
    for t in range(thread_instructions.shape[0]):
        out_thread[0, n, t] += thread_instructions[t]
        out_thread[1, n, t] += thread_llc[t]
        out_thread[2, n, t] += thread_dram[t]
        out_thread[3, n, t] += thread_busy_s[t]
    out_chip[row, 1] += core_total + uncore_W
    out_chip[row, 2] += core_total
    out_chip[row, 3] += uncore_W
    out_chip[row, 4] = max(out_chip[row, 4], hottest - 273.15)
    out_chip[row, 5] += tokens
    if hottest - 273.15 > t_max_C:
        out_chip[row, 6] += dt_s
    out_chip[row, 7] += instructions
    out_counts[n, 0] += events


@njit(cache=True)
def finish_epoch(n, row, substeps, thread_core, thread_kernel_type, throttled, time_s, v0, slope, out_core, out_ints,
                 out_throttled, out_kernel, out_chip):
    """Candidate ``n``'s epoch means, the thread and kernel on each core, the voltage of the mean frequency."""
    if substeps > 1:
        for f in (1, 3, 6, 7):
            for c in range(out_core.shape[2]):
                out_core[f, row, c] /= substeps
        for f in range(1, 4):
            out_chip[row, f] /= substeps
    out_ints[0, row, :] = -1
    out_ints[1, row, :] = -1
    for t in range(thread_core.shape[0]):
        out_kernel[n, t] = thread_kernel_type[t]
        if thread_core[t] >= 0:
            out_ints[0, row, thread_core[t]] = t
            out_ints[1, row, thread_core[t]] = thread_kernel_type[t]
    for c in range(out_core.shape[2]):
        f = out_core[1, row, c]
        out_core[2, row, c] = v0 + slope * f if f > 0 else 0.0
        out_throttled[row, c] = throttled[c]
        out_chip[row, 8] = max(out_chip[row, 8], out_core[4, row, c] - 273.15)
    out_chip[row, 0] = time_s


@njit(cache=True)
def run_candidates(horizon, substeps, f_request, moved,
                   time_s, kernel, remaining, penalty_s, thread_core, f_engine, llc_latency_ns, dram_latency_ns,
                   traffic_llc, traffic,
                   kernel_table, kernel_type, tokens, instance_end, mean_latency_ns, link_flits_per_access,
                   core_link_share, router_flits_per_access, engine_params,
                   throttled, gated, temperature_K, modes,
                   decay, core_gain, bank_gain, core_output, chip_params, core_constants, uncore_constants,
                   first_row, out_core, out_ints, out_throttled, out_thread, out_kernel, out_chip, out_counts, finished,
                   finish_s):
    """``horizon`` epochs of every candidate (see the module docstring), each holding its ``f_request`` (N,
    n_cores, on the V/f grid); every state array (engine: ``EngineState``; loop: DTM flags, core temperatures,
    thermal modes) has the candidate axis first and is advanced in place. ``moved`` (N, n_threads): threads that
    have just been moved (they paid for the move and pay no DVFS transition with it). ``finished``/``finish_s``
    receive the last candidate's kernels finished in its last epoch (count in ``out_counts[:, 1]``). Candidate ``n``
    writes row ``first_row + n`` of the per-core and chip outputs (the loop passes its record arrays and the epoch).
    """
    n_candidates, n_cores = f_request.shape
    dt_sub, f_min, ambient_K, v0, slope = chip_params[0], chip_params[1], chip_params[2], chip_params[3], \
        chip_params[4]
    dtm_constants = chip_params[5:8]
    chip_scope, t_max_C, n_banks = chip_params[8] > 0.0, chip_params[9], int(chip_params[10])
    transition_s, model_timing = engine_params[10], engine_params[9] > 0.0
    f_effective = np.empty(n_cores)
    core_W = np.empty(n_cores)
    bank_accesses = np.empty(n_banks)
    bank_W = np.empty(n_banks)
    for n in range(n_candidates):
        row = first_row + n
        start_candidate(n, row, out_chip, out_counts)
        moved_now = moved[n]
        for _ in range(horizon):
            start_epoch(n, row, out_core, out_thread, out_chip)
            n_finished = 0
            thread_type = np.empty(0, dtype=np.int64)
            for _ in range(substeps):
                effective_frequency(f_request[n], throttled[n], gated[n], f_min, f_effective)
                retune(thread_core[n], f_effective, f_engine[n], moved_now, penalty_s[n].reshape(-1), transition_s)
                moved_now = np.zeros_like(moved[n])
                (done, comp_s, stall_s, thread_instr, thread_llc, thread_dram, current_type,
                 cores) = advance_candidate(dt_sub, n, time_s, kernel, remaining, penalty_s, thread_core, f_engine,
                                            llc_latency_ns, dram_latency_ns, traffic_llc, traffic, kernel_table,
                                            kernel_type, instance_end, engine_params, n_cores,
                                            finished[n_finished:], finish_s[n_finished:])
                activity, busy, running, core_instr, core_llc, _ = cores
                step_tokens = 0.0
                for k in range(n_finished, n_finished + done):
                    step_tokens += tokens[finished[k]]
                n_finished += done
                router_flits = np.dot(router_flits_per_access, core_llc)
                per_bank = core_llc.sum() / n_banks
                bank_accesses[:] = per_bank
                uncore_W = chip_power(f_effective, activity, temperature_K[n], gated[n], running, router_flits,
                                      bank_accesses, core_constants, uncore_constants, dt_sub, core_W, bank_W)
                modal_step(modes[n], decay, core_gain, bank_gain, core_W, uncore_W / n_banks)
                core_temperatures(core_output, modes[n], ambient_K, temperature_K[n])
                events = dtm_update(temperature_K[n], throttled[n], gated[n], dtm_constants, chip_scope)
                accumulate_substep(n, row, f_effective, core_W, uncore_W, temperature_K[n], activity, busy, core_instr,
                                   thread_instr.ravel(), thread_llc.ravel(), thread_dram.ravel(),
                                   (comp_s + stall_s).ravel(), step_tokens, events, t_max_C, dt_sub, out_core,
                                   out_thread, out_chip, out_counts)
                thread_type = current_type.ravel()
            if model_timing:
                dram_latency_ns[n] = close_timing_window(llc_latency_ns[n], dram_latency_ns[n], traffic_llc[n],
                                                         traffic[n], mean_latency_ns, link_flits_per_access,
                                                         core_link_share, engine_params)
            finish_epoch(n, row, substeps, thread_core[n], thread_type, throttled[n], time_s[n], v0, slope, out_core,
                         out_ints, out_throttled, out_kernel, out_chip)
            out_counts[n, 1] = n_finished


@njit(cache=True)
def thread_rates(n, out_thread, ips, llc_apki, dram_mpki):
    """Per thread of candidate ``n``: instructions per busy second, LLC accesses and DRAM misses per
    kilo-instruction (0 where it did nothing)."""
    for t in range(ips.shape[0]):
        instructions, busy_s = out_thread[0, n, t], out_thread[3, n, t]
        ips[t] = llc_apki[t] = dram_mpki[t] = 0.0
        if instructions > 0.0:
            llc_apki[t] = 1000.0 * out_thread[1, n, t] / instructions
            dram_mpki[t] = 1000.0 * out_thread[2, n, t] / instructions
            if busy_s > 0.0:
                ips[t] = instructions / busy_s


def chip_parameters(system, substeps: int) -> np.ndarray:
    """``run_candidates``' ``chip_params`` (``CHIP_PARAMS``) for a system at ``substeps`` sub-steps per epoch."""
    th, dvfs = system.thermal, system.dvfs
    trigger_K = th.dtm_trigger_C + 273.15
    return np.array([th.epoch_s / substeps, dvfs.f_min_GHz, th.ambient_K, dvfs.v_at_zero_V, dvfs.v_slope_V_per_GHz,
                     trigger_K, th.dtm_release_C + 273.15, trigger_K + th.dtm_stop_margin_K,
                     float(th.dtm_scope == "chip"), th.t_max_C, system.n_banks])


def uncore_constants(system) -> np.ndarray:
    """``chip_power``'s uncore constants: LLC access energy (J), bank leakage (W), flit energy (J), router static
    (W)."""
    p = system.power
    return np.array([p.llc_read_energy_nJ * 1e-9, p.llc_leakage_W_per_bank, p.router_energy_pJ_per_flit * 1e-12,
                     p.router_static_W])
