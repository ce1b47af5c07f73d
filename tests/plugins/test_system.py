"""System descriptions: the shipped YAML files load, and bad input names the field, file and line."""

from __future__ import annotations

import numpy as np
import pytest

from ailfm.errors import ConfigError, FormatError
from ailfm.plugins.system.description import load_system, shipped_system_names


def test_shipped_systems_load():
    assert {"snuca-64", "snuca-64-2l"} <= set(shipped_system_names())
    system = load_system("snuca-64")
    assert (system.n_cores, system.n_banks, system.geometry.layers) == (64, 128, 4)
    two_layer = load_system("snuca-64-2l")
    assert (two_layer.geometry.layers, two_layer.geometry.tiles_x, two_layer.geometry.tiles_y) == (2, 8, 4)
    assert two_layer.noc == system.noc  # inherited from the base


def test_vf_table_is_hotsniper_22nm():
    dvfs = load_system().dvfs
    assert len(dvfs.levels_GHz) == 31 and dvfs.levels_GHz[0] == 1.0 and dvfs.levels_GHz[-1] == 4.0
    np.testing.assert_allclose(dvfs.voltage_V([1.0, 4.0]), [0.8, 1.4])
    np.testing.assert_allclose(dvfs.snap_GHz([0.5, 2.37, 9.0]), [1.0, 2.3, 4.0])


def test_core_names_follow_the_floorplan_convention():
    system = load_system()
    assert system.core_name(0) == "L0_core_0_0" and system.core_name(63) == "L3_core_3_3"
    assert system.core_name(5) == "L0_core_1_1"


def _write(tmp_path, text):
    path = tmp_path / "sys.yaml"
    path.write_text(text)
    return path


def test_bad_value_names_field_file_and_line(tmp_path):
    path = _write(tmp_path, "base: snuca-64\nname: x\ndvfs:\n  f_min_GHz: -1.0\n")
    with pytest.raises(ConfigError) as err:
        load_system(path)
    assert err.value.field == "dvfs.f_min_GHz" and err.value.line == 4 and err.value.path == str(path)


def test_unknown_field_is_rejected_with_its_line(tmp_path):
    path = _write(tmp_path, "base: snuca-64\nname: x\nnoc:\n  router_latency_cycles: 3\n  hop_cycles: 2\n")
    with pytest.raises(ConfigError, match="unknown field") as err:
        load_system(path)
    assert err.value.field == "noc.hop_cycles" and err.value.line == 5


def test_wrong_type_and_choice(tmp_path):
    with pytest.raises(ConfigError, match="expected an integer"):
        load_system(_write(tmp_path, "base: snuca-64\ngeometry:\n  layers: two\n"))
    with pytest.raises(ConfigError, match="not one of"):
        load_system(_write(tmp_path, "base: snuca-64\nthermal:\n  dtm_scope: socket\n"))


def test_cross_field_rules(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_system(_write(tmp_path, "base: snuca-64\nthermal:\n  dtm_release_C: 85.0\n"))
    assert err.value.field == "thermal.dtm_release_C" and err.value.line == 3


def test_missing_field_and_unknown_system(tmp_path):
    with pytest.raises(ConfigError, match="missing"):
        load_system(_write(tmp_path, "name: x\ndescription: y\n"))
    with pytest.raises(ConfigError, match="known: .*snuca-64"):
        load_system("no-such-system")


def test_malformed_yaml_reports_line(tmp_path):
    with pytest.raises(FormatError) as err:
        load_system(_write(tmp_path, "name: x\ngeometry:\n  layers: [1\n"))
    assert err.value.line is not None
