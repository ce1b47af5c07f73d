"""The grid model against the real ``hotspot`` binary on geometries the reference cases do not cover.

Runs only where ``hotspot`` is on PATH: a 3D stack with ``-detailed_3D on`` (blocks with their own
materials, blocks off the cell boundaries, a TIM layer without lateral flow, non-square cells) and the
2D EV6 die at other grid sizes and map modes. Grids are small so that HotSpot itself stays fast.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ailfm.thermal.formats import read_grid_steady, read_ptrace, read_steady, read_ttrace
from ailfm.thermal.hotspot_cli import read_model_inputs, resolve_config
from ailfm.thermal.model import build_thermal_model
from ailfm.thermal.solvers.sparse import SparseSolver

pytestmark = pytest.mark.skipif(shutil.which("hotspot") is None, reason="no hotspot binary on PATH")

STEADY_TOLERANCE_K = 0.05
TRANSIENT_TOLERANCE_K = 0.2

# A 5.3 x 4.1 mm die: blocks off the cell boundaries, some with their own (specific heat, resistivity).
TOP_FLP = ("core0\t2.1e-3\t4.1e-3\t0\t0\t1.6e6\t0.008\n"
           "tsv\t0.37e-3\t4.1e-3\t2.1e-3\t0\t3.4e6\t0.0025\n"
           "core1\t2.83e-3\t2.5e-3\t2.47e-3\t0\n"
           "cache\t2.83e-3\t1.6e-3\t2.47e-3\t2.5e-3\t1.9e6\t0.012\n")
BOTTOM_FLP = ("left\t1.33e-3\t4.1e-3\t0\t0\n"
              "mid\t2.9e-3\t1.77e-3\t1.33e-3\t0\t2.0e6\t0.02\n"
              "top\t2.9e-3\t2.33e-3\t1.33e-3\t1.77e-3\n"
              "right\t1.07e-3\t4.1e-3\t4.23e-3\t0\t1.75e6\t0.0077\n")
STACK_LCF = ("0\nY\nY\n1.75e6\n0.01\n0.0001\ntop.flp\n\n1\nN\nN\n4e6\n0.25\n2e-5\ntim.flp\n\n"
             "2\nY\nY\n1.75e6\n0.01\n0.00015\nbottom.flp\n\n3\nY\nN\n4e6\n0.25\n2e-5\ntim.flp\n")


def _compare_with_hotspot(work: Path, flags: dict[str, str], *, grid_maps: bool = True) -> None:
    """Run hotspot (steady + grid steady, then transient) in ``work`` and compare with the built-in model."""
    args = [token for name, value in flags.items() for token in (f"-{name}", value)]
    for extra in (["-steady_file", "hs.steady", "-grid_steady_file", "hs.grid.steady"], ["-o", "hs.ttrace"]):
        subprocess.run(["hotspot", *args, *extra], cwd=work, check=True, capture_output=True, timeout=120)
    config, materials = resolve_config(flags, cwd=work)
    floorplan, layers = read_model_inputs(config, materials, cwd=work)
    model = build_thermal_model(config, floorplan=floorplan, layers=layers, materials=materials, solver="sparse")
    assert isinstance(model.solver, SparseSolver)
    trace = read_ptrace(work / flags["p"]).reordered(model.power_names)

    expected = read_steady(work / "hs.steady")
    steady = model.steady_node_temperatures(trace.power_W.mean(axis=0))
    assert tuple(steady) == tuple(expected)
    assert np.abs(np.array(list(steady.values())) - list(expected.values())).max() <= STEADY_TOLERANCE_K
    if grid_maps:
        circuit = model.circuit
        theta = model.solver.steady(circuit.network.power_to_node @ trace.power_W.mean(axis=0))
        maps = zip(circuit.grid_maps(theta).values(), read_grid_steady(work / "hs.grid.steady"), strict=True)
        for grid_map, reference in maps:
            assert np.abs(grid_map + config.ambient - reference.reshape(grid_map.shape)).max() <= STEADY_TOLERANCE_K

    expected_trace = read_ttrace(work / "hs.ttrace")
    got = model.run(trace.power_W, config.sampling_intvl)
    index = [model.output_names.index(name) for name in expected_trace.names]
    assert np.abs(got[:, index] - expected_trace.temperatures_K).max() <= TRANSIENT_TOLERANCE_K


def _write_ptrace(path: Path, names: list[str], rows: int, seed: int) -> None:
    power = np.random.default_rng(seed).uniform(0.2, 6.0, size=(rows, len(names)))
    lines = ["\t".join(names)] + ["\t".join(f"{p:.4f}" for p in row) for row in power]
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(("rows", "cols", "mode"), [(8, 16, "max"), (16, 8, "center")])
def test_detailed_3d_stack_matches_hotspot(tmp_path, rows, cols, mode):
    (tmp_path / "top.flp").write_text(TOP_FLP)
    (tmp_path / "bottom.flp").write_text(BOTTOM_FLP)
    (tmp_path / "tim.flp").write_text("tim\t5.3e-3\t4.1e-3\t0\t0\n")
    (tmp_path / "stack.lcf").write_text(STACK_LCF)
    _write_ptrace(tmp_path / "p.ptrace", ["core0", "tsv", "core1", "cache", "left", "mid", "top", "right"], 4, 1)
    _compare_with_hotspot(tmp_path, {
        "p": "p.ptrace", "grid_layer_file": "stack.lcf", "model_type": "grid", "detailed_3D": "on",
        "grid_rows": str(rows), "grid_cols": str(cols), "grid_map_mode": mode, "sampling_intvl": "0.001",
        "init_temp": "318.15", "s_spreader": "0.02", "r_convec": "0.3"})


EV6 = ("L2_left 0.0049 0.0062 0 0.0098\nL2 0.016 0.0098 0 0\nL2_right 0.0049 0.0062 0.0111 0.0098\n"
       "Icache 0.0031 0.0026 0.0049 0.0098\nDcache 0.0031 0.0026 0.008 0.0098\nBpred 0.0031 0.0007 0.0049 0.0124\n"
       "DTB 0.0031 0.0007 0.008 0.0124\nFPAdd 0.0022 0.0009 0.0049 0.0131\nFPReg 0.0022 0.00038 0.0049 0.014\n"
       "FPMul 0.0022 0.00095 0.0049 0.01438\nFPMap 0.0022 0.00067 0.0049 0.01533\n"
       "IntMap 0.0009 0.00135 0.0071 0.01465\nIntQ 0.0013 0.00135 0.008 0.01465\n"
       "IntReg 0.0018 0.00067 0.0093 0.01533\nIntExec 0.0018 0.00223 0.0093 0.0131\n"
       "FPQ 0.0009 0.00155 0.0071 0.0131\nLdStQ 0.0013 0.00095 0.008 0.0137\nITB 0.0013 0.0006 0.008 0.0131\n")


@pytest.mark.parametrize(("rows", "cols", "mode"), [(16, 16, "center"), (8, 16, "min")])
def test_two_dimensional_die_matches_hotspot(tmp_path, rows, cols, mode):
    """The EV6 floorplan (HotSpot's example1, blocks in millimetres) on coarse and non-square grids."""
    (tmp_path / "ev6.flp").write_text(EV6)
    names = [line.split()[0] for line in EV6.splitlines()]
    _write_ptrace(tmp_path / "p.ptrace", names, 4, 2)
    _compare_with_hotspot(tmp_path, {
        "f": "ev6.flp", "p": "p.ptrace", "model_type": "grid", "grid_rows": str(rows), "grid_cols": str(cols),
        "grid_map_mode": mode, "sampling_intvl": "0.002", "init_temp": "330", "k_chip": "130", "p_chip": "1.6303e6"})


def test_package_model_convection_matches_hotspot(tmp_path):
    """``-package_model_used``: r_convec from HotSpot's default fan-and-fin sink with forced convection. (Natural
    convection matched within 0.01 K in a scratch run, docs/thermal-grid.md, but HotSpot takes ~10 s on it.)"""
    natural = 0
    (tmp_path / "ev6.flp").write_text(EV6)
    (tmp_path / "package.config").write_text(f"-natural_convec {natural}\n")
    names = [line.split()[0] for line in EV6.splitlines()]
    _write_ptrace(tmp_path / "p.ptrace", names, 3, 3)
    _compare_with_hotspot(tmp_path, {
        "f": "ev6.flp", "p": "p.ptrace", "model_type": "grid", "grid_rows": "16", "grid_cols": "16",
        "package_model_used": "1", "package_config_file": str(tmp_path / "package.config"), "sampling_intvl": "0.01",
        "init_temp": "330"}, grid_maps=not natural)
