"""HotSpot in the loop (``--thermal hotspot``): the per-cell restart files, the loop against the grid model, the
missing-binary error.

The restart is checked without HotSpot by running ``ailfm-hotspot`` (the built-in drop-in, which reads and writes
HotSpot's files by HotSpot's rules) as the binary; the agreement with a real HotSpot 7.0 skips, saying why, when
neither ``$HOTSPOT`` nor ``PATH`` has one.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ailfm.cli import main
from ailfm.errors import ConfigError, ToolError
from ailfm.plugins.epoch.chip_thermal import build_thermal, chip_stack, grid_config
from ailfm.plugins.run import runner
from ailfm.plugins.system.description import load_system
from ailfm.thermal.floorplan_gen import write_stack
from ailfm.thermal.formats import read_lcf, read_steady, write_config
from ailfm.thermal.grid import N_PACKAGE, build_grid_circuit
from ailfm.thermal.hotspot_backend import HotSpotBackend, find_hotspot
from ailfm.thermal.hotspot_grid import PRECISION_SCALE, HotSpotGridModel, cell_floorplan, write_restart_file
from ailfm.thermal.model import make_solver

CELLS = 16  # cells per side in the tests (the system's default is 32: 8 HotSpot runs cost ~30 s there)
EPOCH_S = 1e-3


@pytest.fixture(scope="module")
def system():
    return load_system("snuca-64")


def _model(system, executable, monkeypatch, cells: int = CELLS) -> HotSpotGridModel:
    """``build_thermal(system, "hotspot")`` with ``executable`` as ``$HOTSPOT``."""
    monkeypatch.setenv("HOTSPOT", str(executable))
    return build_thermal(system, "hotspot", cells=cells)


def _powers(model, n: int, seed: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.05, 2.0, len(model.power_names)) for _ in range(n)]


def _real_hotspot() -> str:
    try:
        return find_hotspot()
    except ToolError as err:
        pytest.skip(f"no HotSpot binary: {err}")


def test_cell_floorplan_puts_block_k_on_hotspot_cell_k(system, tmp_path):
    """Block k of the per-cell floorplan covers exactly cell k (row-major, row 0 at the top), as HotSpot maps it."""
    rows, cols, width, height = 4, 8, 6e-3, 3e-3
    from ailfm.thermal.formats import LcfLayer, write_flp

    write_flp(tmp_path / "c.flp", cell_floorplan(0, rows, cols, width, height))
    layer = LcfLayer(0, True, True, 1.75e6, 0.01, 1e-4, tmp_path / "c.flp")
    config = grid_config(system, 4).with_flags({"grid_rows": str(rows), "grid_cols": str(cols)})
    circuit = build_grid_circuit(config, layers=[layer])
    cell_map = circuit.cell_maps[0]
    k = np.arange(rows * cols)
    np.testing.assert_array_equal(cell_map.rect, np.stack([k // cols, k // cols + 1, k % cols, k % cols + 1], axis=1))
    np.testing.assert_array_equal(cell_map.entry_cell, k)
    np.testing.assert_array_equal(cell_map.entry_occupancy, 1.0)


def test_restart_file_holds_every_cell_and_package_node(system, tmp_path, monkeypatch):
    """The init file of a non-uniform state restarts HotSpot's grid cell by cell (HotSpot's init semantics)."""
    model = _model(system, sys.executable, monkeypatch)  # never run: only its files are read
    rng = np.random.default_rng(0)
    state_K = model.ambient_K + rng.uniform(0, 40, model.circuit.network.n_nodes)
    write_restart_file(tmp_path / "state.init", model.cell_node_names, state_K)
    values = read_steady(tmp_path / "state.init")
    assert list(values)[-N_PACKAGE:] == [f"inode_{k}" for k in range(N_PACKAGE)]
    # the per-cell stack the model hands HotSpot, read back as HotSpot reads an init file
    cells = build_grid_circuit(grid_config(system, CELLS), layers=read_lcf(model.directory / "cells.lcf"))
    restarted = cells.theta_from_named({name: value - model.ambient_K for name, value in values.items()})
    assert np.abs(restarted + model.ambient_K - state_K).max() <= 0.005 + 1e-9  # HotSpot's %.2f
    # the same cells, the same physics: the per-cell circuit is the stack's circuit node for node
    assert (cells.network.conductance_W_per_K != model.circuit.network.conductance_W_per_K).nnz == 0
    np.testing.assert_allclose(cells.network.capacitance_J_per_K, model.circuit.network.capacitance_J_per_K)
    model.close()


def test_package_nodes_stay_at_a_steady_state(system):
    """Driven by the cells of a steady state, the twelve package nodes do not move."""
    from ailfm.thermal.hotspot_grid import _PackageNodes

    circuit = build_thermal(system, "grid", cells=CELLS).circuit
    theta = make_solver(circuit, "sparse").steady(circuit.network.power_to_node @ np.full(len(circuit.power_names),
                                                                                           0.5))
    after = _PackageNodes(circuit).advance(theta, theta, EPOCH_S)
    np.testing.assert_allclose(after, theta[-N_PACKAGE:], rtol=1e-9, atol=1e-9)


def test_restart_carries_the_whole_grid_through_the_files(system, monkeypatch):
    """With the drop-in ``ailfm-hotspot`` as the binary, epoch after epoch from the files equals the built-in grid
    model to HotSpot's printed precision; a block-average re-init would drift by kelvins."""
    drop_in = shutil.which("ailfm-hotspot", path=str(Path(sys.executable).parent))
    model = _model(system, drop_in, monkeypatch)
    grid = build_thermal(system, "grid", cells=CELLS)
    for power in _powers(model, 3):
        np.testing.assert_allclose(model.step(power, EPOCH_S), grid.step(power, EPOCH_S), atol=0.02)
    for name, value in grid.node_temperatures().items():
        assert model.node_temperatures()[name] == pytest.approx(value, abs=0.02), name
    model.close()


def test_sub_step_restarts_keep_drift_below_hotspots_print_step(system, monkeypatch):
    """Restarted every 50 us (a DTM sub-step), HotSpot's two printed decimals would round the slow nodes' drift away
    (8 restarts lose ~0.006 K unscaled); run at PRECISION_SCALE times the power and rise, the files carry 1e-4 K."""
    drop_in = shutil.which("ailfm-hotspot", path=str(Path(sys.executable).parent))
    model = _model(system, drop_in, monkeypatch)
    assert model.scale == PRECISION_SCALE
    grid = build_thermal(system, "grid", cells=CELLS)
    power = _powers(model, 1)[0]
    for _ in range(8):
        np.testing.assert_allclose(model.step(power, 50e-6), grid.step(power, 50e-6), atol=0.002)
    for name, value in grid.node_temperatures().items():
        assert model.node_temperatures()[name] == pytest.approx(value, abs=0.002), name
    model.close()


def test_nonlinear_hotspot_models_run_unscaled(system, tmp_path, monkeypatch):
    """Leakage or the package model (natural convection) make HotSpot nonlinear in power: no scaling then."""
    monkeypatch.setenv("HOTSPOT", sys.executable)  # never run
    layers = read_lcf(write_stack(chip_stack(system), tmp_path))
    config = grid_config(system, CELLS)
    assert HotSpotGridModel(config, layers).scale == PRECISION_SCALE
    assert HotSpotGridModel(config.with_flags({"leakage_used": "1"}), layers).scale == 1.0


def test_too_many_cells_for_hotspot_is_a_config_error(system, monkeypatch):
    with pytest.raises(ConfigError, match="8192"):
        _model(system, sys.executable, monkeypatch, cells=64)


def test_no_binary_is_one_line_through_the_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOTSPOT", str(tmp_path / "no-such-hotspot"))
    runner.thermal_model.cache_clear()
    code = main(["simulate", "--thermal", "hotspot", "--duration", "0.002", "--out", str(tmp_path / "out"),
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("ailfm simulate: error: HotSpot binary") and "HOTSPOT" in err and "PATH" in err
    assert not (tmp_path / "out" / "summary.json").exists()


def test_real_hotspot_restart_equals_its_own_uninterrupted_transient(system, tmp_path, monkeypatch):
    """Per-cell restarts against HotSpot run on the block floorplans over the whole history (its exact transient)."""
    binary = _real_hotspot()
    model = _model(system, binary, monkeypatch)
    lcf = write_stack(chip_stack(system), tmp_path)
    write_config(tmp_path / "hotspot.config", grid_config(system, CELLS))
    exact = HotSpotBackend({"c": "hotspot.config", "grid_layer_file": lcf.name, "model_type": "grid"},
                           executable=binary, cwd=tmp_path, state_mode="replay")
    for power in _powers(model, 4):
        np.testing.assert_allclose(model.step(power, EPOCH_S), exact.step(power, EPOCH_S), atol=0.03)
    np.testing.assert_allclose(model.steady(power), build_thermal(system, "grid", cells=CELLS).steady(power),
                               atol=0.05)
    model.close()


def test_simulate_with_real_hotspot_agrees_with_grid(system, tmp_path, monkeypatch):
    """The acceptance check at a smaller grid and duration: every core, every epoch within 0.2 K of --thermal grid."""
    monkeypatch.setenv("HOTSPOT", _real_hotspot())
    runner.thermal_model.cache_clear()
    temperatures = {}
    for kind in ("grid", "hotspot"):
        assert main(["simulate", "--thermal", kind, "--duration", "0.004", "--grid-cells", str(CELLS),
                     "--out", str(tmp_path / kind), "--quiet"]) == 0
        temperatures[kind] = pd.read_parquet(tmp_path / kind / "timeline.parquet")["temperature_C"].to_numpy()
    runner.thermal_model.cache_clear()
    assert len(temperatures["grid"]) == 4 * system.n_cores
    assert np.abs(temperatures["hotspot"] - temperatures["grid"]).max() <= 0.2
