"""The 2.5D package generator on its own: dies on a carrier, filler tiling, HotSpot files, refusals."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ailfm.errors import ConfigError
from ailfm.thermal.chiplet_package import (
    ChipletPackage,
    Die,
    SelectedCircuit,
    Slab,
    die_layer_floorplan,
    package_circuit,
    write_package,
)
from ailfm.thermal.formats import read_flp, read_lcf
from ailfm.thermal.model import CircuitThermalModel

SILICON = Slab(1e-4, 0.01, 1.75e6)


def two_dies(**changes) -> ChipletPackage:
    package = ChipletPackage(
        name="two", width_m=0.012, height_m=0.008,
        dies=(Die("hot", 0.001, 0.002, 0.004, 0.004, SILICON), Die("cold", 0.007, 0.001, 0.004, 0.006, SILICON)),
        carrier=Slab(1e-3, 1.0, 1.8e6), bond=Slab(3e-5, 0.5, 2e6), die_thickness_m=1.5e-4,
        filler=Slab(1.0, 1 / 0.9, 1.8e6), tim=Slab(2e-5, 0.25, 4e6), spreader_side_m=0.03, sink_side_m=0.06,
        r_convec_K_per_W=0.1, ambient_K=318.15, grid_rows=16, grid_cols=16)
    return dataclasses.replace(package, **changes)


def test_filler_tiles_the_footprint_and_files_read_back(tmp_path):
    package = two_dies()
    floorplan = die_layer_floorplan(package)
    assert floorplan.names[:2] == ("hot", "cold") and all(n.startswith("fill") for n in floorplan.names[2:])
    assert floorplan.uncovered_area_m2 == pytest.approx(0.0, abs=1e-15)
    lcf, _ = write_package(package, tmp_path)
    assert [layer.has_power for layer in read_lcf(lcf)] == [False, False, True, False]
    assert read_flp(tmp_path / "dies.flp") == floorplan


def test_heat_flows_from_the_powered_die():
    package = two_dies()
    circuit = SelectedCircuit(package_circuit(package), ("hot", "cold"), ("hot", "cold"))
    model = CircuitThermalModel(circuit, ambient_K=package.ambient_K, init=package.ambient_K)
    hot, cold = model.steady(np.array([10.0, 0.0]))
    assert hot > cold > package.ambient_K
    # a better conducting filler spreads the hot die's heat: it runs cooler, closer to its neighbour
    better = SelectedCircuit(package_circuit(two_dies(filler=Slab(1.0, 0.01, 1.75e6))), ("hot", "cold"),
                             ("hot", "cold"))
    hot2, cold2 = CircuitThermalModel(better, ambient_K=318.15, init=318.15).steady(np.array([10.0, 0.0]))
    assert hot2 < hot and hot2 - cold2 < hot - cold


@pytest.mark.parametrize("changes, match", [
    ({"spreader_side_m": 0.01}, "lid"),
    ({"dies": (Die("out", 0.010, 0.0, 0.004, 0.004, SILICON),)}, "outside"),
    ({"dies": (Die("a", 0.001, 0.001, 0.004, 0.004, SILICON), Die("b", 0.003, 0.003, 0.004, 0.004, SILICON))},
     "overlap"),
])
def test_bad_packages_are_refused(changes, match):
    with pytest.raises(ConfigError, match=match):
        die_layer_floorplan(two_dies(**changes))
