"""Speed and accuracy of ``ailfm-hotspot`` against HotSpot 7.0, side by side, and the 1 ms co-simulation step.

Every ratio is measured in this run: each command runs as ``hotspot`` (``$HOTSPOT`` or on PATH) and then as the
installed ``ailfm-hotspot`` console script (a fresh process, so Python start-up and file parsing count, as a user
runs it, with the bytecode a first run caches; median of ``--repeat`` runs), in copies of the same folder, and the
outputs are compared. The load average is printed with them (the machine is shared).

* The deep stack (default): ``--tile-layers`` (4) tile layers of bench/thermal_deep_stacks.py's seed ``--seed`` (5:
  6x7 rectangular tiles, a TIM under each) at ``--cells`` (64) x 64 cells, ``--samples`` (40) samples of 0.5 ms:
  HotSpot's steady run, its transient from ambient and its transient from its own steady state.
* ``--reference``: also every command of every case in ../shared/reference/hotspot (HotSpot re-run too: ~20 min).
* One 1 ms ``step`` of the default 64-core 4-die stack at 64x64 cells: the thermal library's grid model, the ``grid``
  thermal model of ``ailfm simulate`` and its ``fast`` reduced-order
  model; and a 2D 64-core block model epoch, built-in vs one process per epoch.

Run: ``python bench/thermal_speed.py [--tile-layers 6] [--reference]`` (writes bench/results/thermal_speed.json,
prints markdown). Targets (issue 12): grid transients >= 100x HotSpot, grid steady states >= 20x, whole process.
Without a ``hotspot`` binary only our side and the step times run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from thermal_deep_stacks import describe, draw_case, output_error_K, run_kind, write_inputs

from ailfm.errors import ToolError
from ailfm.plugins.epoch.chip_thermal import build_thermal, chip_stack
from ailfm.plugins.system.description import load_system
from ailfm.thermal.floorplan_gen import tile_layer_floorplan, write_stack
from ailfm.thermal.formats import (
    HotSpotConfig,
    read_flp,
    read_lcf,
    write_flp,
)
from ailfm.thermal.hotspot_cli import parse_command_line
from ailfm.thermal.model import build_thermal_model

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference" / "hotspot"
RESULTS = REPO / "bench" / "results" / "thermal_speed.json"
TARGET_SPEEDUP = {"grid transient": 100.0, "grid steady": 20.0}
STEP_S = 1e-3
STEP_CELLS = 64
TIMED_STEPS = 20


def _console_script() -> str:
    script = shutil.which("ailfm-hotspot", path=str(Path(sys.executable).parent)) or shutil.which("ailfm-hotspot")
    if script is None:
        sys.exit("ailfm-hotspot is not installed: pip install -e . first")
    return script


def _cache_bytecode() -> None:
    """Write the bytecode of ailfm's modules to ``__pycache__``, as a user's first run of ``ailfm-hotspot`` does: the
    timed runs are a user's later runs. (A shell with ``PYTHONDONTWRITEBYTECODE`` set, as some CI and sandboxes
    have, would otherwise recompile every ailfm module in every run, ~0.08 s of CPU that no user pays.)"""
    import compileall

    for package in ("ailfm", "thermal"):
        compileall.compile_dir(REPO / package, quiet=1)


def _run(argv: list[str], cwd: Path) -> tuple[float, float]:
    """(wall s, CPU s) of one process; exits naming the command if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    wall_s = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:1])} failed in {cwd}: {done.stderr.strip()[-300:]}")
    return wall_s, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def side_by_side(name: str, case_dir: Path, commands: list[list[str]], hotspot: str | None, script: str,
                 repeat: int) -> list[dict]:
    """Each command by HotSpot, then by ailfm-hotspot, in two copies of ``case_dir``. A steady file named
    ``steady.init`` by a later command is HotSpot's ``out.steady`` of the earlier steady run (as in the reference
    cases; ours without a binary)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="ailfm-bench-") as tmp:
        theirs, ours = Path(tmp) / "hotspot", Path(tmp) / "ours"
        shutil.copytree(case_dir, theirs)
        shutil.copytree(case_dir, ours)
        for command in commands:
            flags = parse_command_line(command[1:])
            source = (theirs if hotspot else ours) / "out.steady"  # ours only without a binary
            if flags.get("init_file") == "steady.init" and source.exists():
                for folder in (theirs, ours):
                    shutil.copy(source, folder / "steady.init")
            load = os.getloadavg()[0]
            hotspot_s = hotspot_cpu_s = None
            if hotspot:
                hotspot_s, hotspot_cpu_s = _run([hotspot, *command[1:]], theirs)
            runs = [_run([script, *command[1:]], ours) for _ in range(repeat)]
            wall_s, cpu_s = float(np.median([r[0] for r in runs])), float(np.median([r[1] for r in runs]))
            kind = run_kind(flags)
            family = f"{flags.get('model_type', 'block')} {'steady' if kind == 'steady' else 'transient'}"
            row = {"case": name, "run": kind, "family": family, "load_average": round(load, 2),
                   "ailfm_hotspot_s": round(wall_s, 3), "ailfm_hotspot_cpu_s": round(cpu_s, 3),
                   "hotspot_s": None if hotspot_s is None else round(hotspot_s, 3),
                   "hotspot_cpu_s": None if hotspot_cpu_s is None else round(hotspot_cpu_s, 3),
                   "tolerance_K": 0.05 if kind == "steady" else 0.2, "target_speedup": TARGET_SPEEDUP.get(family)}
            if hotspot:
                row.update(speedup=round(hotspot_s / wall_s, 2), speedup_cpu=round(hotspot_cpu_s / cpu_s, 2),
                           max_error_K=round(output_error_K(theirs, ours, flags), 3))
            rows.append(row)
            print(f"  {name} {kind}: ours {wall_s:.2f} s ({cpu_s:.2f} s CPU), HotSpot "
                  f"{'-' if hotspot_s is None else f'{hotspot_s:.2f}'} s, load {load:.1f}", file=sys.stderr)
    return rows


def deep_stack_case(folder: Path, seed: int, tile_layers: int, cells: int,
                    samples: int) -> tuple[list[list[str]], str]:
    """Write bench/thermal_deep_stacks.py's case into ``folder`` (0.5 ms samples); its three command lines and a
    description."""
    case = draw_case(seed, cells=cells, samples=samples, tile_layers=tile_layers)
    case["sampling_s"] = 5e-4
    return write_inputs(case, folder), describe(case)


def _time_steps(model, power: np.ndarray) -> dict:
    """First step, then the median wall and CPU time of the remaining steps of ``STEP_S``."""
    start = time.perf_counter()
    model.step(power[0], STEP_S)
    first_s = time.perf_counter() - start
    times, cpu_times = [], []
    for row in power[1:]:
        start, start_cpu = time.perf_counter(), time.process_time()
        model.step(row, STEP_S)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - start_cpu)
    return {"first_step_s": round(first_s, 4), "step_median_s": round(float(np.median(times)), 5),
            "step_median_cpu_s": round(float(np.median(cpu_times)), 5), "steps_timed": len(times)}


def bench_step(folder: Path) -> dict:
    """One 1 ms step of the default 64-core, 4-die stack at 64 x 64 cells: the thermal library's grid model, and the
    ``grid`` and ``fast`` thermal models of ``ailfm simulate`` (built by the co-simulator from its system file)."""
    system = load_system()
    chip = chip_stack(system)
    lcf = write_stack(chip, folder)
    config = HotSpotConfig().with_flags({"model_type": "grid", "grid_rows": str(STEP_CELLS),
                                         "grid_cols": str(STEP_CELLS), "grid_layer_file": str(lcf)})
    start = time.perf_counter()
    model = build_thermal_model(config, layers=read_lcf(lcf))
    build_s = time.perf_counter() - start
    power = np.random.default_rng(0).uniform(0.3, 5.0, size=(TIMED_STEPS + 1, len(model.power_names)))
    result = {"stack": f"{chip.name}: {chip.n_cores} cores, {chip.tile_layers} dies + TIMs, {STEP_CELLS}x{STEP_CELLS}",
              "nodes": int(model.circuit.network.n_nodes), "build_s": round(build_s, 3),
              "library_grid": _time_steps(model, power)}
    for kind in ("grid", "fast"):
        start = time.perf_counter()
        simulate_model = build_thermal(system, kind, cells=STEP_CELLS)
        build_s = time.perf_counter() - start
        rows = np.random.default_rng(0).uniform(0.3, 5.0, size=(TIMED_STEPS + 1, len(simulate_model.power_names)))
        result[f"simulate_{kind}"] = {"build_s": round(build_s, 3), **_time_steps(simulate_model, rows)}
    return result


def bench_block_epoch(folder: Path) -> dict:
    """A HotSniper-style 2D many-core (8 x 8 cores of 0.887 mm, HotSniper's 8x8 floorplan size) in the block model:
    one 1 ms step of the built-in model vs one ``hotspot`` process per epoch (what HotSniper pays every epoch)."""
    chip = dataclasses.replace(chip_stack(load_system()), tile_layers=1, tile_rows=8, tile_cols=8,
                               tile_width_m=0.887e-3, tile_height_m=0.887e-3, core_fraction=1.0, banks_per_tile=0)
    write_flp(folder / "cores.flp", tile_layer_floorplan(chip, 0))
    config = HotSpotConfig().with_flags({"model_type": "block", "f": str(folder / "cores.flp")})
    model = build_thermal_model(config, floorplan=read_flp(folder / "cores.flp"))
    power = np.random.default_rng(1).uniform(0.3, 5.0, size=(TIMED_STEPS + 1, len(model.power_names)))
    model.step(power[0], STEP_S)
    times = []
    for row in power[1:]:
        start = time.perf_counter()
        model.step(row, STEP_S)
        times.append(time.perf_counter() - start)
    result = {"chip": "64 cores (8x8) of 0.887 mm, block model", "builtin_step_s": float(np.median(times))}
    try:
        from ailfm.thermal.hotspot_backend import HotSpotBackend

        runs = (("hotspot_process_epoch_s", None), ("ailfm_hotspot_process_epoch_s", _console_script()))
        for key, executable in runs:
            with HotSpotBackend({"model_type": "block", "f": "cores.flp"}, executable=executable, cwd=folder,
                                state_mode="replay") as backend:
                start = time.perf_counter()
                backend.step(power[0], STEP_S)
                result[key] = time.perf_counter() - start
    except ToolError as err:
        result["hotspot_process_epoch_s"] = None
        result["hotspot_backend_note"] = str(err)
    return result


def markdown(rows: list[dict], step: dict, block: dict, loads: tuple[float, float]) -> str:
    lines = [f"Load average {loads[0]:.1f} before, {loads[1]:.1f} after (2 cores, shared).", "",
             "| case | run | load | HotSpot 7.0 wall (s) | ailfm-hotspot wall (s) | speed-up | HotSpot CPU (s) | "
             "ailfm-hotspot CPU (s) | speed-up (CPU) | target | max error (K) | tolerance (K) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        target = f">= {r['target_speedup']:g}x" if r["target_speedup"] else "-"
        if r["hotspot_s"] is None:
            theirs = (f"| - | {r['ailfm_hotspot_s']:.2f} | - | - | {r['ailfm_hotspot_cpu_s']:.2f} | - | {target} | - | "
                      f"{r['tolerance_K']} |")
        else:
            theirs = (f"| {r['hotspot_s']:.3g} | {r['ailfm_hotspot_s']:.2f} | {r['speedup']:.3g}x | "
                      f"{r['hotspot_cpu_s']:.3g} | {r['ailfm_hotspot_cpu_s']:.2f} | {r['speedup_cpu']:.3g}x | "
                      f"{target} | {r['max_error_K']:.3f} | {r['tolerance_K']} |")
        lines.append(f"| {r['case']} | {r['run']} | {r['load_average']:.1f} " + theirs)
    lines.append("")
    for key, what in (("library_grid", "thermal library grid model"), ("simulate_grid", "`ailfm simulate` grid"),
                      ("simulate_fast", "`ailfm simulate` fast (reduced order)")):
        t = step[key]
        lines.append(f"One 1 ms step, {step['stack']} ({step['nodes']} nodes), {what}: median "
                     f"{t['step_median_s'] * 1e3:.2f} ms ({t['step_median_cpu_s'] * 1e3:.2f} ms CPU) over "
                     f"{t['steps_timed']} steps (first step {t['first_step_s'] * 1e3:.0f} ms).")
    line = f"Block model, {block['chip']}: one 1 ms step {block['builtin_step_s'] * 1e6:.0f} us"
    if block.get("hotspot_process_epoch_s") is not None:
        line += (f"; one process per epoch (HotSniper's way): hotspot {block['hotspot_process_epoch_s'] * 1e3:.0f} ms, "
                 f"ailfm-hotspot {block['ailfm_hotspot_process_epoch_s'] * 1e3:.0f} ms")
    lines.append(line + ".")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tile-layers", type=int, default=4)
    parser.add_argument("--cells", type=int, default=64)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3, help="ailfm-hotspot runs per command (median)")
    parser.add_argument("--reference", action="store_true", help="also the cases of ../shared/reference/hotspot")
    args = parser.parse_args(argv)
    hotspot = shutil.which(os.environ.get("HOTSPOT", "hotspot"))
    if hotspot is None:
        print("no hotspot binary ($HOTSPOT or PATH): timing our side only", file=sys.stderr)
    script = _console_script()
    _cache_bytecode()
    load_before = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory(prefix="ailfm-bench-deep-") as tmp:
        commands, description = deep_stack_case(Path(tmp), args.seed, args.tile_layers, args.cells, args.samples)
        rows += side_by_side(description, Path(tmp), commands, hotspot, script, args.repeat)
    if args.reference and REFERENCE.is_dir():
        for case_dir in sorted(p for p in REFERENCE.iterdir() if (p / "case.json").is_file()):
            case = json.loads((case_dir / "case.json").read_text())
            rows += side_by_side(case_dir.name, case_dir, case["commands"], hotspot, script, args.repeat)
    with tempfile.TemporaryDirectory(prefix="ailfm-bench-stack-") as tmp:
        step = bench_step(Path(tmp))
    with tempfile.TemporaryDirectory(prefix="ailfm-bench-block-") as tmp:
        block = bench_block_epoch(Path(tmp))
    loads = (load_before, os.getloadavg()[0])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp_results = RESULTS.with_suffix(".json.tmp")
    tmp_results.write_text(json.dumps({
        "command": "python bench/thermal_speed.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "python": platform.python_version(),
        "hotspot": hotspot, "load_average_before_after": list(loads), "runs": rows, "step_1ms": step,
        "block_epoch_1ms": block}, indent=1) + "\n")
    tmp_results.replace(RESULTS)
    print(markdown(rows, step, block, loads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
