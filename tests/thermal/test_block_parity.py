"""Block model vs HotSpot 7.0's own outputs for its EV6 example (../shared/reference/hotspot/ev6_block).

The case's commands (case.json) are replayed through HotSpotConfig and the built-in model: steady
temperatures of every node within 0.05 K of ``out.steady``; every sample of both transients within
0.2 K of HotSpot's ``.ttrace`` (which it prints with two decimals).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from reference_data import HOTSPOT_REFERENCE, require_shared

from ailfm.thermal.formats.config import HotSpotConfig, read_config
from ailfm.thermal.formats.flp import read_flp
from ailfm.thermal.formats.materials import read_materials
from ailfm.thermal.formats.ptrace import read_ptrace
from ailfm.thermal.model import build_thermal_model

STEADY_TOLERANCE_K = 0.05
TRANSIENT_TOLERANCE_K = 0.2
# Flags naming files, resolved against the case folder; -o/-steady_file/-p/-f are what we compare or read.
_FILE_FLAGS = {"c", "f", "p", "o", "steady_file", "init_file", "materials_file"}


def _case(command: list[str]):
    case = require_shared(HOTSPOT_REFERENCE / "ev6_block")
    args = dict(zip(command[1::2], command[2::2], strict=True))
    flags = {name.lstrip("-"): value for name, value in args.items()}
    config = HotSpotConfig().with_flags(read_config(case / flags["c"]), source=str(case / flags["c"]))
    config = config.with_flags({k: v for k, v in flags.items() if k not in _FILE_FLAGS})
    if "init_file" in flags:
        config = config.with_flags({"init_file": str(case / flags["init_file"])})
    floorplan = read_flp(case / flags["f"])
    materials = read_materials(case / flags["materials_file"]) if "materials_file" in flags else None
    model = build_thermal_model(config, floorplan=floorplan, materials=materials)
    trace = read_ptrace(case / flags["p"], floorplan.names)
    return case, flags, config, model, trace


def _commands():
    case = HOTSPOT_REFERENCE / "ev6_block" / "case.json"
    if not case.exists():
        return [pytest.param(None, id="shared-data-absent")]
    commands = json.loads(case.read_text())["commands"]
    return [pytest.param(c, id=c[c.index("-o") + 1] if "-o" in c else "steady") for c in commands]


def _read_temperatures(path) -> dict[str, float]:
    return {line.split()[0]: float(line.split()[1]) for line in path.read_text().splitlines() if line.strip()}


@pytest.mark.parametrize("command", _commands())
def test_ev6_block_matches_hotspot(command):
    if command is None:
        require_shared(HOTSPOT_REFERENCE / "ev6_block")
    case, flags, config, model, trace = _case(command)
    if "steady_file" in flags:
        expected = _read_temperatures(case / flags["steady_file"])
        got = model.steady_node_temperatures(trace.power_W.mean(axis=0))
        assert list(got) == list(expected)  # every node, in HotSpot's order
        worst = max(abs(got[name] - expected[name]) for name in expected)
        assert worst < STEADY_TOLERANCE_K, f"steady error {worst:.4f} K"
    if "o" in flags:
        lines = (case / flags["o"]).read_text().split("\n")
        names = lines[0].split()
        expected = np.array([[float(v) for v in line.split()] for line in lines[1:] if line.strip()])
        got = model.run(trace.power_W, config.sampling_intvl)
        columns = [model.output_names.index(name) for name in names]
        error = np.abs(got[:, columns] - expected)
        assert error.shape == (trace.n_rows, len(names))
        assert error.max() < TRANSIENT_TOLERANCE_K, f"transient error {error.max():.4f} K at sample {error.argmax()}"
