"""The co-simulation API of the built-in model: build, reset, step, steady, run; HotSpot's start-up rules."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ailfm.errors import ConfigError
from ailfm.thermal.base import ThermalModel
from ailfm.thermal.formats.config import HotSpotConfig
from ailfm.thermal.formats.flp import Block, Floorplan
from ailfm.thermal.formats.steady import write_steady
from ailfm.thermal.model import (
    LEAKAGE_ALPHA_W_PER_M2,
    LEAKAGE_BASE_K,
    LEAKAGE_BETA_PER_K,
    CircuitThermalModel,
    build_thermal_model,
    run_transient,
)
from ailfm.thermal.solvers.eigen import EigenSolver

FLOORPLAN = Floorplan((Block("core0", 0.004, 0.004, 0.0, 0.0), Block("core1", 0.004, 0.004, 0.004, 0.0),
                       Block("llc", 0.008, 0.003, 0.0, 0.004)))
POWER_W = np.array([12.0, 3.0, 1.5])


def _model(**flags: str) -> CircuitThermalModel:
    return build_thermal_model(HotSpotConfig().with_flags({"model_type": "block", **flags}), floorplan=FLOORPLAN)


def test_names_follow_hotspot():
    model = _model()
    assert model.power_names == model.output_names == ("core0", "core1", "llc")
    names = tuple(model.node_temperatures())
    assert names[:3] == ("core0", "core1", "llc")
    assert names[3:12] == ("iface_core0", "iface_core1", "iface_llc", "hsp_core0", "hsp_core1", "hsp_llc",
                           "hsink_core0", "hsink_core1", "hsink_llc")
    assert names[12:] == tuple(f"inode_{i}" for i in range(12))
    assert isinstance(model.solver, EigenSolver)


def test_reset_sets_the_start_state():
    model = _model(init_temp="333.15", ambient="300")
    np.testing.assert_allclose(list(model.node_temperatures().values()), 333.15)
    model.step(POWER_W, 0.01)
    model.reset(310.0)
    np.testing.assert_allclose(model.temperatures(), 310.0)
    values = {name: 320.0 + i for i, name in enumerate(model.node_temperatures())}
    model.reset(values)
    assert model.node_temperatures() == pytest.approx(values)
    model.reset()
    np.testing.assert_allclose(model.temperatures(), 333.15)
    with pytest.raises(ConfigError, match="lacks"):
        model.reset({"core0": 330.0})


def test_steady_leaves_the_state_alone_and_step_approaches_it():
    model = _model()
    before = model.node_temperatures()
    steady = model.steady(POWER_W)
    assert model.node_temperatures() == before
    assert steady[0] > steady[1] > model.ambient_K  # the busy core is hottest
    # The stored heat away from equilibrium, sum C (T - T_steady)^2, only ever decreases.
    target = np.array(list(model.steady_node_temperatures(POWER_W).values()))
    capacitance = model.circuit.network.capacitance_J_per_K
    distances = []
    for _ in range(30):
        model.step(POWER_W, 0.02)
        gap = np.array(list(model.node_temperatures().values())) - target
        distances.append(capacitance @ gap**2)
    assert np.all(np.diff(distances) < 0)


@pytest.mark.parametrize("model_type", ["block", "grid"])
def test_run_equals_stepping_row_by_row(model_type):
    rows = np.random.default_rng(3).uniform(0, 10, size=(7, 3))
    flags = {"grid_rows": "8", "grid_cols": "8"} if model_type == "grid" else {}
    model = build_thermal_model(HotSpotConfig().with_flags({"model_type": model_type, **flags}),
                                floorplan=FLOORPLAN, solver="eigen")
    by_run = model.run(rows, 2e-3)
    end_state = model.node_temperatures()
    model.reset()
    by_step = np.array([model.step(row, 2e-3) for row in rows])
    np.testing.assert_allclose(by_run, by_step, rtol=0, atol=1e-9)
    assert model.node_temperatures() == pytest.approx(end_state)
    model.reset()
    np.testing.assert_allclose(run_transient(model, rows, 2e-3), by_step, atol=1e-9)


def test_bad_power_is_rejected_with_the_block_name():
    model = _model()
    with pytest.raises(ValueError, match="shape"):
        model.step(np.ones(2), 0.01)
    with pytest.raises(ValueError, match="'core1'"):
        model.steady(np.array([1.0, -1.0, 0.0]))
    with pytest.raises(ValueError, match="'llc' in row 1"):
        model.run(np.array([[1.0, 1.0, 1.0], [1.0, 1.0, np.nan]]), 0.01)


def test_run_transient_steps_any_thermal_model():
    class Counter(ThermalModel):
        power_names = output_names = ("a",)
        ambient_K = 300.0

        def __init__(self):
            self.total = 0.0

        def steady(self, power_W):
            return np.array([300.0])

        def step(self, power_W, dt_s):
            self.total += float(power_W[0]) * dt_s
            return np.array([300.0 + self.total])

        def reset(self, init=None):
            self.total = 0.0

        def node_temperatures(self):
            return {"a": 300.0 + self.total}

    np.testing.assert_allclose(run_transient(Counter(), np.array([[1.0], [2.0]]), 0.5), [[300.5], [301.5]])


def test_init_file_is_read_once_and_clipped_with_dtm(tmp_path):
    model = _model()
    values = {name: 340.0 for name in model.node_temperatures()}
    values["core0"] = 400.0
    path = tmp_path / "start.init"
    write_steady(path, values)
    from_file = _model(init_file=str(path))
    assert from_file.node_temperatures() == pytest.approx(values)
    clipped = _model(init_file=str(path), dtm_used="1", thermal_threshold="370", ambient="320")
    got = clipped.node_temperatures()
    factor = (370.0 - 320.0) / (400.0 - 320.0)  # hottest block brought to the threshold, every rise scaled alike
    assert got["core0"] == pytest.approx(370.0)
    assert got["inode_5"] == pytest.approx(320.0 + (340.0 - 320.0) * factor)


def test_leakage_loop_adds_hotspots_leakage_power():
    plain, leaky = _model(), _model(leakage_used="1")
    assert np.all(leaky.steady(POWER_W) > plain.steady(POWER_W))
    theta = np.array(list(leaky.steady_node_temperatures(POWER_W).values())) - leaky.ambient_K
    block_K = theta[:3] + leaky.ambient_K
    area_m2 = np.array([b.width_m * b.height_m for b in FLOORPLAN.blocks])
    leak_W = LEAKAGE_ALPHA_W_PER_M2 * area_m2 * np.exp(LEAKAGE_BETA_PER_K * (block_K - LEAKAGE_BASE_K))
    heat_out_W = leaky.circuit.network.ambient_conductance_W_per_K @ theta
    # Converged to HotSpot's 0.01 K: the balance holds with the leakage at (nearly) the final temperatures.
    assert heat_out_W == pytest.approx(POWER_W.sum() + leak_W.sum(), rel=1e-3)
    assert leaky.step(POWER_W, 0.01) == pytest.approx(plain.step(POWER_W, 0.01))  # transients without leakage


def test_bad_builds_are_config_errors():
    config = HotSpotConfig()
    with pytest.raises(ConfigError, match="floorplan"):
        build_thermal_model(config)
    with pytest.raises(ConfigError, match="solver"):
        build_thermal_model(config, floorplan=FLOORPLAN, solver="magic")
    with pytest.raises(ConfigError, match="model_type"):
        build_thermal_model(replace(config, model_type="spice"), floorplan=FLOORPLAN)
    with pytest.raises(ConfigError, match="model_secondary"):
        build_thermal_model(replace(config, model_secondary=True), floorplan=FLOORPLAN)
    with pytest.raises(ConfigError, match="spreader"):
        build_thermal_model(replace(config, s_spreader=0.005), floorplan=FLOORPLAN)
    with pytest.raises(ConfigError, match="material_chip"):
        build_thermal_model(replace(config, material_chip="unobtainium"), floorplan=FLOORPLAN)


def test_dtm_clip_of_a_stack_looks_at_its_first_layer_only():
    """HotSpot's grid read_temp clips on layer 0 (``layer_0_*`` in a 3D init file), not on hotter layers."""
    import scipy.sparse as sp

    from ailfm.thermal.network import RCNetwork, ThermalCircuit

    class TwoLayers(ThermalCircuit):
        power_names = output_names = ("a",)
        node_names = ("layer_0_a", "layer_1_a")
        network = RCNetwork(sp.csr_matrix(np.array([[2.0, -1.0], [-1.0, 1.0]])), np.ones(2), np.array([1.0, 0.0]),
                            sp.csr_matrix(np.array([[0.0], [1.0]])))

        def outputs(self, theta):
            return theta[..., 1:]

        def named_nodes(self, theta):
            return theta

        def theta_from_named(self, rise_by_name):
            return np.array([rise_by_name[name] for name in self.node_names])

    init = {"layer_0_a": 360.0, "layer_1_a": 400.0}
    model = CircuitThermalModel(TwoLayers(), "eigen", ambient_K=300.0, init=init, thermal_threshold_K=330.0)
    assert model.node_temperatures() == pytest.approx({"layer_0_a": 330.0, "layer_1_a": 350.0})
    unclipped = CircuitThermalModel(TwoLayers(), "eigen", ambient_K=300.0, init=init, thermal_threshold_K=370.0)
    assert unclipped.node_temperatures() == pytest.approx(init)


def test_steady_rises_include_the_leakage_loop():
    plain, leaky = _model(), _model(leakage_used="1")
    rises = leaky.steady_rises(POWER_W)
    np.testing.assert_allclose(rises[:3] + leaky.ambient_K, leaky.steady(POWER_W))
    assert np.all(rises > plain.steady_rises(POWER_W))
    with pytest.raises(NotImplementedError):
        plain.steady_grid_maps(POWER_W)  # a block model has no grid


@pytest.mark.skipif(__import__("importlib").util.find_spec("ailfm.thermal.grid") is None,
                    reason="ailfm.thermal.grid does not exist yet")
def test_grid_models_pass_their_maps_through():
    config = HotSpotConfig().with_flags({"model_type": "grid", "grid_rows": "8", "grid_cols": "8"})
    model = build_thermal_model(config, floorplan=FLOORPLAN)
    assert model.has_grid_maps()
    maps = model.steady_grid_maps(POWER_W)
    assert all(m.shape == (8, 8) for m in maps.values())
    # Block temperatures are read from the cells (centre cell by default): no block is hotter than the hottest cell.
    assert max(m.max() for m in maps.values()) >= model.steady(POWER_W).max() - 1e-9
    model.step(POWER_W, 0.01)
    assert all(np.all(m >= model.ambient_K) for m in model.grid_maps().values())
