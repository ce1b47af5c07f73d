"""Speed and accuracy of ``ailfm-hotspot`` against HotSpot 7.0 on every reference case, and the 1 ms co-simulation step.

For each case in ../shared/reference/hotspot, every command of its ``case.json`` is run as ``ailfm-hotspot`` (the
installed console script, in a fresh copy of the case folder, so the time includes process start-up and file I/O as
HotSpot's does) and compared with HotSpot's outputs and with HotSpot's wall time (``wall_seconds`` in case.json,
measured on this machine class with HotSpot built without SuperLU). Then one 1 ms ``step`` of the built-in grid model of
the default 64-core, 4-die S-NUCA stack at 64 x 64 cells is timed, and, when a ``hotspot`` binary is found, one epoch
of the HotSpot backend on the same stack (a process per epoch, as HotSniper/CoMeT pay it).

Run: ``python bench/thermal_speed.py`` (writes bench/results/thermal_speed.json, prints a markdown table).
Targets (issue 2): grid transients >= 50x faster than HotSpot, grid steady states >= 10x.
"""

from __future__ import annotations

import contextlib
import io
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

from ailfm.errors import ToolError
from ailfm.thermal.floorplan_gen import ChipStack, tile_layer_floorplan, write_stack
from ailfm.thermal.formats import (
    HotSpotConfig,
    read_flp,
    read_grid_steady,
    read_lcf,
    read_steady,
    read_ttrace,
    write_flp,
)
from ailfm.thermal.hotspot_cli import main as hotspot_main
from ailfm.thermal.hotspot_cli import parse_command_line
from ailfm.thermal.model import build_thermal_model

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference" / "hotspot"
RESULTS = REPO / "bench" / "results" / "thermal_speed.json"
TARGET_SPEEDUP = {"grid transient": 50.0, "grid steady": 10.0}
STEP_S = 1e-3
STEP_CELLS = 64
TIMED_STEPS = 20


def _console_script() -> str:
    script = shutil.which("ailfm-hotspot", path=str(Path(sys.executable).parent)) or shutil.which("ailfm-hotspot")
    if script is None:
        sys.exit("ailfm-hotspot is not installed: pip install -e . first")
    return script


def _kind(flags: dict[str, str]) -> str:
    if "o" not in flags:
        return "steady"
    return "transient_from_steady" if "init_file" in flags else "transient_from_ambient"


def _max_error_K(work: Path, flags: dict[str, str]) -> float:
    """Largest difference from HotSpot's output files of this command (K)."""
    errors = []
    if "steady_file" in flags:
        ref, ours = read_steady(work / flags["steady_file"]), read_steady(work / ("ours_" + flags["steady_file"]))
        errors.append(max(abs(ours[n] - ref[n]) for n in ref))
    if "grid_steady_file" in flags:
        ref_layers = read_grid_steady(work / flags["grid_steady_file"])
        our_layers = read_grid_steady(work / ("ours_" + flags["grid_steady_file"]))
        errors.append(max(float(np.max(np.abs(a - b))) for a, b in zip(our_layers, ref_layers, strict=True)))
    if "o" in flags:
        ref_trace, our_trace = read_ttrace(work / flags["o"]), read_ttrace(work / ("ours_" + flags["o"]))
        errors.append(float(np.max(np.abs(our_trace.temperatures_K - ref_trace.temperatures_K))))
    return max(errors)


def bench_reference_cases(script: str) -> list[dict]:
    rows = []
    for case_dir in sorted(p for p in REFERENCE.iterdir() if (p / "case.json").is_file()):
        case = json.loads((case_dir / "case.json").read_text())
        for command in case["commands"]:
            flags = parse_command_line(command[1:])
            argv = list(command[1:])
            for k in range(0, len(argv), 2):
                if argv[k] in ("-o", "-steady_file", "-grid_steady_file"):
                    argv[k + 1] = "ours_" + argv[k + 1]
            with tempfile.TemporaryDirectory(prefix="ailfm-bench-") as tmp:
                work = Path(tmp) / case_dir.name
                shutil.copytree(case_dir, work)
                cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                done = subprocess.run([script, *argv], cwd=work, capture_output=True, text=True)
                wall_s = time.perf_counter() - start
                cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu_s = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
                if done.returncode != 0:
                    raise SystemExit(f"{case_dir.name}: ailfm-hotspot failed: {done.stderr.strip()}")
                error_K = _max_error_K(work, flags)
                in_process_s = _in_process_s(work, argv)
            kind = _kind(flags)
            hotspot_s = case["wall_seconds"][kind]
            model = flags.get("model_type", "block")
            family = f"{model} {'steady' if kind == 'steady' else 'transient'}"
            rows.append({
                "case": case_dir.name, "run": kind, "family": family, "ailfm_hotspot_s": round(wall_s, 3),
                "ailfm_hotspot_cpu_s": round(cpu_s, 3), "in_process_s": round(in_process_s, 3),
                "hotspot_s": round(hotspot_s, 3), "speedup": round(hotspot_s / wall_s, 3),
                "speedup_in_process": round(hotspot_s / in_process_s, 3), "speedup_cpu": round(hotspot_s / cpu_s, 3),
                "max_error_K": round(error_K, 3), "tolerance_K": 0.05 if kind == "steady" else 0.2,
                "target_speedup": TARGET_SPEEDUP.get(family),
            })
            print(f"  {case_dir.name} {kind}: {wall_s:.2f} s ({cpu_s:.2f} s CPU; in-process {in_process_s:.2f} s), "
                  f"HotSpot {hotspot_s:.2f} s, max error {error_K:.3f} K", file=sys.stderr)
    return rows


def _in_process_s(work: Path, argv: list[str]) -> float:
    """Wall time of the same command through ``hotspot_cli.main`` in this (already imported) process."""
    here = Path.cwd()
    os.chdir(work)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            start = time.perf_counter()
            status = hotspot_main(argv)
            elapsed_s = time.perf_counter() - start
    finally:
        os.chdir(here)
    if status != 0:
        raise SystemExit(f"{work.name}: in-process ailfm-hotspot failed with status {status}")
    return elapsed_s


def bench_step(folder: Path) -> dict:
    """Time one 1 ms step of the built-in grid model of the default 64-core, 4-die stack at 64 x 64 cells."""
    chip = ChipStack()
    lcf = write_stack(chip, folder)
    config = HotSpotConfig().with_flags({"model_type": "grid", "grid_rows": str(STEP_CELLS),
                                         "grid_cols": str(STEP_CELLS), "grid_layer_file": str(lcf)})
    start = time.perf_counter()
    model = build_thermal_model(config, layers=read_lcf(lcf))
    build_s = time.perf_counter() - start
    rng = np.random.default_rng(0)
    power = rng.uniform(0.3, 5.0, size=(TIMED_STEPS + 1, len(model.power_names)))
    start = time.perf_counter()
    model.step(power[0], STEP_S)
    first_s = time.perf_counter() - start
    times, cpu_times = [], []
    for row in power[1:]:
        start, start_cpu = time.perf_counter(), time.process_time()
        model.step(row, STEP_S)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - start_cpu)
    result = {"stack": f"{chip.name}: {chip.n_cores} cores, {chip.tile_layers} dies + TIMs, {STEP_CELLS}x{STEP_CELLS}",
              "nodes": int(model.circuit.network.n_nodes), "build_s": round(build_s, 3),
              "first_step_s": round(first_s, 4), "step_median_s": round(float(np.median(times)), 4),
              "step_median_cpu_s": round(float(np.median(cpu_times)), 4),
              "steps_timed": TIMED_STEPS}
    try:
        from ailfm.thermal.hotspot_backend import HotSpotBackend

        backend = HotSpotBackend({"model_type": "grid", "grid_rows": str(STEP_CELLS), "grid_cols": str(STEP_CELLS),
                                  "grid_layer_file": lcf.name}, cwd=folder, state_mode="replay")
        start = time.perf_counter()
        backend.step(power[0], STEP_S)
        result["hotspot_backend_epoch_s"] = round(time.perf_counter() - start, 3)
        backend.close()
    except ToolError as err:
        result["hotspot_backend_epoch_s"] = None
        result["hotspot_backend_note"] = str(err)
    return result


def bench_block_epoch(folder: Path) -> dict:
    """A HotSniper-style 2D many-core (8 x 8 cores of 0.887 mm, HotSniper's 8x8 floorplan size) in the block model:
    one 1 ms step of the built-in model vs one ``hotspot`` process per epoch (what HotSniper pays every epoch)."""
    chip = ChipStack(tile_layers=1, tile_rows=8, tile_cols=8, tile_width_m=0.887e-3, tile_height_m=0.887e-3,
                     core_fraction=1.0, banks_per_tile=0)
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


def hotspot_now() -> dict | None:
    """HotSpot itself on ev6_block's transient (3.4 s in case.json), now: how much the machine's load slows a run."""
    hotspot = shutil.which(os.environ.get("HOTSPOT", "hotspot"))
    case_dir = REFERENCE / "ev6_block"
    if hotspot is None or not case_dir.is_dir():
        return None
    case = json.loads((case_dir / "case.json").read_text())
    command = next(c for c in case["commands"] if "-o" in c and "-init_file" not in c)
    with tempfile.TemporaryDirectory(prefix="ailfm-bench-") as tmp:
        work = Path(tmp) / case_dir.name
        shutil.copytree(case_dir, work)
        argv = [hotspot, *command[1:-1], "hotspot_now.ttrace"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, cwd=work, capture_output=True, check=True)
        wall_s = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"case": "ev6_block transient_from_ambient", "wall_s": round(wall_s, 3), "cpu_s": round(cpu_s, 3),
            "case_json_wall_s": case["wall_seconds"]["transient_from_ambient"]}


def markdown(rows: list[dict], step: dict, load: dict | None, block: dict) -> str:
    lines = ["| case | run | HotSpot 7.0 (s) | ailfm-hotspot wall (s) | speed-up | CPU (s) | speed-up | "
             "in-process (s) | speed-up | target | max error (K) | tolerance (K) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        target = f">= {r['target_speedup']:g}x" if r["target_speedup"] else "-"
        lines.append(f"| {r['case']} | {r['run']} | {r['hotspot_s']:.3g} | {r['ailfm_hotspot_s']:.2f} | "
                     f"{r['speedup']:.3g}x | {r['ailfm_hotspot_cpu_s']:.2f} | {r['speedup_cpu']:.3g}x | "
                     f"{r['in_process_s']:.2f} | {r['speedup_in_process']:.3g}x | {target} | {r['max_error_K']:.3f} | "
                     f"{r['tolerance_K']} |")
    median_ms = step["step_median_s"] * 1e3
    lines += ["", f"One 1 ms step, {step['stack']} ({step['nodes']} nodes): median {median_ms:.1f} ms "
              f"({step['step_median_cpu_s'] * 1e3:.1f} ms CPU) over {step['steps_timed']} steps (first step "
              f"{step['first_step_s'] * 1e3:.0f} ms, model build {step['build_s']:.2f} s)."]
    line = f"Block model, {block['chip']}: one 1 ms step {block['builtin_step_s'] * 1e6:.0f} us"
    if block.get("hotspot_process_epoch_s") is not None:
        line += (f"; one process per epoch (HotSniper's way): hotspot {block['hotspot_process_epoch_s'] * 1e3:.0f} ms, "
                 f"ailfm-hotspot {block['ailfm_hotspot_process_epoch_s'] * 1e3:.0f} ms")
    lines.append(line + ".")
    if load is not None:
        lines.append(f"HotSpot itself on {load['case']} during this run: {load['wall_s']:.2f} s wall, "
                     f"{load['cpu_s']:.2f} s CPU (case.json: {load['case_json_wall_s']:.2f} s), so the machine's load "
                     f"stretched wall times about {load['wall_s'] / load['case_json_wall_s']:.1f}x.")
    if step.get("hotspot_backend_epoch_s") is not None:
        lines.append(f"The same epoch through the HotSpot backend (one hotspot process): "
                     f"{step['hotspot_backend_epoch_s']:.2f} s.")
    return "\n".join(lines)


def main() -> int:
    if not REFERENCE.is_dir():
        print(f"reference data {REFERENCE} is absent: only the step benchmark runs", file=sys.stderr)
    load_before = os.getloadavg()
    rows = bench_reference_cases(_console_script()) if REFERENCE.is_dir() else []
    with tempfile.TemporaryDirectory(prefix="ailfm-bench-stack-") as tmp:
        step = bench_step(Path(tmp))
    with tempfile.TemporaryDirectory(prefix="ailfm-bench-block-") as tmp:
        block = bench_block_epoch(Path(tmp))
    load = hotspot_now()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "command": "python bench/thermal_speed.py", "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "python": platform.python_version(), "load_average_before_after": [load_before[0], os.getloadavg()[0]],
        "hotspot_now": load, "reference_cases": rows, "step_1ms": step, "block_epoch_1ms": block}, indent=1) + "\n")
    print(markdown(rows, step, load, block))
    return 0


if __name__ == "__main__":
    sys.exit(main())
