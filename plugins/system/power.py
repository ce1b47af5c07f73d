"""Power of cores, LLC banks and routers from an epoch's activity (McPAT-class magnitudes at 22 nm).

* Core dynamic power: ``activity x C_eff x V^2 x f`` (the CMOS switching power McPAT evaluates per component, lumped
  into one effective capacitance). Activity is the time-weighted switching factor of what the core did in the epoch:
  the kernel's own activity while issuing, ``stall_activity`` while waiting on LLC/DRAM, ``barrier_activity`` while
  spinning at a llama.cpp barrier, zero when its thread had no work.
* Core leakage: ``P_ref (V / V_ref)^k exp(beta (T - T_ref))``. ``P_ref``, ``V_ref`` and ``k`` reproduce HotSniper's
  static-power points (0.27 W at 1 GHz / 0.8 V, 0.92 W at 4 GHz / 1.4 V, ``common/scheduler/powermodel.cc``);
  the exponential in temperature (Liao, He and Lepak, IEEE TCAD 2005) is what closes the heat -> leakage loop.
* A core without a thread draws HotSniper's inactive power; a clock-gated core (DTM stop) its gated power.
* LLC banks and routers: access and flit counts x energy per event (CACTI/McPAT and ORION 2.0 magnitudes), plus a
  static power per bank and per router.

All constants come from the system YAML (``power:``), where each is sourced.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numba import njit

from ailfm.plugins.system.description import SystemDescription


@dataclass(frozen=True, eq=False)
class CorePower:
    dynamic_W: np.ndarray
    leakage_W: np.ndarray

    @property
    def total_W(self) -> np.ndarray:
        return self.dynamic_W + self.leakage_W


@dataclass(frozen=True, eq=False)
class PowerModel:
    """Power of a system's components; pure functions of activity, V/f and temperature."""

    system: SystemDescription

    @cached_property
    def constants(self) -> np.ndarray:
        """The core-power constants in the order ``core_power_kernel`` reads them."""
        p, dvfs = self.system.power, self.system.dvfs
        return np.array([dvfs.v_at_zero_V, dvfs.v_slope_V_per_GHz, p.core_capacitance_nF * 1e-9, p.leakage_ref_W,
                         p.leakage_ref_V, p.leakage_voltage_exponent, p.leakage_ref_C + 273.15,
                         p.leakage_beta_per_K, p.idle_power_W, p.gated_power_W])

    def core_power(self, f_GHz: np.ndarray, activity: np.ndarray, temperature_K: np.ndarray,
                   state: np.ndarray) -> CorePower:
        """Per-core power (arrays broadcast together).

        Parameters
        ----------
        f_GHz : operating frequency of each core (after DTM).
        activity : time-weighted switching activity in [0, 1].
        temperature_K : core temperature (leakage feedback).
        state : 0 = running a thread, 1 = idle (no thread), 2 = clock-gated (DTM stop).
        """
        f, a, t, st = np.broadcast_arrays(np.asarray(f_GHz, dtype=float), np.asarray(activity, dtype=float),
                                          np.asarray(temperature_K, dtype=float), np.asarray(state, dtype=np.int64))
        dynamic, leakage = np.empty(f.size), np.empty(f.size)
        core_power_kernel(f.ravel(), a.ravel(), t.ravel(), st.ravel(), self.constants, dynamic, leakage)
        return CorePower(dynamic.reshape(f.shape), leakage.reshape(f.shape))

    def bank_power_W(self, bank_accesses: np.ndarray, dt_s: float) -> np.ndarray:
        p = self.system.power
        return np.asarray(bank_accesses, dtype=float) * p.llc_read_energy_nJ * 1e-9 / dt_s + p.llc_leakage_W_per_bank

    def router_power_W(self, router_flits: np.ndarray, dt_s: float) -> np.ndarray:
        p = self.system.power
        return np.asarray(router_flits, dtype=float) * p.router_energy_pJ_per_flit * 1e-12 / dt_s + p.router_static_W

    def predict_core_W(self, f_GHz, activity, temperature_K) -> np.ndarray:
        """Power a running core would draw at ``f_GHz`` (what power-budgeting governors invert)."""
        state = np.zeros(np.broadcast(np.asarray(f_GHz), np.asarray(activity)).shape, dtype=int)
        return self.core_power(f_GHz, activity, temperature_K, state).total_W

    def highest_level_within(self, budget_W: np.ndarray, activity: np.ndarray, temperature_K: np.ndarray) -> np.ndarray:
        """Per core, the highest V/f level whose predicted power fits the budget (f_min if none does)."""
        levels = self.system.dvfs.levels_GHz
        power = self.predict_core_W(levels[None, :], np.asarray(activity, dtype=float)[:, None],
                                    np.asarray(temperature_K, dtype=float)[:, None])
        fits = power <= np.asarray(budget_W, dtype=float)[:, None]
        index = np.where(fits.any(axis=1), len(levels) - 1 - np.argmax(fits[:, ::-1], axis=1), 0)
        return levels[index]


@njit(cache=True, inline="always")
def core_power_kernel(f_GHz, activity, temperature_K, state, constants, dynamic_W, leakage_W, leakage_f_GHz=None,
                      leakage_at_f_W=None):
    """Dynamic ``a C V^2 f`` and leakage ``P_ref (V/V_ref)^k exp(beta (T - T_ref))`` per core (see module docstring);
    idle cores draw the idle power, clock-gated ones the gated power, neither any dynamic power.

    ``leakage_f_GHz``/``leakage_at_f_W`` (optional, per core, kept by the caller across calls; start with NaN
    frequencies): the voltage factor ``P_ref (V/V_ref)^k`` each core last had and its frequency, recomputed only when
    the frequency changes (``pow`` is the costly part; the same expression, so the same bits)."""
    v0, slope, capacitance_F, leak_W, leak_V, leak_exp, leak_ref_K, beta, idle_W, gated_W = constants[:10]
    for c in range(f_GHz.shape[0]):
        if state[c] == 0:
            voltage = v0 + slope * f_GHz[c]
            dynamic_W[c] = activity[c] * capacitance_F * voltage * voltage * f_GHz[c] * 1e9
            if leakage_f_GHz is None:
                at_voltage_W = leak_W * (voltage / leak_V) ** leak_exp
            else:
                if leakage_f_GHz[c] != f_GHz[c]:
                    leakage_f_GHz[c] = f_GHz[c]
                    leakage_at_f_W[c] = leak_W * (voltage / leak_V) ** leak_exp
                at_voltage_W = leakage_at_f_W[c]
            leakage_W[c] = at_voltage_W * np.exp(beta * (temperature_K[c] - leak_ref_K))
        else:
            dynamic_W[c] = 0.0
            leakage_W[c] = idle_W if state[c] == 1 else gated_W
