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

import numpy as np

from ailfm.plugins.system import SystemDescription


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

    def core_power(self, f_GHz: np.ndarray, activity: np.ndarray, temperature_K: np.ndarray,
                   state: np.ndarray) -> CorePower:
        """Per-core power.

        Parameters
        ----------
        f_GHz : operating frequency of each core (after DTM).
        activity : time-weighted switching activity in [0, 1].
        temperature_K : core temperature (leakage feedback).
        state : 0 = running a thread, 1 = idle (no thread), 2 = clock-gated (DTM stop).
        """
        p = self.system.power
        f = np.asarray(f_GHz, dtype=float)
        voltage = self.system.dvfs.voltage_V(f)
        dynamic = np.asarray(activity, dtype=float) * p.core_capacitance_nF * 1e-9 * voltage**2 * f * 1e9
        leakage = self.leakage_W(voltage, temperature_K)
        running = state == 0
        dynamic = np.where(running, dynamic, 0.0)
        leakage = np.where(running, leakage, np.where(state == 1, p.idle_power_W, p.gated_power_W))
        return CorePower(dynamic, leakage)

    def leakage_W(self, voltage_V, temperature_K) -> np.ndarray:
        p = self.system.power
        t_ref_K = p.leakage_ref_C + 273.15
        return (p.leakage_ref_W * (np.asarray(voltage_V, dtype=float) / p.leakage_ref_V) ** p.leakage_voltage_exponent
                * np.exp(p.leakage_beta_per_K * (np.asarray(temperature_K, dtype=float) - t_ref_K)))

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
