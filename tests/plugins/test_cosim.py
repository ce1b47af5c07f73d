"""The co-simulation loop: energy accounting, DTM, determinism, thermal layering, the fast model's accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from ailfm.plugins.engine.workload import synthetic_workload
from ailfm.plugins.epoch.chip_thermal import ChipThermal
from ailfm.plugins.epoch.cosim import SUMMARY_KEYS, CoSimulation
from ailfm.plugins.governors.registry import make_governor


@pytest.fixture(scope="module")
def hot_workload(gemm_like, gemv_like):
    return synthetic_workload([gemm_like, gemm_like, gemv_like], repeat=4000)


@pytest.fixture(scope="module")
def performance_run(system, fast_thermal, hot_workload):
    sim = CoSimulation.for_workload(system, hot_workload, fast_thermal, make_governor("performance"))
    return sim.run(duration_s=0.4)


def test_summary_has_every_key(performance_run):
    assert set(SUMMARY_KEYS) <= set(performance_run.summary)


def test_reported_energy_is_the_integral_of_power(performance_run):
    epochs = performance_run.epochs
    assert performance_run.summary["energy_j"] == pytest.approx(epochs["chip_power_W"].sum() * 1e-3, rel=1e-12)
    np.testing.assert_allclose(epochs["core_power_W"], performance_run.per_core["power_W"].sum(axis=1))
    np.testing.assert_allclose(epochs["chip_power_W"], epochs["core_power_W"] + epochs["uncore_power_W"])


def test_dtm_holds_every_core_near_tmax(system, performance_run):
    """Under performance (max f, DTM only) no core stays above T_max + 1 K for more than one epoch."""
    above = performance_run.per_core["temperature_K"] > system.thermal.t_max_K + 1.0
    assert performance_run.summary["dtm_events"] > 0  # the workload is hot enough to need DTM
    assert not np.any(above[1:] & above[:-1])


def test_same_seed_same_result(system, fast_thermal, tiny_trace_workload):
    runs = [CoSimulation.for_workload(system, tiny_trace_workload, fast_thermal, make_governor("pcmig")).run(0.05)
            for _ in range(2)]
    timing = {"governor_us_per_decision", "sim_speed_x_realtime", "compile_s"}
    np.testing.assert_equal({k: v for k, v in runs[0].summary.items() if k not in timing},
                            {k: v for k, v in runs[1].summary.items() if k not in timing})
    for key, values in runs[0].per_core.items():
        np.testing.assert_array_equal(values, runs[1].per_core[key])


@pytest.mark.parametrize("kind", ["fast", "grid"])
def test_layers_farther_from_the_sink_run_hotter(system, fast_thermal, small_grid_thermal, kind):
    model = fast_thermal if kind == "fast" else small_grid_thermal
    chip = ChipThermal.of(system, model)
    steady = model.steady(chip.power_vector(np.full(system.n_cores, 1.5), np.full(system.n_banks, 0.05),
                                            np.zeros(system.n_cores)))
    by_layer = steady[chip.core_output].reshape(system.geometry.layers, -1).mean(axis=1)
    assert np.all(np.diff(by_layer) < 0)  # layer 0 (farthest) hottest, the top layer (at the sink) coolest


def test_fast_model_tracks_the_grid_model(system, fast_thermal, small_grid_thermal):
    grid = small_grid_thermal
    chip = ChipThermal.of(system, grid)
    rng = np.random.default_rng(0)
    fast_thermal.reset(system.thermal.ambient_K)
    grid.reset(system.thermal.ambient_K)
    worst = 0.0
    for epoch in range(200):
        if epoch % 10 == 0:
            power = chip.power_vector(rng.uniform(0.3, 5.0, system.n_cores), np.full(system.n_banks, 0.05),
                                      np.zeros(system.n_cores))
        worst = max(worst, np.abs(fast_thermal.step(power, 1e-3) - grid.step(power, 1e-3)).max())
    assert worst < 1.0


def test_governors_differ_on_the_same_scenario(system, fast_thermal, hot_workload):
    powersave = CoSimulation.for_workload(system, hot_workload, fast_thermal, make_governor("powersave")).run(0.2)
    tsp = CoSimulation.for_workload(system, hot_workload, fast_thermal, make_governor("tsp")).run(0.2)
    assert powersave.summary["peak_temp_c"] < tsp.summary["peak_temp_c"] <= system.thermal.t_max_C + 1.0
    assert powersave.epochs["core_power_W"].mean() < tsp.epochs["core_power_W"].mean()


@pytest.mark.parametrize("governor", ["performance", "pcmig"])
def test_one_call_epoch_matches_the_seam_by_seam_loop(system, fast_thermal, hot_workload, governor):
    """The epoch as one compiled call on the engine's state gives the same records as the loop through the engine
    and thermal seams (the same model functions, called one by one)."""
    runs = []
    for fused in (True, False):
        sim = CoSimulation.for_workload(system, hot_workload, fast_thermal, make_governor(governor))
        sim.fused = fused
        runs.append(sim.run(0.05))
    assert runs[0].summary["dtm_events"] == runs[1].summary["dtm_events"] > 0
    for key, values in runs[0].per_core.items():
        np.testing.assert_allclose(values, runs[1].per_core[key], rtol=1e-9, atol=1e-9, err_msg=key)
    np.testing.assert_allclose(runs[0].epochs.to_numpy(), runs[1].epochs.to_numpy(), rtol=1e-9, atol=1e-9)


def test_dtm_acts_at_every_substep(system, fast_thermal, hot_workload):
    """Sensing every sub-step keeps the hottest core nearer the trigger than sensing once per epoch, and records the
    time above T_max at sub-step resolution."""
    peaks = {}
    for substeps in (1, system.thermal.substeps):
        run = CoSimulation.for_workload(system, hot_workload, fast_thermal, make_governor("performance"),
                                        substeps=substeps).run(0.3)
        peaks[substeps] = run.summary["peak_temp_c"]
        above = run.epochs["above_tmax_s"].to_numpy()
        assert np.all((above >= 0) & (above <= system.thermal.epoch_s + 1e-12))
    assert system.thermal.substeps > 1
    assert peaks[system.thermal.substeps] < peaks[1]
    assert peaks[system.thermal.substeps] <= system.thermal.dtm_trigger_C + 1.0
