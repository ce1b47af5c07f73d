"""Grid model vs HotSpot 7.0 on the reference cases, whole traces, with wall times; and the 64-core step time.

For every grid case of ../shared/reference/hotspot (HotSpot's exact flags from case.json): the steady state
(every node of out.steady, every cell of out.grid.steady) and each full transient (every sample of its
.ttrace), with our wall and CPU time against HotSpot's wall time in case.json. Our time covers building
the circuit from the parsed inputs, the step-matrix set-up and the solves (not Python start-up or file
parsing, which HotSpot's figure includes). Then the time of one 1 ms ``step`` of the built-in model for
the default 64-core stack (4 tile layers + 4 TIMs, the snuca-64 system's) at 64x64 cells. Skips
(exit 0) when ../shared is absent.

    python bench/thermal_grid_parity.py [--order 8] [--reference-order 8] [--repeat 5] [--steady-only]

Steady states are timed ``--repeat`` times (the machine is shared: the minimum wall and the minimum CPU time
are printed); they use the solver's default steady path (cosine-transform preconditioned CG on the grid).
``--reference-order`` also runs the transients with a more accurate exponential (order 8, uniform error
1.2e-4) and prints how far the default order is from it: the solver's own error, free of HotSpot's RK4.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ailfm.plugins.epoch.chip_thermal import chip_stack
from ailfm.plugins.system.description import load_system
from ailfm.thermal.floorplan_gen import write_stack
from ailfm.thermal.formats import HotSpotConfig, read_grid_steady, read_lcf, read_ptrace, read_steady, read_ttrace
from ailfm.thermal.grid import build_grid_circuit
from ailfm.thermal.hotspot_cli import parse_command_line, read_model_inputs, resolve_config
from ailfm.thermal.model import CircuitThermalModel, build_thermal_model
from ailfm.thermal.solvers.sparse import DEFAULT_ORDER, SparseSolver

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "hotspot"
GRID_CASES = ("ev6_grid", "example3_two_layers", "snuca_2x4x4")


class _Clock:
    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def _inputs(case_dir: Path, flags: dict[str, str]):
    config, materials = resolve_config(flags, cwd=case_dir)
    floorplan, layers = read_model_inputs(config, materials, cwd=case_dir)
    config = config.with_flags({"init_file": str(case_dir / config.init_file)}) if config.init_file else config
    return config, materials, floorplan, layers


def steady_case(case_dir: Path, flags: dict[str, str], hotspot_s: float, repeat: int) -> None:
    config, materials, floorplan, layers = _inputs(case_dir, flags)
    trace = read_ptrace(case_dir / flags["p"])
    walls, cpus = [], []
    for _ in range(repeat):
        with _Clock() as clock:
            circuit = build_grid_circuit(config, floorplan=floorplan, layers=layers, materials=materials)
            power = trace.reordered(circuit.power_names).power_W.mean(axis=0)
            theta = SparseSolver(circuit.network).steady(circuit.network.power_to_node @ power)
        walls.append(clock.wall)
        cpus.append(clock.cpu)
    wall, cpu = min(walls), min(cpus)
    expected = read_steady(case_dir / flags["steady_file"])
    got = circuit.named_nodes(theta) + config.ambient
    if list(expected) != list(circuit.node_names):
        raise SystemExit(f"{case_dir.name}: node names differ from HotSpot's")
    node_error = np.abs(got - np.array(list(expected.values()))).max()
    maps = read_grid_steady(case_dir / flags["grid_steady_file"])
    ours = list(circuit.grid_maps(theta).values())
    grid_error = max(np.abs(m.reshape(o.shape) - o - config.ambient).max() for m, o in zip(maps, ours, strict=True))
    print(f"{case_dir.name:22s} steady      {circuit.network.n_nodes:6d} nodes  max |err| nodes {node_error:.3f} K, "
          f"grid cells {grid_error:.3f} K   ours {wall:6.3f} s wall {cpu:6.3f} s cpu (min of {repeat})   "
          f"HotSpot {hotspot_s:7.2f} s   speed-up {hotspot_s / wall:6.1f}x wall, {hotspot_s / cpu:6.1f}x cpu")


def transient_case(case_dir: Path, flags: dict[str, str], hotspot_s: float, order: int,
                   reference_order: int | None) -> None:
    config, materials, floorplan, layers = _inputs(case_dir, flags)
    trace = read_ptrace(case_dir / flags["p"])
    expected = read_ttrace(case_dir / flags["o"])

    def run(solver_order: int) -> tuple[np.ndarray, _Clock, CircuitThermalModel]:
        with _Clock() as clock:
            model = build_thermal_model(config, floorplan=floorplan, layers=layers, materials=materials,
                                        solver="sparse")
            model.solver = SparseSolver(model.circuit.network, order=solver_order)
            temperatures = model.run(trace.reordered(model.power_names).power_W, config.sampling_intvl)
        index = [model.output_names.index(name) for name in expected.names]
        return temperatures[:, index], clock, model

    temperatures, clock, model = run(order)
    error = np.abs(temperatures - expected.temperatures_K)
    line = (f"{case_dir.name:22s} {flags['o']:22s} {len(temperatures):4d} samples  max |err| {error.max():.3f} K "
            f"(mean {error.mean():.4f})   ours {clock.wall:6.2f} s wall {clock.cpu:6.2f} s cpu   "
            f"HotSpot {hotspot_s:7.2f} s   speed-up {hotspot_s / clock.wall:6.1f}x")
    if reference_order is not None:
        fine, _, _ = run(reference_order)
        line += f"   vs order {reference_order}: {np.abs(temperatures - fine).max():.3f} K"
    print(line, flush=True)


def many_core_step(order: int) -> None:
    """One 1 ms step of the default 64-core, 4-tile-layer stack at 64x64 cells (the co-simulator's epoch)."""
    config_flags = {"model_type": "grid", "grid_rows": "64", "grid_cols": "64", "init_temp": "318.15"}
    with tempfile.TemporaryDirectory() as tmp:
        lcf = write_stack(chip_stack(load_system()), tmp)
        config = HotSpotConfig().with_flags(config_flags)
        layers = read_lcf(lcf)
        with _Clock() as build:
            model = build_thermal_model(config, layers=layers, solver="sparse")
            model.solver = SparseSolver(model.circuit.network, order=order)
        rng = np.random.default_rng(0)
        power = rng.uniform(0.1, 3.0, size=(21, len(model.power_names)))
        with _Clock() as first:
            model.step(power[0], 1e-3)
        with _Clock() as steps:
            for row in power[1:]:
                model.step(row, 1e-3)
    n = len(power) - 1
    print(f"64-core stack, {len(layers)} LCF layers, 64x64 cells, {model.circuit.network.n_nodes} nodes: build "
          f"{build.wall:.2f} s, first 1 ms step (step-matrix set-up) {first.wall:.2f} s, then one 1 ms step "
          f"{1e3 * steps.wall / n:.1f} ms wall ({1e3 * steps.cpu / n:.1f} ms cpu), mean of {n}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--order", type=int, default=DEFAULT_ORDER, help="solves per interval of the transient")
    parser.add_argument("--reference-order", type=int, default=None, help="also compare with this order")
    parser.add_argument("--repeat", type=int, default=5, help="timings of each steady state (the minimum is shown)")
    parser.add_argument("--steady-only", action="store_true", help="only the steady states")
    args = parser.parse_args(argv)
    if not REFERENCE.exists():
        print(f"skip: {REFERENCE} is absent")
        return 0
    for case in GRID_CASES:
        case_dir = REFERENCE / case
        spec = json.loads((case_dir / "case.json").read_text())
        walls = spec["wall_seconds"]
        for command in spec["commands"]:
            flags = parse_command_line(command[1:])
            if "o" not in flags:
                steady_case(case_dir, flags, walls["steady"], args.repeat)
            elif not args.steady_only:
                key = "transient_from_steady" if "init_file" in flags else "transient_from_ambient"
                transient_case(case_dir, flags, walls[key], args.order, args.reference_order)
    if not args.steady_only:
        many_core_step(args.order)
    return 0


if __name__ == "__main__":
    sys.exit(main())
