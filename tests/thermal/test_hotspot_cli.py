"""``ailfm-hotspot`` as a drop-in for HotSpot 7.0: its command lines, its output files, its errors.

Every reference case (../shared/reference/hotspot/*/case.json) is re-run with HotSpot's exact command
line in a temporary copy of the case folder, and the outputs are compared with HotSpot's: steady
temperatures within 0.05 K, transient samples within 0.2 K. Long grid transients are checked on a
prefix of their power trace here (a transient is causal, so a prefix gives the reference's first rows);
bench/thermal_speed.py runs them whole.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from reference_data import HOTSPOT_REFERENCE, require_shared

from ailfm.thermal.formats import read_grid_steady, read_grid_transient, read_steady, read_ttrace
from ailfm.thermal.hotspot_cli import PRINT_STATE_ENV, UsageError, main, parse_command_line

STEADY_TOLERANCE_K = 0.05
TRANSIENT_TOLERANCE_K = 0.2
# Power rows of a case's trace kept for the transient checks in the suite (the whole trace in the bench).
TRANSIENT_PREFIX_ROWS = {"ev6_block": None, "ev6_grid": 12, "example3_two_layers": None, "snuca_2x4x4": 12}
CASES = sorted(TRANSIENT_PREFIX_ROWS)


def _case_commands():
    params = []
    for case in CASES:
        path = HOTSPOT_REFERENCE / case / "case.json"
        if not path.exists():
            params.append(pytest.param(case, None, id=f"{case}-shared-data-absent"))
            continue
        for command in json.loads(path.read_text())["commands"]:
            flags = parse_command_line(command[1:])
            params.append(pytest.param(case, command, id=f"{case}-{flags.get('o', 'steady')}"))
    return params


def _copy_case(case: str, tmp_path: Path) -> Path:
    source = require_shared(HOTSPOT_REFERENCE / case)
    work = tmp_path / case
    shutil.copytree(source, work)
    return work


def _truncate_ptrace(path: Path, rows: int) -> None:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    path.write_text("\n".join(lines[: rows + 1]) + "\n")


def _our_outputs(command: list[str]) -> list[str]:
    """Rename every output file of a HotSpot command so ours never overwrites the reference."""
    ours = list(command[1:])
    for k in range(0, len(ours), 2):
        if ours[k] in ("-o", "-steady_file", "-grid_steady_file"):
            ours[k + 1] = "ours_" + ours[k + 1]
    return ours


def _check_outputs(work: Path, command: list[str], prefix_rows: int | None) -> None:
    flags = parse_command_line(command[1:])
    if "steady_file" in flags:
        expected = read_steady(work / flags["steady_file"])
        got = read_steady(work / ("ours_" + flags["steady_file"]))
        assert list(got) == list(expected)
        worst = max(abs(got[name] - expected[name]) for name in expected)
        assert worst <= STEADY_TOLERANCE_K, f"steady nodes differ by up to {worst:.3f} K"
    if "grid_steady_file" in flags:
        expected_layers = read_grid_steady(work / flags["grid_steady_file"])
        got_layers = read_grid_steady(work / ("ours_" + flags["grid_steady_file"]))
        assert len(got_layers) == len(expected_layers)
        for n, (got_map, expected_map) in enumerate(zip(got_layers, expected_layers, strict=True)):
            worst = float(np.max(np.abs(got_map - expected_map)))
            assert worst <= STEADY_TOLERANCE_K, f"grid layer {n} differs by up to {worst:.3f} K"
    if "o" in flags:
        expected_trace = read_ttrace(work / flags["o"])
        got_trace = read_ttrace(work / ("ours_" + flags["o"]))
        assert got_trace.names == expected_trace.names
        rows = got_trace.temperatures_K.shape[0]
        assert rows == (prefix_rows or expected_trace.temperatures_K.shape[0])
        worst = float(np.max(np.abs(got_trace.temperatures_K - expected_trace.temperatures_K[:rows])))
        assert worst <= TRANSIENT_TOLERANCE_K, f"transient samples differ by up to {worst:.3f} K"


@pytest.mark.parametrize(("case", "command"), _case_commands())
def test_reference_case_matches_hotspot(case, command, tmp_path, monkeypatch, capsys):
    work = _copy_case(case, tmp_path)
    flags = parse_command_line(command[1:])
    if "grid" in command:
        pytest.importorskip("ailfm.thermal.grid", reason="the grid model has not landed")
    prefix_rows = TRANSIENT_PREFIX_ROWS[case] if "o" in flags else None
    if prefix_rows is not None:
        _truncate_ptrace(work / flags["p"], prefix_rows)
    monkeypatch.chdir(work)
    assert main(_our_outputs(command)) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.splitlines()[-1] == "Simulation complete."
    _check_outputs(work, command, prefix_rows)


def test_console_script_runs_a_reference_case(tmp_path):
    work = _copy_case("ev6_block", tmp_path)
    command = json.loads((work / "case.json").read_text())["commands"][0]
    script = shutil.which("ailfm-hotspot", path=str(Path(sys.executable).parent)) or shutil.which("ailfm-hotspot")
    assert script is not None, "the ailfm-hotspot console script is not installed"
    done = subprocess.run([script, *_our_outputs(command)], cwd=work, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    _check_outputs(work, command, None)


def test_dump_config_matches_hotspot_dump(tmp_path, monkeypatch):
    """``-d`` writes HotSpot's dump: names, order, ``%lg`` numbers (compared with HotSpot's own when it is here)."""
    work = _copy_case("ev6_block", tmp_path)
    monkeypatch.chdir(work)
    base = ["-c", "example.config", "-f", "ev6.flp", "-p", "gcc.ptrace", "-materials_file", "example.materials",
            "-model_type", "block", "-grid_rows", "32"]
    assert main([*base, "-d", "ours.dump"]) == 0
    lines = (work / "ours.dump").read_text().splitlines()
    assert lines[:3] == ["-f\tev6.flp", "-p\tgcc.ptrace", "-o\t(null)"]
    assert "-p_chip\t1.6303e+06" in lines and "-grid_rows\t32" in lines and "-model_type\tblock" in lines
    assert lines[-1] == "-detailed_3D_used\t0" and len(lines) == 59
    hotspot = shutil.which(os.environ.get("HOTSPOT", "hotspot"))
    if hotspot is not None:
        subprocess.run([hotspot, *base, "-d", "ours.dump"], cwd=work, capture_output=True, timeout=60, check=True)
        assert (work / "ours.dump").read_text().splitlines() == lines
        # With the package model, HotSpot dumps the r_convec it computed.
        (work / "package.config").write_text("-natural_convec 0\n-flow_type 1\n-sink_type 1\n-pin_diam 0.003\n"
                                             "-rpm 2500\n")
        package = [*base, "-package_model_used", "1", "-package_config_file", "package.config"]
        assert main([*package, "-d", "ours.dump"]) == 0
        ours = (work / "ours.dump").read_text()
        subprocess.run([hotspot, *package, "-d", "ours.dump"], cwd=work, capture_output=True, timeout=60, check=True)
        assert (work / "ours.dump").read_text() == ours


def test_print_state_gives_a_valid_init_file(tmp_path, monkeypatch, capsys):
    """With AILFM_HOTSPOT_PRINT_STATE, stdout is the final node state alone, as HotSniper's patched HotSpot prints it
    (HotSniper saves stdout as the next init file)."""
    work = _copy_case("ev6_block", tmp_path)
    monkeypatch.chdir(work)
    _truncate_ptrace(work / "gcc.ptrace", 3)
    monkeypatch.setenv(PRINT_STATE_ENV, "1")
    base = ["-c", "example.config", "-f", "ev6.flp", "-p", "gcc.ptrace", "-materials_file", "example.materials"]
    assert main([*base, "-o", "a.ttrace"]) == 0
    (work / "state.init").write_text(capsys.readouterr().out)
    assert list(read_steady(work / "state.init")) == list(read_steady(work / "steady.init"))
    last_row = read_ttrace(work / "a.ttrace")
    state = read_steady(work / "state.init")
    assert [state[name] for name in last_row.names] == pytest.approx(last_row.temperatures_K[-1], abs=0.006)
    monkeypatch.delenv(PRINT_STATE_ENV)
    assert main([*base, "-init_file", "state.init", "-o", "b.ttrace"]) == 0


def test_command_line_pairs_keep_the_first_of_repeated_names():
    assert parse_command_line(["-f", "a.flp", "-p", "x.ptrace", "-F", "b.flp"]) == {"f": "a.flp", "p": "x.ptrace"}


@pytest.mark.parametrize("argv", [[], ["-f", "a.flp", "-p"], ["-f", "a.flp"], ["f", "a.flp", "-p", "x"]])
def test_malformed_command_lines_are_usage_errors(argv):
    with pytest.raises(UsageError):
        parse_command_line(argv)


def _error_of(argv, capsys) -> str:
    assert main(argv) != 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    lines = [line for line in captured.err.splitlines() if line.startswith("ailfm-hotspot: error:")]
    assert len(lines) == 1, captured.err
    return lines[0]


@pytest.mark.parametrize(("extra", "names"), [
    (["-p", "missing.ptrace"], ["missing.ptrace"]),
    (["-p", "gcc.ptrace", "-c", "missing.config"], ["missing.config"]),
    (["-p", "gcc.ptrace", "-model_typ", "grid"], ["-model_typ", "model_type"]),
    (["-p", "gcc.ptrace", "-grid_rows", "many"], ["-grid_rows", "many"]),
    (["-p", "gcc.ptrace", "-model_type", "cube"], ["model_type", "cube"]),
    (["-p", "bad.ptrace"], ["bad.ptrace:2"]),
    (["-p", "short.ptrace"], ["short.ptrace", "no. of units"]),
    (["-p", "gcc.ptrace", "-init_file", "missing.init", "-o", "x.ttrace"], ["missing.init"]),
    (["-p", "gcc.ptrace", "-detailed_3D", "on"], ["detailed_3D", "grid"]),
    (["-p", "gcc.ptrace", "-model_type", "grid", "-use_microchannels", "1", "-detailed_3D", "on",
      "-grid_layer_file", "ev6.lcf"], ["use_microchannels"]),
    (["-p", "gcc.ptrace", "-model_type", "grid", "-grid_layer_file", "missing.lcf"], ["missing.lcf"]),
])
def test_user_errors_are_one_line_naming_the_culprit(extra, names, tmp_path, monkeypatch, capsys):
    work = _copy_case("ev6_block", tmp_path)
    monkeypatch.chdir(work)
    lines = (work / "gcc.ptrace").read_text().splitlines()
    (work / "bad.ptrace").write_text(lines[0] + "\n" + lines[1].replace("1.44", "-1.44", 1) + "\n")
    short = ["\t".join(line.split()[:-1]) for line in lines[:2]]
    (work / "short.ptrace").write_text("\n".join(short) + "\n")
    message = _error_of(["-f", "ev6.flp", *extra], capsys)
    for name in names:
        assert name in message


def test_init_file_is_only_read_for_a_transient(tmp_path, monkeypatch):
    """As in HotSpot, a steady-only run never opens -init_file; a transient does."""
    work = _copy_case("ev6_block", tmp_path)
    monkeypatch.chdir(work)
    base = ["-c", "example.config", "-f", "ev6.flp", "-p", "gcc.ptrace", "-init_file", "missing.init"]
    assert main([*base, "-steady_file", "ours.steady"]) == 0
    assert main([*base, "-o", "ours.ttrace"]) == 1


def test_missing_power_trace_flag_and_usage(tmp_path, monkeypatch, capsys):
    work = _copy_case("ev6_block", tmp_path)
    monkeypatch.chdir(work)
    assert "-p" in _error_of(["-f", "ev6.flp", "-model_type", "block"], capsys)
    assert main(["-f", "ev6.flp", "-p"]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("Usage: ailfm-hotspot") and "Traceback" not in captured.err


@pytest.mark.parametrize("overrides", [
    ["-grid_rows", "16", "-grid_cols", "16"],
    ["-grid_rows", "16", "-grid_cols", "32", "-grid_map_mode", "center", "-r_convec", "0.3", "-ambient", "310"],
])
def test_every_output_file_matches_the_hotspot_binary(overrides, tmp_path, monkeypatch, capsys):
    """Steady, grid steady, ttrace and grid transient files of other grids and parameters, against HotSpot itself."""
    hotspot = shutil.which(os.environ.get("HOTSPOT", "hotspot"))
    if hotspot is None:
        pytest.skip("no HotSpot binary ($HOTSPOT or hotspot on PATH)")
    work = _copy_case("ev6_grid", tmp_path)
    monkeypatch.chdir(work)
    _truncate_ptrace(work / "gcc.ptrace", 3)
    base = ["-c", "example.config", "-f", "ev6.flp", "-p", "gcc.ptrace", "-materials_file", "example.materials",
            "-model_type", "grid", *overrides]
    outputs = ["-o", "{}.ttrace", "-steady_file", "{}.steady", "-grid_steady_file", "{}.gsteady",
               "-grid_transient_file", "{}.gtrace"]
    subprocess.run([hotspot, *base, *(o.format("hs") for o in outputs)], cwd=work, capture_output=True, timeout=120,
                   check=True)
    assert main([*base, *(o.format("ours") for o in outputs)]) == 0, capsys.readouterr().err
    ours, theirs = read_steady(work / "ours.steady"), read_steady(work / "hs.steady")
    assert list(ours) == list(theirs) and max(abs(ours[n] - theirs[n]) for n in ours) <= STEADY_TOLERANCE_K
    for got, expected in zip(read_grid_steady(work / "ours.gsteady"), read_grid_steady(work / "hs.gsteady"),
                             strict=True):
        assert np.max(np.abs(got - expected)) <= STEADY_TOLERANCE_K
    got_trace, expected_trace = read_ttrace(work / "ours.ttrace"), read_ttrace(work / "hs.ttrace")
    assert got_trace.names == expected_trace.names
    assert np.max(np.abs(got_trace.temperatures_K - expected_trace.temperatures_K)) <= TRANSIENT_TOLERANCE_K
    got_grid, expected_grid = read_grid_transient(work / "ours.gtrace"), read_grid_transient(work / "hs.gtrace")
    assert [t for t, _ in got_grid] == [t for t, _ in expected_grid]
    for (_, got_layers), (_, expected_layers) in zip(got_grid, expected_grid, strict=True):
        for got, expected in zip(got_layers, expected_layers, strict=True):
            assert np.max(np.abs(got - expected)) <= TRANSIENT_TOLERANCE_K
