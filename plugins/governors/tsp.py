"""Power-budget governors: Thermal Safe Power (TSP) and PCGov.

* ``tsp``: Pagani, Khdr, Chen, Chen, Shafique, Henkel, "TSP: Thermal Safe Power", CODES+ISSS 2014 / IEEE TC 66(1)
  2017, as implemented in HotSniper (``common/scheduler/thermalModel.cc::tsp``). For the set A of active cores, the
  uniform per-core budget that keeps every core at or below T_max in steady state is
  ``min_i (T_max - T_amb - sum_{j not in A} R_ij P_j) / sum_{j in A} R_ij``, also capped by the TDP. ``R`` is the
  steady-state thermal resistance matrix, here from steady solves of the loop's own thermal model (banks included as
  fixed sources). Each active core then runs the highest level whose predicted power fits the budget.
* ``pcgov``: Rapp, Sagi, Pathania, Herkersdorf, Henkel, "Power- and Cache-Aware Task Mapping with Dynamic Power
  Budgeting for Many-Cores", IEEE TC 69(1) 2020 (HotSniper ``policies/pcgov.cc``). DVFS: cores at f_max that draw
  less than their budget minus delta (0.05 W) are MEMORY cores and get their power + delta; the COMPUTE cores share
  a uniform TSP computed with the MEMORY cores' power held fixed. Mapping: for each AMD threshold (AMD = mean hop
  distance to all banks, here in 3D), greedily add the core that maximises TSP among cores within the threshold;
  pick the candidate set with the best trade-off ``(budget - min budget) - alpha (AMD - min AMD)``.

Power prediction inverts ``PowerModel`` (activity x C V^2 f + leakage at T_max: the worst case TSP assumes), with the
activity each core showed in the last epoch (1.0 before a core has run: worst case).
"""

from __future__ import annotations

import numpy as np

from ailfm.plugins.governors.base import Decision, Governor, Observation


def thermal_safe_power(resistance_cc: np.ndarray, fixed_rise_K: np.ndarray, active: np.ndarray,
                       headroom_K: float) -> float:
    """Uniform per-core power of the ``active`` cores keeping every core's steady rise within ``headroom_K``.

    ``fixed_rise_K`` is each core's steady rise from everything that is not an active core (idle cores, banks).
    """
    if not active.any():
        return np.inf
    per_watt = resistance_cc[:, active].sum(axis=1)
    return float(np.min((headroom_K - fixed_rise_K) / per_watt))


class Tsp(Governor):
    name = "tsp"
    source = "Pagani et al., TSP, CODES+ISSS 2014 / IEEE TC 2017; HotSniper thermalModel.cc::tsp"

    def _budget_inputs(self, obs: Observation):
        context = self.context
        system = context.system
        r_cc, r_cb = context.thermal_resistance_K_per_W
        bank_W = np.full(system.n_banks, obs.uncore_power_W / max(system.n_banks, 1))
        return r_cc, r_cb @ bank_W, system.thermal.t_max_K - system.thermal.ambient_K

    def _frequencies(self, budget_W: np.ndarray, obs: Observation) -> np.ndarray:
        context = self.context
        activity = np.where(obs.activity > 0, obs.activity, 1.0)
        t_max = np.full(context.n_cores, context.system.thermal.t_max_K)
        return context.power.highest_level_within(budget_W, activity, t_max)

    def _active(self, obs: Observation) -> np.ndarray:
        active = np.zeros(self.context.n_cores, dtype=bool)
        running = (obs.thread_core >= 0) & (obs.thread_kernel_type >= 0)
        active[obs.thread_core[running]] = True
        return active

    def decide(self, obs: Observation) -> Decision:
        system = self.context.system
        r_cc, bank_rise, headroom = self._budget_inputs(obs)
        active = self._active(obs)
        idle_W = np.where(active, 0.0, system.power.idle_power_W)
        budget = thermal_safe_power(r_cc, bank_rise + r_cc @ idle_W, active, headroom)
        tdp_share = (system.thermal.tdp_W - obs.uncore_power_W - idle_W.sum()) / max(active.sum(), 1)
        budget = min(budget, tdp_share)
        return Decision(self._frequencies(np.full(self.context.n_cores, budget), obs))


class PcGov(Tsp):
    name = "pcgov"
    source = "Rapp et al., IEEE TC 69(1) 2020 (PCGov); HotSniper policies/pcgov.cc, delta 0.05 W"

    def __init__(self, delta_W: float = 0.05):
        self.delta_W = delta_W

    def setup(self, context) -> None:
        super().setup(context)
        self._memory = np.zeros(context.n_cores, dtype=bool)
        self._budget_W = np.full(context.n_cores, np.inf)

    def initial_placement(self, temperature_K: np.ndarray) -> np.ndarray:
        """AMD-threshold candidates, each grown greedily by TSP; the best budget/AMD trade-off wins."""
        context = self.context
        system = context.system
        n = context.n_threads
        amd = context.nuca.mean_hops
        r_cc, r_cb = context.thermal_resistance_K_per_W
        headroom = system.thermal.t_max_K - system.thermal.ambient_K
        bank_rise = r_cb @ np.full(system.n_banks, system.power.llc_leakage_W_per_bank)
        candidates = []
        for threshold in np.unique(amd):
            allowed = amd <= threshold + 1e-9
            if allowed.sum() < n:
                continue
            chosen = np.zeros(context.n_cores, dtype=bool)
            for _ in range(n):
                best, best_tsp = -1, -np.inf
                for core in np.flatnonzero(allowed & ~chosen):
                    trial = chosen.copy()
                    trial[core] = True
                    idle = np.where(trial, 0.0, system.power.idle_power_W)
                    tsp = thermal_safe_power(r_cc, bank_rise + r_cc @ idle, trial, headroom)
                    if tsp > best_tsp:
                        best, best_tsp = core, tsp
                chosen[best] = True
            candidates.append((best_tsp, amd[chosen].mean(), np.flatnonzero(chosen)))
        budgets = np.array([c[0] for c in candidates])
        amds = np.array([c[1] for c in candidates])
        alpha = (budgets.max() - budgets.min()) / max(amds.max() - amds.min(), 1e-12)
        score = (budgets - budgets.min()) - alpha * (amds - amds.min())
        cores = candidates[int(np.argmax(score))][2]
        return cores[np.argsort(amd[cores], kind="stable")][:n]

    def state(self) -> dict[str, np.ndarray]:
        return {"_memory": self._memory, "_budget_W": self._budget_W}

    def decide(self, obs: Observation) -> Decision:
        context = self.context
        system = context.system
        active = self._active(obs)
        f_max = system.dvfs.f_max_GHz
        at_max = np.isclose(obs.f_effective_GHz, f_max)
        self._memory &= active & at_max & (obs.power_W < self._budget_W - self.delta_W / 2)
        self._memory |= active & at_max & (obs.power_W < self._budget_W - self.delta_W)
        compute = active & ~self._memory
        r_cc, bank_rise, headroom = self._budget_inputs(obs)
        fixed_W = np.where(active, np.where(self._memory, obs.power_W + self.delta_W, 0.0), system.power.idle_power_W)
        budget = thermal_safe_power(r_cc, bank_rise + r_cc @ fixed_W, compute, headroom)
        tdp_left = system.thermal.tdp_W - obs.uncore_power_W - fixed_W.sum()
        budget = min(budget, tdp_left / max(compute.sum(), 1))
        self._budget_W = np.where(self._memory, obs.power_W + self.delta_W, budget)
        return Decision(self._frequencies(self._budget_W, obs))
