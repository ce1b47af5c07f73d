"""Migration governors: HotSniper's coldest-core policy and a PCMig-like prediction-based heuristic.

* ``coldest-core`` (HotSniper ``policies/coldestCore.cc``, Pathania and Henkel): map each thread to the coldest free
  core; every migration epoch, move a thread whose core is above the critical temperature to the coldest free core.
  Frequencies stay at f_max (DTM still applies). Ties at time 0 (all cores at ambient) go to the core with the lowest
  steady self-heating [inferred: HotSniper breaks ties by index], and a move needs the target to be ``margin_K``
  colder [inferred, avoids ping-pong].
* ``pcmig``: after Rapp, Pathania, Mitra, Henkel, "Prediction-Based Task Migration on S-NUCA Many-Cores", DATE 2019 /
  IEEE TC 70(10) 2021. PCMig predicts a thread's performance on another core with a neural network trained against an
  analytical CPI-stack model; its code is not public, so this policy uses that analytical model directly: time per
  instruction on core c = CPI_core / f_c + (LLC APKI x L_llc(c) + DRAM MPKI x L_dram) / (1000 MLP), with CPI_core
  inferred from the thread's measured IPS. Every ``period_epochs`` epochs, threads in descending LLC intensity move
  to the thermally safe free core (or swap with nothing) that minimises their predicted time per instruction, when
  the gain over the period exceeds the migration cost. Frequencies stay at f_max (DTM still applies).
"""

from __future__ import annotations

import numpy as np

from ailfm.plugins.governors.base import Decision, Governor, Observation
from ailfm.plugins.governors.placement import lowest_latency


class ColdestCore(Governor):
    name = "coldest-core"
    source = "HotSniper policies/coldestCore.cc (Pathania & Henkel, HotSniper, IEEE ESL 2018)"

    def __init__(self, critical_C: float | None = None, margin_K: float = 3.0):
        self.critical_C, self.margin_K = critical_C, margin_K

    def _tie_break(self) -> np.ndarray:
        r_cc, _ = self.context.thermal_resistance_K_per_W
        return r_cc.sum(axis=1)

    def initial_placement(self, temperature_K: np.ndarray) -> np.ndarray:
        order = np.lexsort((self._tie_break(), temperature_K))
        return order[: self.context.n_threads].copy()

    def decide(self, obs: Observation) -> Decision:
        system = self.context.system
        critical_K = (self.critical_C if self.critical_C is not None else system.thermal.dtm_release_C) + 273.15
        placement = obs.thread_core.copy()
        occupied = np.zeros(self.context.n_cores, dtype=bool)
        occupied[placement[placement >= 0]] = True
        temperature = obs.temperature_K
        hot_threads = np.flatnonzero((placement >= 0) & (temperature[np.maximum(placement, 0)] > critical_K))
        for thread in hot_threads[np.argsort(-temperature[placement[hot_threads]], kind="stable")]:
            free = np.flatnonzero(~occupied)
            if len(free) == 0:
                break
            target = free[np.argmin(temperature[free])]
            if temperature[target] < temperature[placement[thread]] - self.margin_K:
                occupied[placement[thread]], occupied[target] = False, True
                placement[thread] = target
        return Decision(np.full(self.context.n_cores, system.dvfs.f_max_GHz), placement)


class PcMig(Governor):
    name = "pcmig"
    source = "after Rapp et al., PCMig, DATE 2019 / IEEE TC 70(10) 2021 (analytical CPI-stack predictor)"

    def __init__(self, period_epochs: int = 10, safety_margin_K: float = 3.0, min_gain: float = 0.02):
        self.period_epochs, self.safety_margin_K, self.min_gain = period_epochs, safety_margin_K, min_gain

    def initial_placement(self, temperature_K: np.ndarray) -> np.ndarray:
        """Lowest-latency cores first (S-NUCA aware), as PCMig's mapping starts from."""
        return lowest_latency(self.context)

    def decide(self, obs: Observation) -> Decision:
        context = self.context
        system = context.system
        f_max = np.full(context.n_cores, system.dvfs.f_max_GHz)
        if obs.epoch == 0 or obs.epoch % self.period_epochs:
            return Decision(f_max)
        mlp = system.core.memory_level_parallelism
        latency_s = context.nuca.mean_latency_ns * 1e-9
        memory_s = context.nuca.memory_latency_ns * 1e-9
        placement = obs.thread_core.copy()
        running = (placement >= 0) & (obs.thread_ips > 0)
        core = np.maximum(placement, 0)
        stall_per_instr = (obs.thread_llc_apki * latency_s[core] + obs.thread_dram_mpki * memory_s) / (1000 * mlp)
        with np.errstate(divide="ignore", invalid="ignore"):
            measured = np.where(running, 1.0 / obs.thread_ips, np.inf)
        f_now = np.maximum(obs.f_effective_GHz[core], system.dvfs.f_min_GHz) * 1e9
        core_cycles = np.maximum(measured - stall_per_instr, 0.0) * f_now  # CPI of the core-bound part
        occupied = np.zeros(context.n_cores, dtype=bool)
        occupied[placement[placement >= 0]] = True
        safe = obs.temperature_K < system.thermal.t_max_K - self.safety_margin_K
        period_s = self.period_epochs * system.thermal.epoch_s
        for thread in np.flatnonzero(running)[np.argsort(-obs.thread_llc_apki[running], kind="stable")]:
            candidates = np.flatnonzero(~occupied & safe)
            if len(candidates) == 0:
                continue
            predicted = (core_cycles[thread] / (f_max[candidates] * 1e9)
                         + (obs.thread_llc_apki[thread] * latency_s[candidates]
                            + obs.thread_dram_mpki[thread] * memory_s) / (1000 * mlp))
            best = candidates[np.argmin(predicted)]
            gain = 1.0 - predicted.min() / measured[thread]
            cost = (system.migration.reschedule_cost_s + system.core.private_working_set_bytes
                    / (system.memory.bandwidth_Bps / system.n_cores)) / period_s
            if gain > self.min_gain + cost:
                occupied[placement[thread]], occupied[best] = False, True
                placement[thread] = best
        return Decision(f_max, placement)
