"""``ailfm demo`` on a small grid: the table, the files, bad scenarios, and the same chip as ``ailfm simulate``."""

from __future__ import annotations

import re

import numpy as np
import pytest

from ailfm.cli import main
from ailfm.errors import ConfigError
from ailfm.plugins.epoch.chip_thermal import chip_stack, grid_circuit
from ailfm.plugins.run.config import RunConfig
from ailfm.plugins.run.demo import load_scenario
from ailfm.plugins.system.description import load_system
from ailfm.thermal.floorplan_gen import build_stack
from ailfm.thermal.formats import read_flp, read_lcf, read_ptrace, read_steady

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_demo_prints_hottest_blocks_and_writes_its_files(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--grid", "8", "--top", "3"]) == 0
    out = capsys.readouterr().out
    rows = re.findall(r"^\| (\d+) \| (\S+) \| (\d+) \| ([\d.]+) \|$", out, flags=re.MULTILINE)
    assert [int(rank) for rank, *_ in rows] == [1, 2, 3]
    temperatures_C = [float(t) for *_, t in rows]
    assert temperatures_C == sorted(temperatures_C, reverse=True)

    steady = read_steady(tmp_path / "demo.steady")
    power = read_ptrace(tmp_path / "power.ptrace")
    assert power.n_rows == 1 and len(power.names) == 64 + 128
    # The table's blocks are the hottest power units of the steady file (which names them layer_<n>_<unit>).
    units = {name.split("_", 2)[2]: value for name, value in steady.items()
             if name.startswith("layer_") and name.split("_", 2)[2] in power.names}
    # (by temperature: the chip is symmetric, so blocks can tie)
    hottest_C = sorted(units.values(), reverse=True)[:3]
    np.testing.assert_allclose(np.array(hottest_C) - 273.15, temperatures_C, atol=0.006)
    for _, name, die, t_C in rows:
        assert abs(units[name] - 273.15 - float(t_C)) <= 0.006
        assert name.startswith(f"L{die}_")
    # The busy die (0) is the farthest from the sink, so it is the hottest die.
    maxima = [float(t) for t in re.findall(r"die \d ([\d.]+) °C", out)]
    assert len(maxima) == 4 and maxima == sorted(maxima, reverse=True)
    assert (tmp_path / "layer_maps.png").read_bytes().startswith(PNG_SIGNATURE)
    assert (tmp_path / "stack" / "stack.lcf").is_file()


def test_shipped_scenario_power_is_the_systems_documented_total():
    """The powers come from snuca-64's power model: 0.574 nF x (1.4 V)^2 x 4 GHz + 0.92 W leakage at its reference
    temperature for a busy core, its idle power, its bank leakage (demo.yaml states the same figures)."""
    scenario = load_scenario()
    names = tuple(f"L{layer}_core_0_0" for layer in range(4)) + ("L0_bank0_0_0",)
    np.testing.assert_allclose(scenario.power_W(names), [0.574e-9 * 1.4**2 * 4e9 + 0.92, 0.27, 0.27, 0.27, 0.02])
    assert scenario.chip.n_cores == 64 and scenario.grid_cells == 64
    assert scenario.power_W(scenario.chip.power_names()).sum() == pytest.approx(102.24, abs=0.01)


@pytest.mark.parametrize(("text", "field"), [
    ("system: snuca-64\ngrid_cells: 8\nactive_layers: [7]\n", "active_layers"),
    ("system: snuca-65\ngrid_cells: 8\nactive_layers: [0]\n", "system"),
    ("system: snuca-64\ngrid_cells: 8\nactive_layers: [0]\nbank_power_W: 0.02\n", "scenario"),
    ("chip: {}\ngrid_cells: 8\n", "scenario"),
])
def test_bad_scenarios_name_file_and_field(text, field, tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=field):
        load_scenario(path)
    assert main(["demo", "--out", str(tmp_path / "out"), "--scenario", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and field in err and "Traceback" not in err


def test_demo_solves_the_chip_simulate_solves(tmp_path):
    """One description: the demo's stack is the default system's, as ``ailfm simulate`` builds its thermal model."""
    simulated = chip_stack(load_system(RunConfig().system))
    assert load_scenario().chip == simulated
    assert load_scenario(system="snuca-64-2l").chip == chip_stack(load_system("snuca-64-2l"))
    # the files the demo writes are the layers and floorplans of simulate's grid model
    assert main(["demo", "--out", str(tmp_path), "--grid", "4", "--top", "1"]) == 0
    layers = read_lcf(tmp_path / "stack" / "stack.lcf")
    floorplans, expected = build_stack(simulated, tmp_path / "stack")
    assert layers == expected
    assert [read_flp(layer.floorplan_path) for layer in layers] == floorplans
    assert grid_circuit(load_system(RunConfig().system), 4).power_names == simulated.power_names()


def test_demo_refuses_a_folder_in_use_and_leaves_no_half_written_files(tmp_path, capsys, monkeypatch):
    from ailfm.files import run_lock
    from ailfm.plugins.run import demo

    with run_lock(tmp_path):
        assert main(["demo", "--out", str(tmp_path), "--grid", "8"]) == 2
    assert "is in use by a running command" in capsys.readouterr().err
    assert not (tmp_path / "demo.steady").exists()

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(demo, "plot_layer_maps", fail)  # the last file: the others are written by then
    with pytest.raises(OSError):
        main(["demo", "--out", str(tmp_path), "--grid", "8"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock"]  # none of the files, no staging folder
    monkeypatch.undo()
    assert main(["demo", "--out", str(tmp_path), "--grid", "8"]) == 0
    assert sorted(p.name for p in tmp_path.rglob("*") if ".tmp" in p.name or "staging" in p.name) == []
    assert (tmp_path / "stack" / "stack.lcf").is_file() and (tmp_path / "layer_maps.png").is_file()
