"""The package of a hardware description: layout from the area model, HotSpot files, the reduced thermal model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ailfm.errors import ConfigError
from ailfm.mapping.area import AreaModel
from ailfm.mapping.hardware import ChipletType, homogeneous, load_hardware
from ailfm.mapping.money import CostModel
from ailfm.mapping.package import (
    chiplet_package,
    idle_W,
    leakage_W,
    package_layout,
    package_thermal,
    write_package_files,
)
from ailfm.mapping.package_spec import PackageSpec
from ailfm.thermal.chiplet_package import SelectedCircuit, die_layer_floorplan, package_circuit
from ailfm.thermal.formats import read_config, read_flp, read_lcf
from ailfm.thermal.model import CircuitThermalModel

SMALL = homogeneous(ChipletType("a", "os", 1024, 512.0), 3, 2, name="small", dram_channels=2,
                    package=PackageSpec(grid_cells=16))


@pytest.fixture(autouse=True)
def no_disk_cache(monkeypatch):
    monkeypatch.setenv("AILFM_CACHE", "off")


def with_package(hw, **changes):
    return dataclasses.replace(hw, package=dataclasses.replace(hw.package, **changes))


def test_layout_follows_mesh_area_model_and_dram_edges():
    hw = load_hardware("he-36")
    layout = package_layout(hw)
    chiplets = layout.rects_mm[: hw.n_chiplets]
    side = np.sqrt(AreaModel().chiplet_area_mm2(hw.types[0]))
    np.testing.assert_allclose(chiplets[:, 2:], side)
    centre = chiplets[:, :2] + chiplets[:, 2:] / 2
    # chiplet c at column c mod cols (left to right) and row c div cols (bottom to top), spacing between cells
    np.testing.assert_allclose(np.diff(centre[:6, 0]), side + hw.package.spacing_mm)
    np.testing.assert_allclose(np.diff(centre[::6, 1]), side + hw.package.spacing_mm)
    dram = layout.rects_mm[hw.n_chiplets:]
    assert layout.names[hw.n_chiplets:] == ("dram0", "dram1", "dram2", "dram3")
    assert (dram[:2, 0] + dram[:2, 2] < chiplets[:, 0].min()).all()  # two channels on the left edge
    assert (dram[2:, 0] > (chiplets[:, 0] + chiplets[:, 2]).max()).all()  # two on the right
    wider = package_layout(with_package(hw, spacing_mm=2.0))
    assert wider.footprint_mm2 > layout.footprint_mm2
    hbm = package_layout(with_package(hw, memory="hbm"))
    assert hbm.kinds[-1] == "hbm" and hbm.rects_mm[-1, 2] * hbm.rects_mm[-1, 3] > dram[-1, 2] * dram[-1, 3]


def test_die_layer_is_tiled_exactly_by_dies_and_filler():
    for hw in (SMALL, load_hardware("he-36"), with_package(load_hardware("he-36"), memory="hbm", spacing_mm=0.0)):
        package = chiplet_package(hw)
        floorplan = die_layer_floorplan(package)  # rejects overlaps
        assert floorplan.names[: len(package.dies)] == package.die_names
        assert floorplan.width_m == pytest.approx(package.width_m)
        assert floorplan.uncovered_area_m2 == pytest.approx(0.0, abs=1e-12)
        assert all(b.has_material for b in floorplan)


def test_hotspot_files_read_back(tmp_path):
    lcf, config = write_package_files(SMALL, tmp_path)
    layers = read_lcf(lcf)
    assert [layer.has_power for layer in layers] == [False, False, True, False]
    dies = read_flp(tmp_path / "dies.flp")
    assert dies.names[:8] == tuple(f"chiplet{i}" for i in range(6)) + ("dram0", "dram1")
    flags = read_config(config)
    assert float(flags["r_convec"]) == SMALL.package.r_convec_K_per_W
    assert float(flags["s_spreader"]) > dies.width_m


def test_model_names_cache_and_exact_steady_state():
    model = package_thermal(SMALL)
    assert package_thermal(SMALL) is model  # built once per hardware
    names = tuple(f"chiplet{i}" for i in range(6)) + ("dram0", "dram1")
    assert model.power_names == names and model.output_names == names
    package = chiplet_package(SMALL)
    circuit = SelectedCircuit(package_circuit(package), names, names)
    grid = CircuitThermalModel(circuit, ambient_K=package.ambient_K, init=package.ambient_K)
    power = np.array([3.0, 1.0, 0.0, 2.0, 5.0, 0.5, 1.0, 0.2])
    np.testing.assert_allclose(model.steady(power), grid.steady(power), atol=1e-6)
    # warm start from the steady state stays there; a transient agrees with the grid model
    model.set_state(model.steady_modes(power))
    np.testing.assert_allclose(model.step(power, 1e-3), grid.steady(power), atol=1e-6)
    grid.reset()
    model.reset()
    for dt in (1e-4, 1e-3, 1e-2):
        np.testing.assert_allclose(model.step(power, dt), grid.step(power, dt), atol=0.05)


@pytest.fixture(scope="module")
def small_grid():
    package = chiplet_package(SMALL)
    names = package.die_names
    return CircuitThermalModel(SelectedCircuit(package_circuit(package), names, names), ambient_K=package.ambient_K,
                               init=package.ambient_K)


#: the reduced model's transient may undershoot the exact circuit's (which never falls when power rises: its
#: conductance matrix is an M-matrix) by its approximation error: at worst 0.95 mK per watt added on SMALL, 0.71 on
#: he-36, over steps of 0.1 us to 100 s (test_rom_step_response_undershoot_is_bounded)
ROM_UNDERSHOOT_K_PER_W = 2e-3
#: the grid model's transient through its eigen-decomposition carries rounding of ~2e-7 K per watt (heat capacities
#: from a 16 um TIM cell to the 140 J/K sink: a badly scaled eigenproblem)
ROUNDOFF_K_PER_W = 1e-6


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0.0, 20.0), min_size=8, max_size=8), st.integers(0, 7), st.floats(0.01, 10.0),
       st.sampled_from([1e-5, 1e-3, 1e-1]))
def test_more_power_never_lowers_a_temperature(small_grid, power, block, extra, dt):
    model = package_thermal(SMALL)
    power = np.array(power)
    more = power.copy()
    more[block] += extra
    assert (model.steady(more) >= model.steady(power) - 1e-9).all()
    for start in (power, more):  # from either steady state
        model.set_state(model.steady_modes(start))
        base = model.step(power, dt)
        model.set_state(model.steady_modes(start))
        assert (model.step(more, dt) >= base - ROM_UNDERSHOOT_K_PER_W * extra).all()
        small_grid.set_state(small_grid.steady_rises(start))
        base = small_grid.step(power, dt)
        small_grid.set_state(small_grid.steady_rises(start))
        assert (small_grid.step(more, dt) >= base - ROUNDOFF_K_PER_W * extra).all()


def test_rom_step_response_undershoot_is_bounded():
    model = package_thermal(SMALL)
    for dt in np.logspace(-7, 2, 60):
        view = model.linear_view(dt)
        assert (view.output @ view.gain).min() >= -ROM_UNDERSHOOT_K_PER_W


def test_cooling_and_spacing_trade_temperature_for_money():
    power = np.r_[np.full(6, 4.0), 1.0, 1.0]
    costs = CostModel()
    better = with_package(SMALL, r_convec_K_per_W=0.05)
    assert package_thermal(better).steady(power).max() < package_thermal(SMALL).steady(power).max()
    assert costs.cost_usd(better, cooling=True) > costs.cost_usd(SMALL, cooling=True)
    assert costs.cost_usd(better) == costs.cost_usd(SMALL)  # the package alone does not depend on the cooler
    spaced = with_package(SMALL, spacing_mm=3.0, carrier="interposer")
    assert costs.breakdown(spaced)["interposer_usd"] > costs.breakdown(with_package(SMALL,
                                                                                    carrier="interposer"))["interposer_usd"]


def test_static_power_constants():
    areas = np.array([AreaModel().chiplet_area_mm2(SMALL.types[0])] * 6)
    spec = SMALL.package
    np.testing.assert_allclose(leakage_W(SMALL, np.full(6, spec.leakage_ref_K)), areas * spec.leakage_W_per_mm2)
    hotter = leakage_W(SMALL, np.full(6, spec.leakage_ref_K + 40.0))
    np.testing.assert_allclose(hotter / leakage_W(SMALL, np.full(6, spec.leakage_ref_K)), np.exp(40 * 0.017))
    np.testing.assert_allclose(idle_W(SMALL), areas * spec.idle_W_per_mm2)


def test_package_section_is_validated(tmp_path):
    from ailfm.mapping.hardware import load_hardware as load

    base = ("mesh: {cols: 2, rows: 1}\nchiplet_types:\n  a: {dataflow: os, macs: 256, buffer_KiB: 64}\n"
            "layout: a\npackage:\n")
    path = tmp_path / "hw.yaml"
    path.write_text(base + "  spacing_mm: 1.5\n  r_convec_K_per_W: 0.2\n  memory: hbm\n")
    hw = load(path)
    assert (hw.package.spacing_mm, hw.package.r_convec_K_per_W, hw.package.memory) == (1.5, 0.2, "hbm")
    for body, field, line in (("  spacing: 1\n", "package.spacing", 6), ("  r_convec_K_per_W: 0\n",
                                                                          "package.r_convec_K_per_W", 6),
                              ("  memory: gddr\n", "package.memory", 6), ("  t_max_C: 30\n", "package.t_max_C", 6),
                              ("  grid_cells: 2.5\n", "package.grid_cells", 6)):
        path.write_text(base + body)
        with pytest.raises(ConfigError) as err:
            load(path)
        assert (err.value.field, err.value.line) == (field, line)
    path.write_text(base.replace("package:\n", "package: 3\n"))
    with pytest.raises(ConfigError, match="mapping of package fields"):
        load(path)


def test_lid_smaller_than_the_carrier_is_refused():
    with pytest.raises(ConfigError, match="lid"):
        chiplet_package(with_package(load_hardware("he-36"), spreader_side_mm=20.0))


def test_steady_leakage_fixed_point_and_runaway():
    from ailfm.mapping.package import steady_with_leakage

    model = package_thermal(SMALL)
    power = np.array([[3.0, 1.0, 0.0, 2.0, 5.0, 0.5], [1.0] * 6])
    temperature, leak = steady_with_leakage(SMALL, power, np.array([1.0, 0.2]))
    assert temperature.shape == (2, 8) and leak.shape == (2, 6)
    for row in range(2):  # a fixed point: the model's steady state under dynamic + leakage
        total = np.r_[power[row] + leak[row], 1.0, 0.2]
        np.testing.assert_allclose(model.steady(total), temperature[row], atol=1e-2)
    assert (leak > leakage_W(SMALL, np.full(6, model.ambient_K))).all()
    leaky = with_package(SMALL, leakage_W_per_mm2=5.0, leakage_beta_per_K=0.1)
    assert np.isinf(steady_with_leakage(leaky, power[:1])[0]).all()


def test_modal_algebra_reproduces_steps_of_any_length():
    model = package_thermal(SMALL)
    power = np.array([3.0, 1.0, 0.0, 2.0, 5.0, 0.5, 1.0, 0.2])
    rates, forcing, output = model.rates_per_s, model.modal_input, model.modal_output
    modes = model.steady_modes(power / 2)
    for dt in (3e-6, 7e-4, 0.2):
        decay = np.exp(-rates * dt)
        modes_next = decay * modes + (1 - decay) / rates * (forcing @ power)
        model.set_state(modes)
        np.testing.assert_allclose(model.step(power, dt), model.ambient_K + output @ modes_next, atol=1e-9)
        modes = modes_next


def test_saved_hardware_keeps_its_package(tmp_path):
    import yaml

    from ailfm.mapping.search.hardware import hardware_to_dict

    hw = with_package(load_hardware("hot-36"), spacing_mm=2.0, r_convec_K_per_W=0.05)
    path = tmp_path / "hw.yaml"
    path.write_text(yaml.safe_dump(hardware_to_dict(hw), sort_keys=False))
    assert load_hardware(path).package == hw.package
