"""The block model against the real ``hotspot`` binary on floorplans and parameters other than HotSpot's example.

Runs only where a HotSpot 7.0 binary is on PATH. Each case writes a floorplan, a power trace and flags
to a temporary folder, runs ``hotspot -steady_file ... -o ...`` there, and compares every steady node
(0.05 K) and every transient sample (0.2 K) with the built-in model given the same files.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from ailfm.thermal.formats.config import HotSpotConfig
from ailfm.thermal.formats.flp import Block, Floorplan, read_flp, write_flp
from ailfm.thermal.formats.ptrace import PowerTrace, read_ptrace, write_ptrace
from ailfm.thermal.formats.steady import read_steady, write_steady
from ailfm.thermal.formats.ttrace import read_ttrace
from ailfm.thermal.model import build_thermal_model

pytestmark = pytest.mark.skipif(shutil.which("hotspot") is None, reason="no hotspot binary on PATH")

STEADY_TOLERANCE_K = 0.05
TRANSIENT_TOLERANCE_K = 0.2


def _sliced(rng: np.random.Generator, n_blocks: int, width_m: float, height_m: float) -> Floorplan:
    """A gap-free floorplan cut from a die by random guillotine cuts, offset from the origin."""
    x0, y0 = rng.uniform(0, 1e-3, size=2)
    rects = [(x0, y0, width_m, height_m)]
    while len(rects) < n_blocks:
        x, y, w, h = rects.pop(int(np.argmax([r[2] * r[3] for r in rects])))
        f = rng.uniform(0.25, 0.75)
        rects += ([(x, y, w * f, h), (x + w * f, y, w * (1 - f), h)] if w > h
                  else [(x, y, w, h * f), (x, y + h * f, w, h * (1 - f))])
    return Floorplan(tuple(Block(f"b{i}", w, h, x, y) for i, (x, y, w, h) in enumerate(rects)))


def _compare(tmp_path, floorplan: Floorplan, power_W: np.ndarray, flags: dict[str, str], *, init=None):
    write_flp(tmp_path / "chip.flp", floorplan)
    floorplan = read_flp(tmp_path / "chip.flp")  # both sides see the same (printed) geometry
    write_ptrace(tmp_path / "chip.ptrace", PowerTrace(floorplan.names, power_W))
    trace = read_ptrace(tmp_path / "chip.ptrace", floorplan.names)
    if init is not None:
        write_steady(tmp_path / "chip.init", init)
        flags = {**flags, "init_file": str(tmp_path / "chip.init")}
    args = [arg for name, value in flags.items() for arg in (f"-{name}", value)]
    subprocess.run(["hotspot", "-f", "chip.flp", "-p", "chip.ptrace", "-steady_file", "chip.steady",
                    "-o", "chip.ttrace", *args], cwd=tmp_path, check=True, capture_output=True, timeout=60)
    config = HotSpotConfig().with_flags(flags)
    model = build_thermal_model(config, floorplan=floorplan)
    transient = model.run(trace.power_W, config.sampling_intvl)
    expected_trace = read_ttrace(tmp_path / "chip.ttrace")
    columns = [model.output_names.index(name) for name in expected_trace.names]
    transient_error = np.abs(transient[:, columns] - expected_trace.temperatures_K).max()
    steady = model.steady_node_temperatures(trace.power_W.mean(axis=0))  # after the transient, as hotspot does
    expected = read_steady(tmp_path / "chip.steady")
    assert list(steady) == list(expected)
    steady_error = max(abs(steady[name] - expected[name]) for name in expected)
    assert steady_error < STEADY_TOLERANCE_K
    assert transient_error < TRANSIENT_TOLERANCE_K
    return steady


@pytest.mark.parametrize("seed", [11, 12])
def test_random_floorplans_and_parameters(tmp_path, seed):
    rng = np.random.default_rng(seed)
    n_blocks = int(rng.integers(2, 16))
    floorplan = _sliced(rng, n_blocks, *rng.uniform(3e-3, 1.6e-2, size=2))
    power_W = rng.uniform(0, 4, size=(5, n_blocks)) * (rng.uniform(size=n_blocks) < 0.8)
    flags = {"model_type": "block", "sampling_intvl": f"{10 ** rng.uniform(-4, -2):.3g}",
             "r_convec": f"{rng.uniform(0.05, 1.0):.3g}", "t_sink": f"{rng.uniform(3e-3, 1e-2):.3g}",
             "k_chip": f"{rng.uniform(80, 150):.4g}", "init_temp": f"{rng.uniform(300, 360):.5g}",
             "block_omit_lateral": str(seed % 2)}
    _compare(tmp_path, floorplan, power_W, flags)


def test_package_models_and_dtm_start(tmp_path):
    rng = np.random.default_rng(5)
    floorplan = _sliced(rng, 6, 0.012, 0.01)
    power_W = rng.uniform(0, 15, size=(4, 6))
    forced, natural = tmp_path / "forced.config", tmp_path / "natural.config"
    forced.write_text("-flow_type 1\n-sink_type 1\n-rpm 3000\n")
    natural.write_text("-natural_convec 1\n")
    common = {"model_type": "block", "sampling_intvl": "0.002", "package_model_used": "1"}
    steady = _compare(tmp_path, floorplan, power_W, {**common, "package_config_file": str(forced)})
    hot = {name: value + 30.0 for name, value in steady.items()}
    _compare(tmp_path, floorplan, power_W, {**common, "package_config_file": str(natural), "init_temp": "330"})
    _compare(tmp_path, floorplan, power_W, {**common, "package_config_file": str(forced), "dtm_used": "1",
                                            "thermal_threshold": f"{max(hot.values()) - 10:.2f}"}, init=hot)
