"""Block model: parity and wall time on HotSpot's EV6 case, and the cost of one co-simulation step.

1. ev6_block (../shared/reference/hotspot, HotSpot's exact flags from case.json): steady state and both
   100-sample transients, worst error against HotSpot's outputs, our time (model build + solve, from
   parsed inputs, modules already imported) against HotSpot's wall time in case.json (which includes its
   process start and file I/O, a few ms: so the steady-state figure compares little more than start-up).
2. One ``step(power, 1 ms)`` of the built-in block model (eigen solver) for EV6 (30 blocks) and for a
   64-core chip with one LLC bank per core (128 blocks, 524 nodes): set-up time (build + first step,
   which pays the eigendecomposition), time per ``step`` call, and time per row of the vectorised ``run``.
3. With a ``hotspot`` binary on PATH: the time of one 1 ms epoch done the HotSniper/CoMeT way (spawn
   hotspot with an init file, read back its outputs), for the 64-core floorplan.

    python bench/thermal_block.py
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from ailfm.thermal.formats import (
    Block,
    Floorplan,
    HotSpotConfig,
    PowerTrace,
    read_config,
    read_flp,
    read_materials,
    read_ptrace,
    read_steady,
    read_ttrace,
    write_flp,
    write_ptrace,
    write_steady,
)
from ailfm.thermal.hotspot_cli import parse_command_line
from ailfm.thermal.model import build_thermal_model

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "hotspot" / "ev6_block"
REPEATS = 2000


def ev6_parity() -> None:
    if not REFERENCE.exists():
        print(f"{REFERENCE} absent: skipping the EV6 parity part")
        return
    case = json.loads((REFERENCE / "case.json").read_text())
    files = {"c", "f", "p", "o", "steady_file", "init_file", "materials_file"}
    for command, label in zip(case["commands"], case["wall_seconds"], strict=True):
        flags = parse_command_line(command[1:])
        config = HotSpotConfig().with_flags(read_config(REFERENCE / flags["c"]))
        config = config.with_flags({k: v for k, v in flags.items() if k not in files})
        if "init_file" in flags:
            config = config.with_flags({"init_file": str(REFERENCE / flags["init_file"])})
        floorplan = read_flp(REFERENCE / flags["f"])
        materials = read_materials(REFERENCE / flags["materials_file"])
        trace = read_ptrace(REFERENCE / flags["p"], floorplan.names)
        build_thermal_model(config, floorplan=floorplan, materials=materials)  # warm: imports, not the model's cost
        start = time.perf_counter()
        model = build_thermal_model(config, floorplan=floorplan, materials=materials)
        if "o" in flags:
            got = model.run(trace.power_W, config.sampling_intvl)
            elapsed = time.perf_counter() - start
            expected = read_ttrace(REFERENCE / flags["o"])
            columns = [model.output_names.index(name) for name in expected.names]
            error = np.abs(got[:, columns] - expected.temperatures_K).max()
        else:
            got = model.steady_node_temperatures(trace.power_W.mean(axis=0))
            elapsed = time.perf_counter() - start
            expected = read_steady(REFERENCE / flags["steady_file"])
            error = max(abs(got[name] - expected[name]) for name in expected)
        hotspot_s = case["wall_seconds"][label]
        print(f"ev6_block {label:24s} max error {error:.4f} K   ours {elapsed * 1e3:8.2f} ms   "
              f"hotspot {hotspot_s * 1e3:8.1f} ms   speed-up {hotspot_s / elapsed:7.0f}x")


def many_core_floorplan(cores_per_side: int = 8, tile_m: float = 1.5e-3, llc_fraction: float = 0.4) -> Floorplan:
    """A square array of tiles, each a core (bottom) and its LLC bank (top)."""
    blocks = []
    for row in range(cores_per_side):
        for col in range(cores_per_side):
            x, y, core_h = col * tile_m, row * tile_m, tile_m * (1 - llc_fraction)
            blocks.append(Block(f"core_{row}_{col}", tile_m, core_h, x, y))
            blocks.append(Block(f"llc_{row}_{col}", tile_m, tile_m - core_h, x, y + core_h))
    return Floorplan(tuple(blocks))


def step_cost(name: str, floorplan: Floorplan) -> None:
    config = HotSpotConfig().with_flags({"model_type": "block", "sampling_intvl": "0.001"})
    power = np.random.default_rng(0).uniform(0.1, 3.0, size=(REPEATS, len(floorplan)))
    start = time.perf_counter()
    model = build_thermal_model(config, floorplan=floorplan)
    model.step(power[0], 1e-3)  # the first step pays the eigendecomposition and the per-dt matrices
    setup_s = time.perf_counter() - start
    start = time.perf_counter()
    for row in power:
        model.step(row, 1e-3)
    per_step_s = (time.perf_counter() - start) / REPEATS
    start = time.perf_counter()
    model.run(power, 1e-3)
    per_row_s = (time.perf_counter() - start) / REPEATS
    print(f"{name:28s} {model.circuit.network.n_nodes:5d} nodes   set-up {setup_s * 1e3:7.1f} ms   "
          f"step {per_step_s * 1e6:7.1f} us   run per row {per_row_s * 1e6:6.1f} us")


def hotspot_epoch_cost(floorplan: Floorplan, epochs: int = 5) -> None:
    if shutil.which("hotspot") is None:
        print("no hotspot binary on PATH: skipping the per-epoch HotSpot comparison")
        return
    config = HotSpotConfig().with_flags({"model_type": "block", "sampling_intvl": "0.001"})
    model = build_thermal_model(config, floorplan=floorplan)
    power = np.random.default_rng(1).uniform(0.1, 3.0, size=(1, len(floorplan)))
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        write_flp(work / "chip.flp", floorplan)
        write_ptrace(work / "chip.ptrace", PowerTrace(floorplan.names, power))
        write_steady(work / "chip.init", model.node_temperatures())
        start = time.perf_counter()
        for _ in range(epochs):  # HotSniper's loop: spawn, step one epoch from the init file, read the outputs
            subprocess.run(["hotspot", "-f", "chip.flp", "-p", "chip.ptrace", "-model_type", "block",
                            "-sampling_intvl", "0.001", "-init_file", "chip.init", "-o", "chip.ttrace",
                            "-steady_file", "chip.steady"], cwd=work, check=True, capture_output=True)
            read_ttrace(work / "chip.ttrace")
            read_steady(work / "chip.steady")
        per_epoch_s = (time.perf_counter() - start) / epochs
    print(f"hotspot binary, one 1 ms epoch per process ({len(floorplan)} blocks): {per_epoch_s * 1e3:.1f} ms")


def main() -> None:
    ev6_parity()
    if REFERENCE.exists():
        step_cost("ev6 (30 blocks)", read_flp(REFERENCE / "ev6.flp"))
    many_core = many_core_floorplan()
    step_cost("64 cores + 64 LLC banks", many_core)
    hotspot_epoch_cost(many_core)


if __name__ == "__main__":
    main()
