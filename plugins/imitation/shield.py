"""A model-predictive thermal shield: the learned V/f, lowered just enough that no core is predicted above the limit.

An imitation-learned policy errs now and then; near T_max an error costs a DTM event and time above the limit. The
shield therefore checks every decision with the governor's own linear thermal model of the chip
(``ailfm.plugins.chip_thermal.ThermalTwin``, stepped with the observed core and uncore powers, its offset from the
measured temperatures carried forward): it predicts every core's temperature at the end of the coming epoch from the
requested levels, and while a core is predicted above ``T_max - guard_K`` it lowers by one level the running core
whose step down cools that core the most (often the core itself; for an idle core heated from beside or below, a
neighbour). The policy's V/f is kept wherever it is safe, so the shield acts only where the policy errs.

Power of the coming epoch per core and level: the power model (``ailfm.plugins.power``) at the level's voltage, with
the highest switching activity the core's thread has shown so far in the run (a moved thread brings its own),
leakage at the core's current temperature, plus what the model did not explain last epoch (router power, model
error). The highest, not the last, activity: a thread's kernel mix changes from epoch to epoch, and with the last
epoch's activity the prediction missed rises of up to 1.9 K on BERT-large prefill (a training workload; measured,
docs/ail.md). DTM-throttled cores run at f_min whatever they ask. ``SHIELD_GUARD_K`` covers the rest.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ailfm.plugins.governors.base import GovernorContext, Observation

#: margin below T_max of the predicted temperature [tuned on training workloads only (docs/ail.md): with it no run of
#: BERT-large, Llama-2-7B, GPT2-XL or OPT-6.7B went above T_max; peaks 79.40-79.47 C]
SHIELD_GUARD_K = 0.6


class PredictiveShield:
    """Per-epoch cap on a governor's V/f from a one-epoch thermal prediction (see the module docstring).

    Call ``observe`` with every observation (it steps the thermal twin), then ``limit`` with the requested levels.
    """

    def __init__(self, context: GovernorContext, guard_K: float = SHIELD_GUARD_K):
        twin = context.thermal_twin
        system = context.system
        self.context = context
        self.ambient_K = twin.ambient_K
        self.decay = twin.decay
        self.core_gain = twin.core_gain
        self.bank_gain = twin.bank_gain
        self.core_output = twin.core_output
        self.blame_K_per_W = np.ascontiguousarray(twin.core_output @ twin.core_gain)  # (n_cores, n_cores)
        self.bank_rise_K_per_W = twin.core_output @ twin.bank_gain  # (n_cores,) per watt in every bank
        self.decayed_output = np.ascontiguousarray(twin.core_output * twin.decay[None, :])
        self.n_banks = system.n_banks
        self.limit_K = system.thermal.t_max_K - guard_K
        self.levels_GHz = system.dvfs.levels_GHz
        self.constants = context.power.constants
        self.modes = np.zeros_like(twin.decay)  # the loop starts from ambient: z = 0
        self.free_K = np.full(context.n_cores, twin.ambient_K)
        self.thread_activity = np.full(context.n_threads, np.nan)  # the highest each thread has shown; NaN: not yet

    def observe(self, obs: Observation) -> None:
        """Step the twin with the epoch the observation reports and predict the coming epoch without core power."""
        bank_W = obs.uncore_power_W / self.n_banks
        if obs.epoch > 0:
            self.modes = self.decay * self.modes + self.core_gain @ obs.power_W + self.bank_gain * bank_W
            placed = obs.thread_core >= 0
            observed = np.where(placed, obs.activity[np.maximum(obs.thread_core, 0)], np.nan)
            self.thread_activity = np.fmax(observed, self.thread_activity)
        offset_K = obs.temperature_K - (self.ambient_K + self.core_output @ self.modes)
        self.free_K = self.ambient_K + self.decayed_output @ self.modes + self.bank_rise_K_per_W * bank_W + offset_K

    def limit(self, f_GHz: np.ndarray, placement: np.ndarray, obs: Observation) -> np.ndarray:
        """The requested per-core frequencies, lowered where the prediction exceeds the limit, for ``placement``."""
        n_cores = self.context.n_cores
        level = np.clip(np.searchsorted(self.levels_GHz, np.asarray(f_GHz, dtype=float) - 1e-9), 0,
                        len(self.levels_GHz) - 1).astype(np.int64)
        activity_so_far = np.nan_to_num(self.thread_activity, nan=1.0)  # never observed: assume the worst
        running_before = _core_threads(obs.thread_core, obs.thread_kernel_type, activity_so_far, n_cores)[0]
        running, activity = _core_threads(np.asarray(placement, dtype=np.int64), obs.thread_kernel_type,
                                          activity_so_far, n_cores)
        capped = _capped_levels(level, running, activity, running_before, obs.activity, obs.dtm_throttled,
                                obs.f_effective_GHz, obs.power_W, obs.temperature_K, self.levels_GHz, self.constants,
                                self.free_K, self.blame_K_per_W, self.limit_K)
        return self.levels_GHz[capped]


@njit(cache=True)
def _core_threads(placement, kernel_type, thread_activity, n_cores):
    """Per core: does an unfinished thread run there, and that thread's highest switching activity so far."""
    running = np.zeros(n_cores, dtype=np.bool_)
    activity = np.zeros(n_cores)
    for t in range(placement.shape[0]):
        c = placement[t]
        if c >= 0 and kernel_type[t] >= 0:
            running[c] = True
            activity[c] = thread_activity[t]
    return running, activity


@njit(cache=True)
def _core_W(f_GHz, activity, temperature_K, running, constants):
    """``core_power_kernel`` for one core (running or idle): dynamic a C V^2 f plus V- and T-dependent leakage."""
    v0, slope, capacitance_F, leak_W, leak_V, leak_exp, leak_ref_K, beta, idle_W = constants[:9]
    if not running:
        return idle_W
    voltage = v0 + slope * f_GHz
    return (activity * capacitance_F * voltage * voltage * f_GHz * 1e9
            + leak_W * (voltage / leak_V) ** leak_exp * np.exp(beta * (temperature_K - leak_ref_K)))


@njit(cache=True)
def _capped_levels(level, running, activity, running_before, activity_before, throttled, f_effective_GHz, power_W,
                   temperature_K, levels_GHz, constants, free_K, blame, limit_K):
    """Greedy: while a core is predicted above ``limit_K``, lower the running core whose one-level step cools the
    hottest violator most; returns the level indices (a new array)."""
    n = level.shape[0]
    level = level.copy()
    unexplained = np.empty(n)
    power = np.empty(n)
    for c in range(n):
        if throttled[c]:
            level[c] = 0  # DTM holds it at f_min whatever it asks
        was_running = running_before[c] and f_effective_GHz[c] > 0.0
        modelled = _core_W(f_effective_GHz[c], activity_before[c], temperature_K[c], was_running, constants)
        unexplained[c] = power_W[c] - modelled if f_effective_GHz[c] > 0.0 else 0.0
        power[c] = _core_W(levels_GHz[level[c]], activity[c], temperature_K[c], running[c], constants) + unexplained[c]
    predicted = free_K + blame @ power
    hopeless = np.zeros(n, dtype=np.bool_)
    for _ in range(n * levels_GHz.shape[0]):
        worst, excess = -1, 0.0
        for i in range(n):
            if not hopeless[i] and predicted[i] - limit_K > excess:
                worst, excess = i, predicted[i] - limit_K
        if worst < 0:
            break
        culprit, best_cooling, culprit_W = -1, 0.0, 0.0
        for j in range(n):
            if running[j] and level[j] > 0 and not throttled[j]:
                lower_W = _core_W(levels_GHz[level[j] - 1], activity[j], temperature_K[j], True, constants)
                cooling = blame[worst, j] * (power[j] - unexplained[j] - lower_W)
                if cooling > best_cooling:
                    culprit, best_cooling, culprit_W = j, cooling, lower_W + unexplained[j]
        if culprit < 0:
            hopeless[worst] = True  # nothing running can cool it further
            continue
        delta_W = culprit_W - power[culprit]
        for i in range(n):
            predicted[i] += blame[i, culprit] * delta_W
        power[culprit] = culprit_W
        level[culprit] -= 1
    return level
