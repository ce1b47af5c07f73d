"""The 3D S-NUCA floorplan generator: geometry tiles every die exactly, files read back, HotSpot accepts them."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_data import HOTSPOT_REFERENCE, require_shared
from system_chip import system_chip

from ailfm.errors import ConfigError
from ailfm.thermal.floorplan_gen import ChipStack, build_stack, chip_stack_to_dict, load_chip_stack, write_stack
from ailfm.thermal.formats import PowerTrace, read_flp, read_lcf, read_steady, write_ptrace
from ailfm.thermal.formats.flp import first_overlap


def test_the_snuca_64_system_stack():
    chip = system_chip()
    floorplans, layers = build_stack(chip)
    assert (chip.n_cores, chip.n_banks) == (64, 128)
    assert len(layers) == 8 and [layer.has_power for layer in layers] == [True, False] * 4
    assert [layer.thickness_m for layer in layers[::2]] == pytest.approx([50e-6, 50e-6, 50e-6, 150e-6])
    # snuca-64.yaml thermal.stack: a 10 um hybrid bond at k = 10 W/mK, the core in the lower 5/8 of the tile
    assert [layer.resistivity_mK_per_W for layer in layers[1::2]] == pytest.approx([0.1] * 4)
    assert [layer.thickness_m for layer in layers[1::2]] == pytest.approx([10e-6] * 4)
    assert chip.core_fraction == 0.625
    names = chip.power_names()
    assert len(names) == 192 and len(set(names)) == 192
    assert {"L0_core_0_0", "L3_core_3_3", "L2_bank1_1_3", "L3_bank0_0_0"} <= set(names)
    core = floorplans[0].blocks[floorplans[0].index("L0_core_2_1")]
    assert (core.left_m, core.bottom_m) == pytest.approx((3e-3, 1.5e-3))


chips = st.builds(system_chip, tile_layers=st.integers(1, 3), tile_rows=st.integers(1, 5), tile_cols=st.integers(1, 5),
                  tile_width_m=st.floats(1e-4, 5e-3), tile_height_m=st.floats(1e-4, 5e-3),
                  core_fraction=st.floats(0.05, 0.95), banks_per_tile=st.integers(1, 4), tim_layers=st.booleans())


@settings(max_examples=25, deadline=None)
@given(chips)
def test_every_die_is_tiled_without_gap_or_overlap_and_reads_back(tmp_path_factory, chip):
    out = tmp_path_factory.mktemp("stack")
    lcf = write_stack(chip, out)
    floorplans, layers = build_stack(chip, out)
    assert read_lcf(lcf) == layers
    die_area = chip.die_width_m * chip.die_height_m
    for floorplan, layer in zip(floorplans, layers, strict=True):
        back = read_flp(layer.floorplan_path)
        assert back.names == floorplan.names
        for got, want in zip(back, floorplan, strict=True):
            assert got == want
        assert first_overlap(back.blocks) is None
        assert (back.left_m, back.bottom_m) == (0.0, 0.0)
        assert back.width_m == pytest.approx(chip.die_width_m, rel=1e-12)
        assert back.height_m == pytest.approx(chip.die_height_m, rel=1e-12)
        assert abs(back.uncovered_area_m2) <= 1e-12 * die_area
    per_tile = 1 + chip.banks_per_tile
    assert len(chip.power_names()) == chip.tile_layers * chip.tile_rows * chip.tile_cols * per_tile


def test_core_only_tiles():
    chip = system_chip(core_fraction=1.0, banks_per_tile=0, tile_layers=1)
    (floorplan, _), _ = build_stack(chip)
    assert len(floorplan) == 16 and floorplan.uncovered_area_m2 == pytest.approx(0.0, abs=1e-18)


def test_same_geometry_as_the_reference_snuca_stack():
    root = require_shared(HOTSPOT_REFERENCE) / "snuca_2x4x4"
    # the reference case's stack: CoMeT's 20 um TIM at k = 4 W/mK (stack.lcf)
    chip = system_chip(tile_layers=2, core_fraction=0.65, banks_per_tile=1, tim_thickness_m=20e-6,
                       tim_resistivity_mK_per_W=0.25)
    floorplans, layers = build_stack(chip)
    reference = read_lcf(root / "stack.lcf")
    for ours, theirs, floorplan in zip(layers, reference, floorplans, strict=True):
        assert ours.has_power == theirs.has_power
        assert (ours.thickness_m, ours.resistivity_mK_per_W, ours.specific_heat_J_per_m3K) == pytest.approx(
            (theirs.thickness_m, theirs.resistivity_mK_per_W, theirs.specific_heat_J_per_m3K), rel=1e-12)
        box = np.array([(b.width_m, b.height_m, b.left_m, b.bottom_m) for b in floorplan])
        ref_box = np.array([(b.width_m, b.height_m, b.left_m, b.bottom_m) for b in read_flp(theirs.floorplan_path)])
        np.testing.assert_allclose(box, ref_box, rtol=0, atol=1e-12)


def test_from_dict_and_yaml(tmp_path):
    full = chip_stack_to_dict(system_chip())
    chip = ChipStack.from_dict({**full, "tile_layers": 2, "tile_width_m": 2e-3, "banks_per_tile": 4})
    assert (chip.tile_layers, chip.tile_width_m, chip.banks_per_tile) == (2, 2e-3, 4)
    assert ChipStack.from_dict(chip_stack_to_dict(chip)) == chip
    path = tmp_path / "chip.yaml"
    path.write_text(yaml.safe_dump({**full, "tile_layers": 3, "tile_rows": 2, "tim_thickness_m": 3.0e-5}))
    assert load_chip_stack(path) == system_chip(tile_layers=3, tile_rows=2, tim_thickness_m=3e-5)


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"tile_layer": 2}, "tile_layer", "unknown chip-stack field; did you mean tile_layers"),
    ({"tile_layers": 0}, "tile_layers", "at least 1"),
    ({"tile_rows": 2.5}, "tile_rows", "non-negative integer"),
    ({"tile_width_m": -1.0}, "tile_width_m", "positive number"),
    ({"core_fraction": 1.5}, "core_fraction", "(0, 1]"),
    ({"core_fraction": 1.0}, "core_fraction", "no banks"),
    ({"tim_layers": "yes"}, "tim_layers", "true or false"),
    ({"tile_rows": None}, "tile_rows", "missing chip-stack field"),
])
def test_bad_descriptions_name_the_field(data, field, message):
    data = {key: value for key, value in {**chip_stack_to_dict(system_chip()), **data}.items() if value is not None}
    with pytest.raises(ConfigError) as info:
        ChipStack.from_dict(data, source="chip.yaml")
    assert info.value.field == field and message in str(info.value) and "chip.yaml" in str(info.value)


def test_bad_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "chip.yaml"
    path.write_text("tile_layers: 2\ntile_rows: [1\n")
    with pytest.raises(ConfigError, match="chip.yaml:3"):
        load_chip_stack(path)


def test_hotspot_reads_the_generated_stack(tmp_path):
    if shutil.which("hotspot") is None:
        pytest.skip("no hotspot binary on PATH")
    chip = system_chip(tile_layers=2, tile_rows=2, tile_cols=2)
    write_stack(chip, tmp_path)
    names = chip.power_names()
    write_ptrace(tmp_path / "p.ptrace", PowerTrace(names, np.ones((1, len(names)))))
    subprocess.run(["hotspot", "-p", "p.ptrace", "-grid_layer_file", "stack.lcf", "-model_type", "grid",
                    "-grid_rows", "8", "-grid_cols", "8", "-steady_file", "out.steady"],
                   cwd=tmp_path, check=True, capture_output=True, timeout=120)
    steady = read_steady(tmp_path / "out.steady")
    assert "layer_0_L0_core_0_0" in steady and "layer_3_TIM1" in steady
    # layer 0 is farthest from the sink: with equal power it runs hotter than layer 2
    assert steady["layer_0_L0_core_0_0"] > steady["layer_2_L1_core_0_0"]
