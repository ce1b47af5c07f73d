"""The HotSpot backend: a real ``hotspot`` binary behind ``ThermalModel``, and its errors.

Tests that need HotSpot skip when neither ``$HOTSPOT`` nor ``PATH`` has one. The error paths use
fake executables written to ``tmp_path``; the init-file carry-over runs ``ailfm-hotspot`` with
``AILFM_HOTSPOT_PRINT_STATE`` set, which prints the final node state as HotSniper's patched HotSpot does.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from reference_data import HOTSPOT_REFERENCE, require_shared
from system_chip import system_chip

from ailfm.errors import ConfigError, ToolError
from ailfm.thermal.floorplan_gen import write_stack
from ailfm.thermal.formats import read_lcf, read_ptrace, read_steady, read_ttrace
from ailfm.thermal.hotspot_backend import HOTSPOT_ENV, HotSpotBackend, find_hotspot, parse_node_dump
from ailfm.thermal.hotspot_cli import PRINT_STATE_ENV, read_model_inputs, resolve_config
from ailfm.thermal.model import build_thermal_model

EV6_FLAGS = {"c": "example.config", "f": "ev6.flp", "materials_file": "example.materials", "model_type": "block"}
SAMPLING_INTERVAL_S = 0.01  # example.config's -sampling_intvl
STEPS = 4
TOLERANCE_K = 0.2


def _real_hotspot() -> str:
    try:
        return find_hotspot()
    except ToolError as err:
        pytest.skip(f"no HotSpot binary: {err}")


def _ev6(tmp_path: Path) -> Path:
    work = tmp_path / "ev6"
    shutil.copytree(require_shared(HOTSPOT_REFERENCE / "ev6_block"), work)
    return work


def _fake(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "fake-hotspot"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return script


def _power(work: Path, backend: HotSpotBackend) -> np.ndarray:
    return read_ptrace(work / "gcc.ptrace").reordered(backend.power_names).power_W


def _builtin(work: Path):
    """The built-in model of the same command line."""
    config, materials = resolve_config(EV6_FLAGS, cwd=work)
    floorplan, _ = read_model_inputs(config, materials, cwd=work)
    return build_thermal_model(config, floorplan=floorplan, materials=materials)


# ---- errors --------------------------------------------------------------------------------------------------
def test_missing_binary_names_hotspot_and_path(tmp_path, monkeypatch):
    monkeypatch.setenv(HOTSPOT_ENV, str(tmp_path / "no-such-hotspot"))
    with pytest.raises(ToolError, match=f"{HOTSPOT_ENV}.*PATH"):
        find_hotspot()
    monkeypatch.delenv(HOTSPOT_ENV)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolError, match="PATH"):
        find_hotspot()


def test_nonzero_exit_reports_status_and_stderr_tail(tmp_path):
    work = _ev6(tmp_path)
    fake = _fake(tmp_path, 'echo "Parsing input files..."; echo "error: unable to open power trace input file" >&2; '
                           "exit 3")
    backend = HotSpotBackend(EV6_FLAGS, executable=fake, cwd=work)
    with pytest.raises(ToolError, match="status 3.*unable to open power trace input file"):
        backend.step(np.ones(len(backend.power_names)), SAMPLING_INTERVAL_S)
    with pytest.raises(ToolError, match="status 3"):
        backend.steady(np.ones(len(backend.power_names)))


def test_timeout_is_a_tool_error(tmp_path):
    work = _ev6(tmp_path)
    backend = HotSpotBackend(EV6_FLAGS, executable=_fake(tmp_path, "sleep 5"), cwd=work, timeout_s=0.3)
    with pytest.raises(ToolError, match="timed out after 0.3 s"):
        backend.steady(np.ones(len(backend.power_names)))


def test_binary_that_writes_nothing_is_a_tool_error(tmp_path):
    work = _ev6(tmp_path)
    backend = HotSpotBackend(EV6_FLAGS, executable=_fake(tmp_path, "exit 0"), cwd=work)
    with pytest.raises(ToolError, match="readable output"):
        backend.step(np.ones(len(backend.power_names)), SAMPLING_INTERVAL_S)


def test_flags_the_backend_owns_are_refused(tmp_path):
    work = _ev6(tmp_path)
    with pytest.raises(ConfigError, match="-o"):
        HotSpotBackend({**EV6_FLAGS, "o": "x.ttrace"}, executable=_fake(tmp_path, "exit 0"), cwd=work)


def test_bad_power_is_refused_before_running(tmp_path):
    work = _ev6(tmp_path)
    backend = HotSpotBackend(EV6_FLAGS, executable=_fake(tmp_path, "exit 9"), cwd=work)
    with pytest.raises(ValueError, match="power of"):
        backend.step(-np.ones(len(backend.power_names)), SAMPLING_INTERVAL_S)


def test_node_dump_parsing_ignores_progress_lines():
    stdout = "Parsing input files...\nCreating thermal circuit...\nL2\t318.60\ninode_0\t318.15\nSimulation complete.\n"
    assert parse_node_dump(stdout) == {"L2": 318.60, "inode_0": 318.15}


# ---- a real HotSpot ------------------------------------------------------------------------------------------
def test_replay_reproduces_hotspots_own_trace(tmp_path):
    """Stock HotSpot 7.0: each step replays the history, so the backend gives HotSpot's own samples."""
    _real_hotspot()
    work = _ev6(tmp_path)
    backend = HotSpotBackend(EV6_FLAGS, cwd=work)
    reference = read_ttrace(work / "out.ttrace")
    columns = [reference.names.index(name) for name in backend.output_names]
    power = _power(work, backend)
    for k in range(STEPS):
        got = backend.step(power[k], SAMPLING_INTERVAL_S)
        np.testing.assert_allclose(got, reference.temperatures_K[k, columns], atol=0.011)
    with pytest.raises(ToolError, match="node state"):
        backend.node_temperatures()
    with pytest.raises(ConfigError, match="dt_s"):
        backend.step(power[STEPS], 2 * SAMPLING_INTERVAL_S)


def test_steady_and_init_file_reset_match_hotspot(tmp_path):
    _real_hotspot()
    work = _ev6(tmp_path)
    backend = HotSpotBackend(EV6_FLAGS, cwd=work)
    power = _power(work, backend)
    steady = read_steady(work / "out.steady")
    np.testing.assert_allclose(backend.steady(power.mean(axis=0)), [steady[n] for n in backend.output_names],
                               atol=0.011)
    assert list(backend.node_temperatures()) == list(steady)
    backend.reset(read_steady(work / "steady.init"))
    reference = read_ttrace(work / "out_from_steady.ttrace")
    columns = [reference.names.index(name) for name in backend.output_names]
    for k in range(2):
        np.testing.assert_allclose(backend.step(power[k], SAMPLING_INTERVAL_S), reference.temperatures_K[k, columns],
                                   atol=0.011)


def test_backend_and_builtin_model_agree_step_by_step(tmp_path):
    _real_hotspot()
    work = _ev6(tmp_path)
    backend = HotSpotBackend(EV6_FLAGS, cwd=work)
    builtin = _builtin(work)
    assert builtin.power_names == backend.power_names
    power = _power(work, backend)
    for k in range(STEPS):
        hotspot_K = backend.step(power[k], SAMPLING_INTERVAL_S)
        builtin_K = builtin.step(power[k], SAMPLING_INTERVAL_S)
        assert np.max(np.abs(hotspot_K - builtin_K)) <= TOLERANCE_K


def test_init_file_carry_over_with_a_state_printing_binary(tmp_path, monkeypatch):
    """A binary that prints its final node state (here ailfm-hotspot) is driven one row per epoch with init files."""
    script = shutil.which("ailfm-hotspot", path=str(Path(sys.executable).parent)) or shutil.which("ailfm-hotspot")
    assert script is not None, "the ailfm-hotspot console script is not installed"
    work = _ev6(tmp_path)
    monkeypatch.setenv(PRINT_STATE_ENV, "1")
    backend = HotSpotBackend(EV6_FLAGS, executable=script, cwd=work, state_mode="init_file")
    builtin = _builtin(work)
    power = _power(work, backend)
    for k in range(2):
        carried_K = backend.step(power[k], SAMPLING_INTERVAL_S)
        assert np.max(np.abs(carried_K - builtin.step(power[k], SAMPLING_INTERVAL_S))) <= TOLERANCE_K
    nodes = backend.node_temperatures()
    assert list(nodes) == list(builtin.node_temperatures())
    assert max(abs(nodes[n] - v) for n, v in builtin.node_temperatures().items()) <= TOLERANCE_K
    monkeypatch.delenv(PRINT_STATE_ENV)
    with pytest.raises(ToolError, match="no final node state"):
        backend.step(power[2], SAMPLING_INTERVAL_S)
    assert os.environ.get(PRINT_STATE_ENV) is None


def test_backend_on_a_3d_stack_agrees_with_the_builtin_model(tmp_path):
    """An LCF stack (steady-file names ``layer_<n>_<unit>``) at 8 x 8 cells: steady state and two 1 ms steps."""
    _real_hotspot()
    chip = system_chip(tile_layers=2, tile_rows=2, tile_cols=2)
    lcf = write_stack(chip, tmp_path)
    flags = {"model_type": "grid", "grid_rows": "8", "grid_cols": "8", "grid_layer_file": lcf.name}
    backend = HotSpotBackend(flags, cwd=tmp_path)
    config, _ = resolve_config(flags, cwd=tmp_path)
    builtin = build_thermal_model(config, layers=read_lcf(lcf))
    assert backend.power_names == builtin.power_names == chip.power_names()
    power = np.random.default_rng(7).uniform(0.05, 3.0, size=(2, len(chip.power_names())))
    assert np.max(np.abs(backend.steady(power[0]) - builtin.steady(power[0]))) <= 0.05
    assert list(backend.node_temperatures())[0].startswith("layer_0_")
    for row in power:
        assert np.max(np.abs(backend.step(row, 1e-3) - builtin.step(row, 1e-3))) <= TOLERANCE_K


def test_files_named_in_the_config_neither_leak_nor_override(tmp_path):
    """A config's -init_file starts reset(None) but not reset(T); its -steady_file is never written by the backend."""
    _real_hotspot()
    work = _ev6(tmp_path)
    config = (work / "example.config").read_text()
    config = config.replace("-init_file\t\t\t(null)", "-init_file\t\t\tsteady.init")
    (work / "example.config").write_text(config.replace("-steady_file\t\t(null)", "-steady_file\t\tleak.steady"))
    backend = HotSpotBackend(EV6_FLAGS, cwd=work)
    power = _power(work, backend)
    from_steady = read_ttrace(work / "out_from_steady.ttrace")
    columns = [from_steady.names.index(name) for name in backend.output_names]
    np.testing.assert_allclose(backend.step(power[0], SAMPLING_INTERVAL_S), from_steady.temperatures_K[0, columns],
                               atol=0.011)
    backend.reset(318.15)
    from_ambient = read_ttrace(work / "out.ttrace")
    np.testing.assert_allclose(backend.step(power[0], SAMPLING_INTERVAL_S), from_ambient.temperatures_K[0, columns],
                               atol=0.011)
    backend.steady(power[0])
    assert not (work / "leak.steady").exists()


def test_auto_mode_keeps_replaying_grid_models(tmp_path, monkeypatch):
    """A grid model's init file holds block averages only, so "auto" does not carry it over even when offered."""
    script = shutil.which("ailfm-hotspot", path=str(Path(sys.executable).parent)) or shutil.which("ailfm-hotspot")
    assert script is not None, "the ailfm-hotspot console script is not installed"
    lcf = write_stack(system_chip(tile_layers=2, tile_rows=2, tile_cols=2), tmp_path)
    flags = {"model_type": "grid", "grid_rows": "8", "grid_cols": "8", "grid_layer_file": lcf.name}
    monkeypatch.setenv(PRINT_STATE_ENV, "1")
    power = np.random.default_rng(3).uniform(0.05, 3.0, size=(3, 24))
    exact = build_thermal_model(resolve_config(flags, cwd=tmp_path)[0], layers=read_lcf(lcf))
    auto = HotSpotBackend(flags, executable=script, cwd=tmp_path)
    carried = HotSpotBackend(flags, executable=script, cwd=tmp_path, state_mode="init_file")
    drift_K = 0.0
    for row in power:
        expected = exact.step(row, 1e-3)
        assert np.max(np.abs(auto.step(row, 1e-3) - expected)) <= 0.011
        drift_K = max(drift_K, float(np.max(np.abs(carried.step(row, 1e-3) - expected))))
    assert drift_K > 0.5  # why auto does not switch: block-level init files lose the grid state
