"""Compiled per-epoch chip kernels shared by the co-simulation loop and its fused fast path: DTM's effective
frequency, the chip's power map, the DTM state update and the per-core record row."""

from __future__ import annotations

import numpy as np
from numba import njit

from ailfm.plugins.system.power import core_power_kernel


@njit(cache=True)
def place_row(placement, thread_kernel_type, f_effective, v0, slope, thread_out, kernel_out, voltage_out):
    thread_out[:] = -1
    kernel_out[:] = -1
    for t in range(placement.shape[0]):
        if placement[t] >= 0:
            thread_out[placement[t]] = t
            kernel_out[placement[t]] = thread_kernel_type[t]
    for c in range(f_effective.shape[0]):
        voltage_out[c] = v0 + slope * f_effective[c] if f_effective[c] > 0 else 0.0


@njit(cache=True)
def effective_frequency(f_request, throttled, gated, f_min, out):
    """What DTM lets each core run at: 0 when clock-gated, f_min when throttled, the request otherwise."""
    for c in range(out.shape[0]):
        out[c] = 0.0 if gated[c] else (f_min if throttled[c] else f_request[c])


@njit(cache=True)
def chip_power(f_effective, activity, temperature_K, gated, running, router_flits, bank_accesses, core_constants,
               uncore_constants, dt_s, core_column, bank_column, power_out, core_out_W):
    """Power of the epoch into the thermal model's input vector; returns the LLC banks' total.

    Cores through ``core_power_kernel`` (state: gated, running, else idle), each router adds its flits x energy +
    static power to its tile's core block, banks their accesses x energy + leakage.
    """
    n_cores = f_effective.shape[0]
    state = np.empty(n_cores, dtype=np.int64)
    for c in range(n_cores):
        state[c] = 2 if gated[c] else (0 if running[c] else 1)
    dynamic, leakage = np.empty(n_cores), np.empty(n_cores)
    core_power_kernel(f_effective, activity, temperature_K, state, core_constants, dynamic, leakage)
    bank_energy_J, bank_leakage_W, flit_energy_J, router_static_W = uncore_constants[:4]
    for c in range(n_cores):
        core_out_W[c] = dynamic[c] + leakage[c] + router_flits[c] * flit_energy_J / dt_s + router_static_W
        power_out[core_column[c]] = core_out_W[c]
    banks_W = 0.0
    for b in range(bank_column.shape[0]):
        bank_W = bank_accesses[b] * bank_energy_J / dt_s + bank_leakage_W
        power_out[bank_column[b]] = bank_W
        banks_W += bank_W
    return banks_W


@njit(cache=True)
def dtm_update(temperature_K, throttled, gated, constants, chip_scope):
    """DTM after a thermal step, in place; returns the number of cores newly throttled.

    Throttle at or above the trigger, release below the release temperature; a core that was already throttled and
    is still above trigger + stop margin is clock-gated for the next epoch. ``chip_scope`` senses the hottest core.
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
