"""A model-predictive thermal shield: the learned V/f, lowered just enough that no core is predicted above the limit.

An imitation-learned policy errs now and then; near T_max an error costs a DTM event and time above the limit. The
shield therefore checks every decision with the governor's own linear thermal model of the chip
(``ailfm.plugins.epoch.chip_thermal.ThermalTwin``, stepped with the observed core and uncore powers, its offset from the
measured temperatures carried forward): it predicts every core's temperature at the end of the coming epoch from the
requested levels, and while a core is predicted above ``T_max - guard_K`` it lowers by one level a running core
whose step down cools that core (often the core itself; for an idle core heated from beside or below, a
neighbour): of those that cool it nearly as well as the best (``SPREAD``), the fastest, so that the cut is spread
and no thread becomes the straggler its tensor-parallel instance waits for at every barrier. The policy's V/f is
kept wherever it is safe, so the shield acts only where the policy errs.

Power of the coming epoch per core and level: the power model (``system/power.py``) at the level's voltage, with
the highest switching activity the core's thread has shown while busy so far in the run (a moved thread brings its
own; a thread that has not run yet, waiting for its request, counts as fully active),
leakage at the core's current temperature, plus what the model did not explain last epoch (router power, model
error). The highest, not the last, activity: a thread's kernel mix changes from epoch to epoch, and with the last
epoch's activity the prediction missed rises of up to 1.9 K on BERT-large prefill (a training workload; measured,
docs/ail.md). DTM-throttled cores run at f_min whatever they ask. ``SHIELD_GUARD_K`` covers the rest.

With ``spin_floor`` a running thread counts as at least as active as a thread spinning at a barrier
(``power.barrier_activity``): a memory-bound thread shows ~0.28 while it works, but the threads that finish a long
kernel first spin (0.35) for the slowest; on Llama-3-8B's 128 k-vocabulary head that spin filled whole epochs the
prediction missed (docs/ail.md, "Why ail went above T_max"). Off by default: the shipped policies were trained
and evaluated without it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ailfm.plugins.epoch.model import modal_step
from ailfm.plugins.governors.base import Decision, GovernorContext, Observation
from ailfm.plugins.system.power import core_power_kernel

#: margin below T_max of the predicted temperature [tuned on training workloads only (docs/ail.md): with it no run of
#: BERT-large, Llama-2-7B, GPT2-XL or OPT-6.7B went above T_max; peaks 79.40-79.47 C]
SHIELD_GUARD_K = 0.6
#: water-filling: of the running cores whose one-level step cools a violator at least this fraction as well as the
#: best one, the fastest steps down. Trimming only the single most effective core made stragglers that stall their
#: instance at every barrier [tuned on training workloads (docs/ail.md): GPT2-XL 8.23 -> 8.63 tokens/s]
SPREAD = 0.5


class PredictiveShield:
    """Per-epoch cap on a governor's V/f from a one-epoch thermal prediction (see the module docstring).

    Call ``observe`` with every observation (it steps the thermal twin), then ``limit`` with the requested levels.
    Both are compiled loops: the whole decision has a 50 us budget.
    """

    def __init__(self, context: GovernorContext, guard_K: float = SHIELD_GUARD_K, spin_floor: bool = False):
        twin = context.thermal_twin
        system, power = context.system, context.power
        self.context = context
        self.decay = twin.decay
        self.core_gain = np.ascontiguousarray(twin.core_gain)
        self.bank_gain = twin.bank_gain
        self.blame_K_per_W = np.ascontiguousarray(twin.core_output @ twin.core_gain)  # (n_cores, n_cores)
        self.bank_rise_K_per_W = twin.core_output @ twin.bank_gain  # (n_cores,) per watt in every bank
        #: next epoch's free response relative to now: T_next = T_now + (output * (decay - 1)) @ z + bank and core terms
        self.free_change = np.ascontiguousarray(twin.core_output * (twin.decay - 1.0)[None, :])
        self.n_banks = system.n_banks
        self.limit_K = system.thermal.t_max_K - guard_K
        self.levels_GHz = system.dvfs.levels_GHz
        self.constants = power.constants
        per_level = power.core_power(self.levels_GHz, 1.0, system.power.leakage_ref_C + 273.15,
                                     np.zeros(len(self.levels_GHz), dtype=np.int64))
        self.dynamic_W_per_activity = per_level.dynamic_W  # per level, at activity 1
        self.leakage_W_at_reference = per_level.leakage_W  # per level, at the leakage reference temperature
        self.modes = np.zeros_like(twin.decay)  # the loop starts from ambient: z = 0
        self.free_K = np.full(context.n_cores, twin.ambient_K)
        self.thread_activity = np.full(context.n_threads, -1.0)  # the highest each thread has shown; < 0: not yet
        self.activity_floor = system.power.barrier_activity if spin_floor else 0.0

    def observe(self, obs: Observation) -> None:
        """Step the twin with the epoch the observation reports and predict the coming epoch without core power."""
        if obs.epoch > 0:
            _hold_peak(self.thread_activity, obs.thread_core, obs.activity, obs.utilisation, self.activity_floor)
        _twin_step(self.modes, self.decay, self.core_gain, self.bank_gain, obs.power_W,
                   obs.uncore_power_W / self.n_banks, obs.epoch > 0, self.free_change, self.bank_rise_K_per_W,
                   obs.temperature_K, self.free_K)

    def limit(self, f_GHz: np.ndarray, placement: np.ndarray, obs: Observation) -> np.ndarray:
        """The requested per-core frequencies, lowered where the prediction exceeds the limit, for ``placement``."""
        level = _capped_levels(np.asarray(f_GHz, dtype=np.float64), self.levels_GHz,
                               np.asarray(placement, dtype=np.int64), obs.thread_core, obs.thread_kernel_type,
                               self.thread_activity, obs.activity, obs.dtm_throttled, obs.f_effective_GHz,
                               obs.power_W, obs.temperature_K, self.constants, self.dynamic_W_per_activity,
                               self.leakage_W_at_reference, self.free_K, self.blame_K_per_W, self.limit_K)
        return self.levels_GHz[level]

    def decision(self, f_GHz: np.ndarray, placement: np.ndarray | None, obs: Observation) -> Decision:
        """The governor's decision: the requested V/f limited for the new placement (None: threads stay)."""
        return Decision(self.limit(f_GHz, obs.thread_core if placement is None else placement, obs), placement)


@njit(cache=True)
def _twin_step(modes, decay, core_gain, bank_gain, core_W, bank_W, step, free_change, bank_rise, temperature_K,
               free_K):
    """In place: the epoch model's thermal step (``modal_step``, when ``step``), then the coming epoch's
    temperatures without core power, ``T_now + free_change z + bank_rise p_bank``: measured now plus the twin's change,
    so the twin's offset from the sensors carries forward."""
    if step:
        modal_step(modes, decay, core_gain, bank_gain, core_W, bank_W)
    order, n = core_gain.shape
    for c in range(n):
        total = temperature_K[c] + bank_rise[c] * bank_W
        for k in range(order):
            total += free_change[c, k] * modes[k]
        free_K[c] = total


@njit(cache=True)
def _hold_peak(thread_activity, thread_core, core_activity, core_utilisation, floor):
    """Each placed thread's highest switching activity while busy so far (at least ``floor``), in place: the epoch's
    mean activity over its busy fraction (a request that arrives within the epoch ran for part of it only). An epoch
    without load (a thread waiting for its request) says nothing: the thread keeps "not yet observed" (the worst case)
    until it runs."""
    for t in range(thread_core.shape[0]):
        c = thread_core[t]
        if c >= 0 and core_utilisation[c] > 0.0:
            thread_activity[t] = max(thread_activity[t], floor, min(core_activity[c] / core_utilisation[c], 1.0))


@njit(cache=True)
def _capped_levels(f_GHz, levels_GHz, placement, placement_before, kernel_type, thread_activity, core_activity,
                   throttled, f_effective_GHz, power_W, temperature_K, constants, dynamic_W_per_activity,
                   leakage_W_at_reference, free_K, blame, limit_K):
    """Level indices: the requested ones, then, while a core is predicted above ``limit_K``, the running core whose
    one-level step down cools the hottest violator most goes down one level."""
    n, n_levels = f_GHz.shape[0], levels_GHz.shape[0]
    leak_ref_K, beta, idle_W = constants[6], constants[7], constants[8]
    level = np.empty(n, dtype=np.int64)
    running = np.zeros(n, dtype=np.bool_)
    ran = np.zeros(n, dtype=np.bool_)
    activity = np.zeros(n)
    for t in range(placement.shape[0]):
        if kernel_type[t] >= 0:
            if placement[t] >= 0:
                running[placement[t]] = True
                # never observed: assume the worst
                activity[placement[t]] = thread_activity[t] if thread_activity[t] >= 0.0 else 1.0
            if placement_before[t] >= 0:
                ran[placement_before[t]] = True
    # what the power model says each core drew last epoch (running what it ran, or idle)
    state = np.where(ran, 0, 1)
    modelled_dynamic_W, modelled_leakage_W = np.empty(n), np.empty(n)
    core_power_kernel(f_effective_GHz, core_activity, temperature_K, state, constants, modelled_dynamic_W,
                      modelled_leakage_W)
    power = np.empty(n)
    leakage_scale = np.empty(n)
    for c in range(n):
        k = 0
        while k < n_levels - 1 and levels_GHz[k] < f_GHz[c] - 1e-9:
            k += 1
        level[c] = 0 if throttled[c] else k  # DTM holds a throttled core at f_min whatever it asks
        leakage_scale[c] = np.exp(beta * (temperature_K[c] - leak_ref_K))
        unexplained = 0.0  # what the model did not explain last epoch: router power, model error
        if f_effective_GHz[c] > 0.0:
            unexplained = power_W[c] - modelled_dynamic_W[c] - modelled_leakage_W[c]
        power[c] = unexplained + (activity[c] * dynamic_W_per_activity[level[c]]
                                  + leakage_W_at_reference[level[c]] * leakage_scale[c] if running[c] else idle_W)
    predicted = free_K + blame @ power
    hopeless = np.zeros(n, dtype=np.bool_)
    cooling, step_W = np.zeros(n), np.zeros(n)
    for _ in range(n * n_levels):
        worst, excess = -1, 0.0
        for i in range(n):
            if not hopeless[i] and predicted[i] - limit_K > excess:
                worst, excess = i, predicted[i] - limit_K
        if worst < 0:
            break
        best_cooling = 0.0
        for j in range(n):
            cooling[j] = 0.0
            if running[j] and level[j] > 0 and not throttled[j]:
                k = level[j]
                step_W[j] = (activity[j] * (dynamic_W_per_activity[k - 1] - dynamic_W_per_activity[k])
                             + (leakage_W_at_reference[k - 1] - leakage_W_at_reference[k]) * leakage_scale[j])
                cooling[j] = -blame[worst, j] * step_W[j]
                best_cooling = max(best_cooling, cooling[j])
        culprit = -1
        for j in range(n):  # water-filling: of the cores that cool it nearly as well, the fastest one steps down
            if cooling[j] > 0.0 and cooling[j] >= SPREAD * best_cooling and (culprit < 0 or level[j] > level[culprit]):
                culprit = j
        culprit_delta_W = step_W[culprit] if culprit >= 0 else 0.0
        if culprit < 0:
            hopeless[worst] = True  # nothing running can cool it further
            continue
        for i in range(n):
            predicted[i] += blame[i, culprit] * culprit_delta_W
        level[culprit] -= 1
    return level
