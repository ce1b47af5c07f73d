"""The grid model: HotSpot 7.0 parity on the reference cases, and the network's construction rules.

Parity: steady temperatures of every node of out.steady within 0.05 K, every cell of out.grid.steady
within 0.05 K, and the first rows of each transient within 0.2 K of HotSpot's .ttrace (a transient is
causal, so a prefix checks the reference's first samples; bench/thermal_grid_parity.py runs them whole).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse.linalg as spla
from reference_data import HOTSPOT_REFERENCE, require_shared

from ailfm.errors import ConfigError
from ailfm.thermal.formats import (
    Block,
    Floorplan,
    HotSpotConfig,
    LcfLayer,
    read_grid_steady,
    read_ptrace,
    read_steady,
    read_ttrace,
    write_flp,
)
from ailfm.thermal.grid import (
    C_FACTOR,
    N_PACKAGE,
    GridCircuit,
    build_grid_circuit,
    chip_layer,
    map_blocks_to_cells,
)
from ailfm.thermal.hotspot_cli import parse_command_line, read_model_inputs, resolve_config
from ailfm.thermal.model import build_thermal_model
from ailfm.thermal.solvers.sparse import SparseSolver

STEADY_TOLERANCE_K = 0.05
TRANSIENT_TOLERANCE_K = 0.2
# Rows of each reference transient checked here (the whole traces run in bench/thermal_grid_parity.py).
TRANSIENT_ROWS = {"ev6_grid": 4, "example3_two_layers": 2, "snuca_2x4x4": 6}


def _commands(kind: str):
    params = []
    for case in sorted(TRANSIENT_ROWS):
        path = HOTSPOT_REFERENCE / case / "case.json"
        if not path.exists():
            params.append(pytest.param(case, None, id=f"{case}-shared-data-absent"))
            continue
        for command in json.loads(path.read_text())["commands"]:
            flags = parse_command_line(command[1:])
            if ("o" in flags) == (kind == "transient"):
                params.append(pytest.param(case, flags, id=f"{case}-{flags.get('o', 'steady')}"))
    return params


def _inputs(case: str, flags: dict[str, str]):
    case_dir = require_shared(HOTSPOT_REFERENCE / case)
    config, materials = resolve_config(flags, cwd=case_dir)
    floorplan, layers = read_model_inputs(config, materials, cwd=case_dir)
    if config.init_file is not None:
        config = config.with_flags({"init_file": str(case_dir / config.init_file)})
    return case_dir, config, materials, floorplan, layers


@pytest.mark.parametrize(("case", "flags"), _commands("steady"))
def test_steady_matches_hotspot(case, flags):
    case_dir, config, materials, floorplan, layers = _inputs(case, flags)
    circuit = build_grid_circuit(config, floorplan=floorplan, layers=layers, materials=materials)
    power = read_ptrace(case_dir / flags["p"]).reordered(circuit.power_names).power_W.mean(axis=0)
    theta = SparseSolver(circuit.network).steady(circuit.network.power_to_node @ power)

    expected = read_steady(case_dir / flags["steady_file"])
    assert circuit.node_names == tuple(expected), "node names or order differ from HotSpot's steady file"
    error = np.abs(circuit.named_nodes(theta) + config.ambient - np.array(list(expected.values())))
    assert error.max() <= STEADY_TOLERANCE_K, f"{circuit.node_names[error.argmax()]} off by {error.max():.3f} K"

    expected_maps = read_grid_steady(case_dir / flags["grid_steady_file"])
    maps = circuit.grid_maps(theta)
    assert len(maps) == len(expected_maps) == len(circuit.layers) + 2  # the spreader and sink are dumped too
    for (name, grid_map), reference in zip(maps.items(), expected_maps, strict=True):
        worst = np.abs(grid_map + config.ambient - reference.reshape(grid_map.shape)).max()
        assert worst <= STEADY_TOLERANCE_K, f"grid layer {name} differs by up to {worst:.3f} K"


@pytest.mark.parametrize(("case", "flags"), _commands("transient"))
def test_transient_prefix_matches_hotspot(case, flags):
    case_dir, config, materials, floorplan, layers = _inputs(case, flags)
    model = build_thermal_model(config, floorplan=floorplan, layers=layers, materials=materials, solver="sparse")
    assert isinstance(model.solver, SparseSolver)
    rows = TRANSIENT_ROWS[case]
    power = read_ptrace(case_dir / flags["p"]).reordered(model.power_names).power_W[:rows]
    expected = read_ttrace(case_dir / flags["o"])
    got = model.run(power, config.sampling_intvl)
    index = [model.output_names.index(name) for name in expected.names]
    error = np.abs(got[:, index] - expected.temperatures_K[:rows])
    assert error.max() <= TRANSIENT_TOLERANCE_K, f"max error {error.max():.3f} K"


# ---- construction rules on small hand-made dies ---------------------------------------------------------------

def _config(**flags) -> HotSpotConfig:
    base = {"model_type": "grid", "grid_rows": "8", "grid_cols": "8", "grid_map_mode": "avg"}
    base.update({k: str(v) for k, v in flags.items()})
    return HotSpotConfig().with_flags(base)


def _die(*blocks) -> Floorplan:
    return Floorplan(tuple(Block(*b) for b in blocks))


def chip_layers_of(floorplan: Floorplan):
    return [chip_layer("silicon", "", floorplan, conductivity_W_per_mK=100.0, specific_heat_J_per_m3K=1.75e6,
                       thickness_m=1.5e-4, lateral=True, has_power=True)]


# a 4 x 4 mm die: a 2.5 mm wide core on the left (not on the 0.5 mm cell boundaries), two caches on the right
DIE = _die(("core", 2.3e-3, 4e-3, 0.0, 0.0), ("cache_lo", 1.7e-3, 1.6e-3, 2.3e-3, 0.0),
           ("cache_hi", 1.7e-3, 2.4e-3, 2.3e-3, 1.6e-3))


def test_two_dimensional_default_stack_names_hotspot_nodes():
    circuit = build_grid_circuit(_config(), floorplan=DIE)
    assert circuit.layer_names == ("silicon", "iface", "hsp", "hsink")
    assert circuit.power_names == circuit.output_names == ("core", "cache_lo", "cache_hi")
    assert circuit.node_names[:4] == ("core", "cache_lo", "cache_hi", "iface_core")
    assert circuit.node_names[-N_PACKAGE - 1:] == ("hsink_cache_hi",) + tuple(f"inode_{k}" for k in range(12))
    assert circuit.network.n_nodes == 4 * 64 + N_PACKAGE


def test_occupancy_spreads_each_blocks_power_exactly_once():
    circuit = build_grid_circuit(_config(grid_rows=8, grid_cols=16), floorplan=DIE)
    node_power = circuit.network.power_to_node @ np.array([3.0, 1.0, 2.0])
    assert node_power.sum() == pytest.approx(6.0, rel=1e-12)
    cells = node_power[:128].reshape(8, 16)
    # core covers columns 0..8 fully (2.3 mm / 0.25 mm = 9.2 columns) and 20 % of column 9
    core_density = 3.0 / (2.3e-3 * 4e-3) * (0.25e-3 * 0.5e-3)
    assert cells[3, 4] == pytest.approx(core_density)
    assert cells[3, 9] == pytest.approx(0.2 * core_density + 0.8 * 2.0 / (1.7e-3 * 2.4e-3) * (0.25e-3 * 0.5e-3))


def test_cell_mapping_rectangles_and_partial_occupancy():
    layer = build_grid_circuit(_config(), floorplan=DIE).layers[0]
    cell_map = map_blocks_to_cells(layer, 8, 8, 4e-3, 4e-3)
    # rows count from the top of the die: cache_hi (y 1.6..4 mm) spans rows 0..4 (row 4 holds 0.8 of its height)
    np.testing.assert_array_equal(cell_map.rect[2], [0, 5, 4, 8])
    entries = cell_map.entry_block == 2
    cells, occupancies = cell_map.entry_cell[entries].tolist(), cell_map.entry_occupancy[entries].tolist()
    occupancy = dict(zip(cells, occupancies, strict=True))
    assert occupancy[0 * 8 + 5] == pytest.approx(1.0) and occupancy[4 * 8 + 5] == pytest.approx(0.8)
    # the corner cell (x 2.0..2.5, y 1.5..2.0 mm) is shared with core and cache_lo
    assert occupancy[4 * 8 + 4] == pytest.approx(0.8 * 0.4)


@pytest.mark.parametrize("mode", ["avg", "min", "max", "center"])
def test_grid_to_block_map_modes(mode):
    circuit = build_grid_circuit(_config(grid_map_mode=mode), floorplan=DIE)
    theta = np.arange(circuit.network.n_nodes, dtype=float)
    core = theta[:64].reshape(8, 8)[0:8, 0:5]  # the core's rectangle: all rows, columns 0..4
    expected = {"avg": core.mean(), "min": core.min(), "max": core.max(),
                "center": (core[4, 2] + core[3, 2]) / 2}[mode]  # even rows: average the two middle cells
    assert circuit.outputs(theta)[0] == pytest.approx(expected)
    names = circuit.named_nodes(theta)
    hsink = circuit.node_names.index("hsink_core")
    sink = theta[3 * 64:4 * 64].reshape(8, 8)[:, 0:5]
    assert names[hsink] == pytest.approx({"avg": sink.mean(), "min": sink.min(), "max": sink.max(),
                                          "center": (sink[4, 2] + sink[3, 2]) / 2}[mode])


def test_init_file_semantics_occupancy_weighted_block_temperatures():
    circuit = build_grid_circuit(_config(ambient=300.0), floorplan=DIE)
    rise = {name: 0.0 for name in circuit.node_names}
    rise.update({"core": 10.0, "cache_hi": 20.0, "inode_3": 5.0})
    theta = circuit.theta_from_named(rise)
    silicon = theta[:64].reshape(8, 8)
    assert silicon[0, 0] == pytest.approx(10.0) and silicon[0, 7] == pytest.approx(20.0)
    assert silicon[0, 4] == pytest.approx(0.6 * 10.0 + 0.4 * 20.0)  # column 4: 0.2 of 0.5 mm is core
    assert theta[-N_PACKAGE + 3] == 5.0
    with pytest.raises(ConfigError, match="missing"):
        circuit.theta_from_named({"core": 1.0})
    with pytest.raises(ConfigError, match="unknown"):
        circuit.theta_from_named({**rise, "nonsense": 1.0})


def test_uncovered_cells_start_at_zero_kelvin_like_hotspot():
    half = _die(("left", 2e-3, 4e-3, 0.0, 0.0), ("right", 1e-3, 4e-3, 3e-3, 0.0))
    circuit = build_grid_circuit(_config(ambient=300.0), floorplan=half)
    theta = circuit.theta_from_named({name: 10.0 for name in circuit.node_names})
    silicon = theta[:64].reshape(8, 8)
    assert silicon[2, 5] == pytest.approx(-300.0)  # a gap column: sum of no occupancies x T = 0 K
    assert silicon[2, 0] == pytest.approx(10.0)


def _stack(tmp_path: Path, *, materials: bool) -> list[LcfLayer]:
    """Two silicon layers with TIM below each; layer 0's floorplan has a block with its own material."""
    top = _die(("hot", 2.3e-3, 4e-3, 0.0, 0.0, *((3.0e6, 0.002) if materials else ())),
               ("cold", 1.7e-3, 4e-3, 2.3e-3, 0.0))
    sheet = _die(("sheet", 4e-3, 4e-3, 0.0, 0.0))
    write_flp(tmp_path / "top.flp", top)
    write_flp(tmp_path / "sheet.flp", sheet)
    write_flp(tmp_path / "bottom.flp", DIE)
    si, tim = (1.75e6, 0.01), (4e6, 0.25)
    return [LcfLayer(0, True, True, *si, 1e-4, tmp_path / "top.flp"),
            LcfLayer(1, False, False, *tim, 2e-5, tmp_path / "sheet.flp"),
            LcfLayer(2, True, True, *si, 1.5e-4, tmp_path / "bottom.flp"),
            LcfLayer(3, True, False, *tim, 2e-5, tmp_path / "sheet.flp")]


def test_lcf_stack_names_and_power_layers(tmp_path):
    circuit = build_grid_circuit(_config(), layers=_stack(tmp_path, materials=False))
    assert circuit.layer_names == ("layer_0", "layer_1", "layer_2", "layer_3", "hsp", "hsink")
    assert circuit.power_names == ("hot", "cold", "core", "cache_lo", "cache_hi")
    assert circuit.node_names[:3] == ("layer_0_hot", "layer_0_cold", "layer_1_sheet")
    # the spreader and sink are read out over the last LCF layer's floorplan
    assert circuit.node_names[-N_PACKAGE - 2:-N_PACKAGE] == ("hsp_sheet", "hsink_sheet")
    # layer 1 has no lateral flow: no conductance between its neighbouring cells
    g = circuit.network.conductance_W_per_K
    assert g[64 + 9, 64 + 10] == 0 and g[9, 10] < 0


def test_detailed_3d_locks_cells_to_their_blocks_material(tmp_path):
    layers = _stack(tmp_path, materials=True)
    plain = build_grid_circuit(_config(), layers=layers)
    detailed = build_grid_circuit(_config(detailed_3D="on"), layers=layers)
    cw = ch = 0.5e-3
    # a cell fully inside "hot" takes its 0.002 mK/W and 3e6 J/m3K; without detailed_3D the layer's values
    hot_cell, mixed_cell = 0 * 8 + 1, 0 * 8 + 4  # column 4 is 0.6 hot, 0.4 cold
    assert detailed.network.capacitance_J_per_K[hot_cell] == pytest.approx(C_FACTOR * 3e6 * 1e-4 * cw * ch)
    assert plain.network.capacitance_J_per_K[hot_cell] == pytest.approx(C_FACTOR * 1.75e6 * 1e-4 * cw * ch)
    # vertical conductance layer 0 -> 1: full rz of layer 0 plus half of layer 1 (HotSpot's find_res, detailed)
    rz = lambda k, t: t / (k * cw * ch)  # noqa: E731
    g01 = -detailed.network.conductance_W_per_K[hot_cell, 64 + hot_cell]
    assert g01 == pytest.approx(1 / (rz(500.0, 1e-4) + rz(4.0, 2e-5) / 2))
    # a mixed cell: occupancy-weighted conductivity, the layer's heat capacity
    k_mixed = 0.6 * 500.0 + 0.4 * 100.0
    g01_mixed = -detailed.network.conductance_W_per_K[mixed_cell, 64 + mixed_cell]
    assert g01_mixed == pytest.approx(1 / (rz(k_mixed, 1e-4) + rz(4.0, 2e-5) / 2))
    assert detailed.network.capacitance_J_per_K[mixed_cell] == pytest.approx(C_FACTOR * 1.75e6 * 1e-4 * cw * ch)
    # without detailed_3D: layer 0 -> 1 is layer 0's own rz
    assert -plain.network.conductance_W_per_K[hot_cell, 64 + hot_cell] == pytest.approx(1 / rz(100.0, 1e-4))


@pytest.mark.parametrize(("rows", "cols"), [(8, 8), (6, 10), (5, 7)])
def test_any_grid_size_conserves_energy_and_is_monotone(rows, cols):
    circuit = build_grid_circuit(_config(grid_rows=rows, grid_cols=cols), floorplan=DIE)
    network = circuit.network
    power = np.array([4.0, 1.0, 2.0])
    theta = spla.spsolve(network.conductance_W_per_K.tocsc(), network.power_to_node @ power)
    assert network.ambient_conductance_W_per_K @ theta == pytest.approx(power.sum(), rel=1e-9)
    hotter = spla.spsolve(network.conductance_W_per_K.tocsc(), network.power_to_node @ (power + [0.0, 0.5, 0.0]))
    assert np.all(hotter >= theta - 1e-12)


def test_uniform_power_on_a_symmetric_die_gives_a_symmetric_map():
    tiles = _die(*[(f"t{i}{j}", 1e-3, 1e-3, i * 1e-3, j * 1e-3) for i in range(4) for j in range(4)])
    circuit = build_grid_circuit(_config(grid_rows=12, grid_cols=12), floorplan=tiles)
    theta = spla.spsolve(circuit.network.conductance_W_per_K.tocsc(),
                         circuit.network.power_to_node @ np.full(16, 0.5))
    silicon = circuit.grid_maps(theta)["silicon"]
    for image in (silicon[::-1], silicon[:, ::-1], silicon.T):
        np.testing.assert_allclose(image, silicon, rtol=1e-9)


def test_rejects_what_hotspot_rejects(tmp_path):
    with pytest.raises(ConfigError, match="model_secondary"):
        build_grid_circuit(_config(model_secondary=1), floorplan=DIE)
    with pytest.raises(ConfigError, match="floorplan or a layer"):
        build_grid_circuit(_config())
    big = _die(("huge", 0.05, 0.05, 0.0, 0.0))
    with pytest.raises(ConfigError, match="larger than the spreader"):
        build_grid_circuit(_config(), floorplan=big)
    circuit = build_grid_circuit(_config(), floorplan=DIE)
    with pytest.raises(ConfigError, match="grid_map_mode"):
        GridCircuit(circuit.layers, circuit.stack, 8, 8, 300.0, map_mode="median")
    outside = _die(("a", 2e-3, 4e-3, 0.0, 0.0), ("b", 2e-3, 4e-3, 2e-3, 0.0))
    layer = GridCircuit(chip_layers_of(outside), circuit.stack, 8, 8, 300.0).layers[0]
    with pytest.raises(ConfigError, match="outside the die"):
        map_blocks_to_cells(layer, 8, 8, 3e-3, 4e-3)


@pytest.mark.parametrize("mode", ["avg", "max"])
def test_readout_of_a_stack_of_states_matches_one_by_one(mode):
    circuit = build_grid_circuit(_config(grid_map_mode=mode), floorplan=DIE)
    thetas = np.random.default_rng(0).uniform(0, 50, size=(3, circuit.network.n_nodes))
    np.testing.assert_allclose(circuit.outputs(thetas), [circuit.outputs(t) for t in thetas])
    np.testing.assert_allclose(circuit.named_nodes(thetas), [circuit.named_nodes(t) for t in thetas])


def test_ailfm_hotspot_help_prints_the_usage_and_succeeds(capsys):
    from ailfm.thermal.hotspot_cli import USAGE, main

    assert main(["--help"]) == 0 and main(["-h"]) == 0
    out, err = capsys.readouterr()
    assert out == USAGE * 2 and err == ""
    assert main([]) == 1  # no arguments is still HotSpot's usage error
