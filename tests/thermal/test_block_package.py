"""HotSpot's detailed package model: the package file reader and the convection resistance it implies."""

from __future__ import annotations

import pytest

from ailfm.errors import ConfigError, FormatError
from ailfm.thermal.block import build_block_circuit
from ailfm.thermal.formats.config import HotSpotConfig
from ailfm.thermal.formats.flp import Block, Floorplan
from ailfm.thermal.package import (
    PackageConfig,
    forced_convection_resistance_K_per_W,
    natural_convection_resistance_K_per_W,
    read_package_config,
)

FLOORPLAN = Floorplan((Block("die", 0.01, 0.01, 0.0, 0.0),))


def test_reads_hotspots_package_file_layout(tmp_path):
    path = tmp_path / "package.config"
    path.write_text("# heat sink\n\t-natural_convec\t0\n  -flow_type 1 # impinging\n-sink_type 1\n-pin_diam 0.003\n"
                    "-rpm 2500\n")
    package = read_package_config(path)
    assert package == PackageConfig(flow_type=1, sink_type=1, pin_diam=0.003, rpm=2500)


@pytest.mark.parametrize(("text", "line", "message"), [
    ("-rpm 1000\n-fan_speed 3\n", 2, "unknown package parameter 'fan_speed'"),
    ("-rpm fast\n", 1, "rpm must be an integer"),
    ("-fin_height\n", 1, "expected '-name value'"),
    ("-rpm 10\n-rpm 20\n", 2, "given twice"),
])
def test_malformed_package_files_name_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "bad.config"
    path.write_text(text)
    with pytest.raises(FormatError, match=message) as caught:
        read_package_config(path)
    assert caught.value.line == line and caught.value.path == str(path)


def test_out_of_range_values_and_missing_files_are_errors(tmp_path):
    path = tmp_path / "bad.config"
    path.write_text("-flow_type 2\n")
    with pytest.raises(ConfigError, match="flow_type"):
        read_package_config(path)
    path.write_text("-fin_width -0.001\n")
    with pytest.raises(ConfigError, match="fin_width"):
        read_package_config(path)
    with pytest.raises(FormatError, match="cannot read"):
        read_package_config(tmp_path / "absent.config")


@pytest.mark.parametrize(("flow_type", "sink_type"), [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_a_faster_fan_cools_better(flow_type, sink_type):
    resistances = [forced_convection_resistance_K_per_W(PackageConfig(flow_type=flow_type, sink_type=sink_type,
                                                                      rpm=rpm), 0.06, 400.0)
                   for rpm in (500, 2000, 8000, 30000, 60000)]  # fin channels turn turbulent near 33000 rpm
    assert all(b < a for a, b in zip(resistances, resistances[1:], strict=False))
    assert 0.01 < resistances[-1] and resistances[0] < 50.0  # HotSpot's range of realistic values


def test_natural_convection_strengthens_as_the_sink_warms():
    package = PackageConfig(natural_convec=1)
    resistances = [natural_convection_resistance_K_per_W(package, 0.06, 318.15, 318.15 + rise)
                   for rise in (0.01, 1.0, 10.0, 40.0)]
    assert all(b < a for a, b in zip(resistances, resistances[1:], strict=False))


def test_package_model_replaces_r_convec(tmp_path):
    path = tmp_path / "package.config"
    path.write_text("-rpm 3000\n")
    config = HotSpotConfig().with_flags({"package_model_used": "1", "package_config_file": str(path),
                                         "r_convec": "7.0"})
    circuit = build_block_circuit(config, FLOORPLAN)
    expected = forced_convection_resistance_K_per_W(PackageConfig(rpm=3000), config.s_sink, config.k_sink)
    assert circuit.stack.r_convec == pytest.approx(expected)
    assert circuit.package_model == PackageConfig(rpm=3000)
    # Without a package file HotSpot's defaults apply.
    default = build_block_circuit(config.with_flags({"package_config_file": "(null)"}), FLOORPLAN)
    assert default.stack.r_convec == pytest.approx(
        forced_convection_resistance_K_per_W(PackageConfig(), config.s_sink, config.k_sink))


def test_natural_convection_steady_state_is_a_fixed_point(tmp_path):
    """The steady state is consistent with the r_convec its own sink temperature implies (to HotSpot's 0.01 K/W)."""
    import numpy as np

    from ailfm.thermal.model import build_thermal_model
    from ailfm.thermal.solvers.eigen import EigenSolver

    path = tmp_path / "natural.config"
    path.write_text("-natural_convec 1\n")
    config = HotSpotConfig().with_flags({"package_model_used": "1", "package_config_file": str(path)})
    model = build_thermal_model(config, floorplan=FLOORPLAN)
    power_W = np.array([30.0])
    nodes = model.steady_node_temperatures(power_W)
    theta = np.array(list(nodes.values())) - model.ambient_K
    sink_K = model.ambient_K + model.circuit.mean_sink_rise(theta) + 0.01
    r_implied = natural_convection_resistance_K_per_W(PackageConfig(natural_convec=1), config.s_sink,
                                                      config.ambient, sink_K)
    circuit = model.circuit.with_r_convec(r_implied)
    again = EigenSolver(circuit.network).steady(circuit.network.power_to_node @ power_W)
    # A change of r_convec by < 0.01 K/W moves the die by < 0.01 K/W x 30 W.
    assert abs(again[0] - theta[0]) < 0.3
    cold = model.circuit.stack.r_convec  # built at ambient + 0.01 K: still air barely convects
    assert r_implied < cold
