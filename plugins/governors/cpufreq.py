"""Linux cpufreq governors (what gem5 full-system DVFS runs), one policy per core.

Source: the Linux kernel's Documentation/admin-guide/pm/cpufreq.rst ("Generic Scaling Governors") and
drivers/cpufreq/cpufreq_ondemand.c / cpufreq_conservative.c, re-implemented here on the epoch's load:

* ``performance`` / ``powersave``: always the highest / lowest level.
* ``ondemand``: load above ``up_threshold`` (80 %, the kernel's DEF_FREQUENCY_UP_THRESHOLD) -> f_max; otherwise a
  frequency proportional to the load, ``f_min + load (f_max - f_min)`` (the kernel's ``od_update``).
* ``conservative``: load above ``up_threshold`` (80 %) -> up by ``freq_step`` (5 % of f_max); below
  ``down_threshold`` (20 %) -> down by the same step (kernel defaults DEF_FREQUENCY_UP_THRESHOLD,
  DEF_FREQUENCY_DOWN_THRESHOLD, DEF_FREQUENCY_STEP).

The load is the OS view: a llama.cpp thread spinning at a barrier counts as busy, as it does for the kernel.
"""

from __future__ import annotations

import numpy as np

from ailfm.plugins.governors.base import Decision, Governor, Observation


class Performance(Governor):
    name = "performance"
    source = "Linux cpufreq 'performance' (Documentation/admin-guide/pm/cpufreq.rst); max f, DTM only"

    def setup(self, context) -> None:
        super().setup(context)
        self._decision = Decision(np.full(context.n_cores, context.system.dvfs.f_max_GHz))

    def decide(self, obs: Observation) -> Decision:
        return self._decision  # the same every epoch (the loop never writes into a decision)


class Powersave(Governor):
    name = "powersave"
    source = "Linux cpufreq 'powersave' (Documentation/admin-guide/pm/cpufreq.rst); min f"

    def decide(self, obs: Observation) -> Decision:
        return Decision(np.full(self.context.n_cores, self.context.system.dvfs.f_min_GHz))


class Ondemand(Governor):
    name = "ondemand"
    source = "Linux cpufreq 'ondemand' (cpufreq.rst; cpufreq_ondemand.c od_update), up_threshold 80 %"

    def __init__(self, up_threshold: float = 0.80):
        self.up_threshold = up_threshold

    def decide(self, obs: Observation) -> Decision:
        dvfs = self.context.system.dvfs
        load = obs.utilisation
        proportional = dvfs.f_min_GHz + load * (dvfs.f_max_GHz - dvfs.f_min_GHz)
        return Decision(np.where(load > self.up_threshold, dvfs.f_max_GHz, proportional))


class Conservative(Governor):
    name = "conservative"
    source = "Linux cpufreq 'conservative' (cpufreq.rst; cpufreq_conservative.c), thresholds 80 %/20 %, step 5 %"

    def __init__(self, up_threshold: float = 0.80, down_threshold: float = 0.20, freq_step: float = 0.05):
        self.up_threshold, self.down_threshold, self.freq_step = up_threshold, down_threshold, freq_step

    def decide(self, obs: Observation) -> Decision:
        dvfs = self.context.system.dvfs
        step = self.freq_step * dvfs.f_max_GHz
        f = obs.f_GHz + np.where(obs.utilisation > self.up_threshold, step, 0.0)
        f = f - np.where(obs.utilisation < self.down_threshold, step, 0.0)
        return Decision(np.clip(f, dvfs.f_min_GHz, dvfs.f_max_GHz))
