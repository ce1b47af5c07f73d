"""Thermally feasible evaluation: power over the schedule, DTM throttling, the invariants of issue 16."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ailfm.mapping.evaluator import Evaluator
from ailfm.mapping.package import idle_W, leakage_W
from ailfm.mapping.search.ga import SearchSettings, run_search
from ailfm.mapping.search.operators import random_genomes
from ailfm.mapping.thermal import ThermalEvaluator, dtm_settings


@pytest.fixture(scope="module")
def setup(tiny, mixed_hw):
    """The tiny workload on the 3 x 2 mesh and its DTM (T_max from the package section, 85 C)."""
    return Evaluator(tiny, mixed_hw), dtm_settings(mixed_hw)


def with_package(hardware, **fields):
    return replace(hardware, package=replace(hardware.package, **fields))


@pytest.fixture(scope="module")
def genomes(setup):
    return random_genomes(setup[0].encoding, 24, np.random.default_rng(1))


def test_without_throttling_the_figures_are_the_evaluators_bit_for_bit(setup, genomes):
    ev, dtm = setup
    result = ThermalEvaluator(ev, dtm.with_t_max(1e4)).evaluate(genomes)
    blind = ev.evaluate(genomes)
    np.testing.assert_array_equal(result.latency_s, blind.latency_s)
    np.testing.assert_array_equal(result.energy_J, blind.energy_J)
    assert (result.throttled_s == 0).all() and (result.above_s == 0).all()
    assert (result.peak_K >= result.mean_K).all() and (result.mean_K > ev.hardware.package.ambient_K).all()


@settings(max_examples=15, deadline=None)
@given(t_max_C=st.floats(50.0, 120.0), seed=st.integers(0, 2 ** 16))
def test_throttled_latency_is_never_below_the_unthrottled(setup, t_max_C, seed):
    ev, dtm = setup
    g = random_genomes(ev.encoding, 4, np.random.default_rng(seed))
    result = ThermalEvaluator(ev, dtm.with_t_max(t_max_C + 273.15)).evaluate(g)
    assert (result.latency_s >= result.blind.latency_s).all()
    assert (result.energy_J <= result.blind.energy_J).all()  # throttled compute runs at a lower voltage
    throttled = result.throttled_s > 0
    assert (result.latency_s[~throttled] == result.blind.latency_s[~throttled]).all()


def test_a_hot_mapping_throttles_and_its_compute_stretches(setup, genomes):
    ev, dtm = setup
    cool = ThermalEvaluator(ev, dtm.with_t_max(1e4)).evaluate(genomes)
    hot = ThermalEvaluator(ev, dtm.with_t_max(np.median(cool.peak_K) - 1.0)).evaluate(genomes)
    stretched = hot.latency_s > hot.blind.latency_s
    assert stretched.any() and (hot.throttled_s[stretched] > 0).all()
    # the DTM step halves the clock: no job can take more than twice its compute time, communication unchanged
    assert (hot.latency_s <= 2.0 * hot.blind.latency_s * (1 + 1e-12)).all()


def test_the_throttled_level_follows_the_dvfs_law_at_each_chiplets_clock(setup):
    _, dtm = setup
    np.testing.assert_allclose(dtm.throttled_voltage(np.array([1.0, 2.0])), [0.7 / 0.8, 0.8 / 1.0])


def test_energy_adds_up_over_the_power_trace(setup, genomes):
    """With no idle or leakage power, the dynamic power trace integrates to the (throttled) energy."""
    base, dtm = setup
    ev = Evaluator(base.workload, with_package(base.hardware, idle_W_per_mm2=0.0, leakage_W_per_mm2=0.0))
    mapping = ev.encoding.decode(genomes[3])
    for t_max in (1e4, 330.0):
        details = ThermalEvaluator(ev, dtm.with_t_max(t_max)).details(mapping)
        traced_J = details.power_W.sum() * dtm.dtm_period_s
        assert traced_J == pytest.approx(details.evaluation.energy_J[0], rel=1e-9)
        assert details.evaluation.static_energy_J[0] == 0.0
        assert (details.finish_s.max(axis=(1, 2)) <= details.evaluation.iteration_latency_s[0]).all()
    blind = ev.details(mapping)
    cool = ThermalEvaluator(ev, dtm.with_t_max(1e4)).details(mapping)
    np.testing.assert_array_equal(cool.finish_s, blind.finish_s)
    np.testing.assert_allclose(cool.start_s, blind.start_s, rtol=1e-12, atol=1e-18)


def test_idle_and_leakage_energy_follow_the_package_law_at_the_traced_temperatures(setup, genomes):
    """The compiled kernel's static power is package.py's idle + leakage law at each period's start temperature."""
    ev, dtm = setup
    details = ThermalEvaluator(ev, dtm.with_t_max(1e4)).details(ev.encoding.decode(genomes[2]))
    starts = np.vstack([details.initial_K, details.temperature_K[:-1]])
    durations = np.diff(details.time_s, prepend=0.0)
    static_W = idle_W(ev.hardware) + leakage_W(ev.hardware, starts)
    assert details.evaluation.static_energy_J[0] == pytest.approx((static_W.sum(axis=1) * durations).sum(),
                                                                  rel=1e-9)


def test_more_power_never_gives_a_lower_temperature(setup, genomes):
    ev, dtm = setup
    base = ThermalEvaluator(ev, dtm.with_t_max(1e4))
    idle = ev.hardware.package.idle_W_per_mm2 + 0.01
    busier = Evaluator(ev.workload, with_package(ev.hardware, idle_W_per_mm2=idle))
    hotter = ThermalEvaluator(busier, dtm.with_t_max(1e4))
    mapping = ev.encoding.decode(genomes[5])
    a, b = base.details(mapping), hotter.details(mapping)
    assert (b.temperature_K >= a.temperature_K).all() and (b.initial_K >= a.initial_K).all()


@settings(max_examples=25, deadline=None)
@given(power=st.lists(st.floats(0.0, 5.0), min_size=10, max_size=10),
       extra=st.lists(st.floats(0.0, 5.0), min_size=10, max_size=10))
def test_steady_temperatures_grow_with_power(setup, power, extra):
    ev, dtm = setup
    thermal = ThermalEvaluator(ev, dtm)
    assert len(thermal.power_names) == 10  # 6 chiplets, then 4 DRAM channels
    low = thermal.steady_K(np.array(power))
    high = thermal.steady_K(np.array(power) + np.array(extra))
    assert (high >= low - 1e-9).all()


def test_with_a_very_high_t_max_the_thermal_search_returns_the_blind_result(setup):
    ev, dtm = setup
    settings_ = SearchSettings(pop_size=12, n_gen=4, seed=3)
    blind = run_search(ev, settings_)
    aware = run_search(ThermalEvaluator(ev, dtm.with_t_max(1e4)), settings_)
    np.testing.assert_array_equal(aware.best_genome, blind.best_genome)
    assert aware.best_edp == blind.best_edp


def test_a_peak_constraint_keeps_the_best_mapping_under_it(setup, genomes):
    ev, dtm = setup
    thermal = ThermalEvaluator(ev, dtm)
    free = run_search(thermal, SearchSettings(pop_size=16, n_gen=4, seed=0, local_share=0.0))
    peak_free = thermal.evaluate(free.best_genome[None, :]).peak_K[0]
    limit = min(np.median(thermal.evaluate(genomes).peak_K), peak_free - 0.05)  # below the free best's peak
    capped = run_search(thermal, SearchSettings(pop_size=16, n_gen=4, seed=0, local_share=0.0, max_peak_K=limit))
    assert thermal.evaluate(capped.best_genome[None, :]).peak_K[0] <= limit


def test_nsga2_over_edp_and_peak_temperature(setup):
    ev, dtm = setup
    thermal = ThermalEvaluator(ev, dtm)
    result = run_search(thermal, SearchSettings(pop_size=12, n_gen=3, seed=0, objective="edp-peak"))
    front = result.pareto_F
    assert front.shape[1] == 2 and len(front) >= 1
    scored = thermal.evaluate(result.pareto_genomes)
    np.testing.assert_allclose(front[:, 0], scored.edp)
    np.testing.assert_allclose(front[:, 1], scored.peak_K)


def test_cli_thermal_search_writes_traces_plots_and_thermal_columns(tmp_path, tiny_config, capsys):
    from ailfm.cli import main

    hw = tmp_path / "hw.yaml"
    hw.write_text("mesh: {cols: 2, rows: 2}\nchiplet_types:\n  a: {dataflow: os, macs: 256, buffer_KiB: 64}\n"
                  "layout: a\n")
    scenario = ["--model", str(tiny_config), "--hardware", str(hw), "--serving", "vllm", "--slots", "4",
                "--micro-batches", "2", "--tensor-parallel", "2", "--steps", "1", "--t-max-C", "60"]
    out = tmp_path / "run"
    assert main(["map", "search", *scenario, "--out", str(out), "--pop", "8", "--gen", "2", "--workers", "1",
                 "--no-progress", "--objective", "edp-peak", "--max-peak-C", "150"]) == 0
    for name in ("thermal_trace.csv", "report/heatmap.png", "report/temperature.png", "report/pareto.png"):
        assert (out / name).exists(), name
    table = pd.read_csv(out / "baselines.csv")
    assert {"peak_C", "above_t_max_ms", "blind_edp_Js"} <= set(table.columns)
    assert (table.edp_Js >= table.blind_edp_Js * (1 - 1e-12)).all() or (table.peak_C < 60).all()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["thermal"]["t_max_C"] == pytest.approx(60.0)
    trace = pd.read_csv(out / "thermal_trace.csv")
    assert len(trace) > 0 and {"time_s", "chiplet0_C", "chiplet3_throttled"} <= set(trace.columns)
    capsys.readouterr()
    assert main(["map", "evaluate", *scenario, "--mapping", str(out / "best_mapping.json"), "--thermal"]) == 0
    assert "after DTM (T_max 60 C)" in capsys.readouterr().out
