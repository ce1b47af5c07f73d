"""NUCA latency of the 3D mesh and the power model."""

from __future__ import annotations

import numpy as np
import pytest

from ailfm.plugins.system.power import PowerModel


def test_central_cores_of_middle_layers_are_fastest(system, nuca):
    latency = nuca.mean_latency_ns.reshape(4, 4, 4)  # (layer, y, x)
    fastest = np.argwhere(latency == latency.min())
    assert {tuple(f) for f in fastest} == {(z, y, x) for z in (1, 2) for y in (1, 2) for x in (1, 2)}
    assert latency[0].min() > latency[1].min() and latency[1, 1, 1] < latency[1, 0, 0]
    assert latency.max() == latency[0, 0, 0] == latency[3, 3, 3]


def test_latency_matches_hand_count_for_one_core(system, nuca):
    """Core (0,0,0): mean over tiles of 2 x (routers x 4 + planar x 2 + vertical x 1) + bank 10 + 2 flits, at 2 GHz."""
    xyz = system.geometry.tile_coordinates()
    planar, vertical = xyz[:, 0] + xyz[:, 1], xyz[:, 2]
    cycles = 2 * ((planar + vertical + 1) * 4 + planar * 2 + vertical * 1) + 10 + 2
    assert nuca.mean_latency_ns[0] == pytest.approx(cycles.mean() / 2.0)


def test_contention_adds_latency_monotonically(nuca):
    low, high = nuca.latency_ns(np.full(64, 1e7)), nuca.latency_ns(np.full(64, 3e8))
    assert np.all(low >= nuca.mean_latency_ns) and np.all(high > low)
    assert np.all(nuca.link_utilisation(np.full(64, 1e12)) < 1.0)


def test_router_flits_conserve_traffic(system, nuca):
    """One access of a core = 1 request flit + 3 response flits, each through hops + 1 routers."""
    xyz = system.geometry.tile_coordinates()
    hops = np.abs(xyz - xyz[0]).sum(axis=1)
    accesses = np.zeros(64)
    accesses[0] = 64.0  # one access to each tile
    assert nuca.router_flits(accesses).sum() == pytest.approx(((hops + 1) * (1 + 3)).sum())


def test_power_points_reproduce_hotsniper_static_power(system):
    power = PowerModel(system)
    t_ref = system.power.leakage_ref_C + 273.15
    leak = power.core_power(np.array([1.0, 4.0]), 0.0, t_ref, 0).leakage_W
    np.testing.assert_allclose(leak, [0.27, 0.92], rtol=0.01)


def test_power_grows_with_f_activity_and_temperature(system):
    power = PowerModel(system)
    f = system.dvfs.levels_GHz
    p = power.predict_core_W(f, 0.8, 330.0)
    assert np.all(np.diff(p) > 0)
    assert power.predict_core_W(3.0, 0.9, 330.0) > power.predict_core_W(3.0, 0.3, 330.0)
    assert power.predict_core_W(3.0, 0.5, 360.0) > power.predict_core_W(3.0, 0.5, 330.0)
    full = power.predict_core_W(4.0, 1.0, system.power.leakage_ref_C + 273.15)
    assert full == pytest.approx(4.5 + 0.92, rel=0.01)  # the McPAT-class calibration point of the YAML


def test_idle_and_gated_states(system):
    power = PowerModel(system)
    core = power.core_power(np.array([4.0, 4.0, 4.0]), np.array([1.0, 1.0, 1.0]), np.full(3, 350.0),
                            np.array([0, 1, 2]))
    assert core.total_W[1] == system.power.idle_power_W and core.total_W[2] == system.power.gated_power_W
    assert core.total_W[0] > core.total_W[1] > core.total_W[2]


def test_highest_level_within_budget(system):
    power = PowerModel(system)
    f = power.highest_level_within(np.array([100.0, 2.0, 0.01]), np.full(3, 0.8), np.full(3, 330.0))
    assert f[0] == 4.0 and f[2] == 1.0
    assert power.predict_core_W(f[1], 0.8, 330.0) <= 2.0 < power.predict_core_W(f[1] + 0.1, 0.8, 330.0)


def test_uncore_power_counts_energy(system):
    power = PowerModel(system)
    bank = power.bank_power_W(np.array([0.0, 1e6]), 1e-3)
    assert bank[1] - bank[0] == pytest.approx(1e6 * system.power.llc_read_energy_nJ * 1e-9 / 1e-3)
