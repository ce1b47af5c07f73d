"""Co-simulator speed and fast-thermal-model accuracy on the default scenario.

1. Speed: the default scenario of ``ailfm compare`` / ``make run`` (snuca-64, llama-2-7b, 3 instances x 16 threads,
   3 requests of 16 prompt + 4 output tokens, governor ``performance`` with DTM at every thermal sub-step), fast
   thermal model, one thread (BLAS limited to one thread; numba's compile time excluded by a warm-up run, and the
   summary's figure starts after the first epoch anyway). Goal: >= 100x faster than real time. ``--substeps``
   overrides the system's sub-steps per epoch (1 = DTM once per epoch) to show what the sub-steps cost. Also
   reported: the floor of any bit-identical sub-step, the three BLAS matrix-vector products it must make (modal
   forcing, core temperatures, router flits), timed on their own with the chip's matrices.
2. Accuracy: the per-epoch power maps of that run are replayed open-loop through the fast (reduced-order) model and
   the exact grid model of the same stack (32 x 32 cells per layer); the worst core-temperature difference over all
   cores and epochs is reported. Target: within 1 K.

Run: ``python bench/cosim_speed.py`` (add ``--grid-cells N`` to change the reference grid).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

from ailfm.plugins.epoch.chip_thermal import ChipThermal, ThermalTwin, build_thermal  # noqa: E402
from ailfm.plugins.epoch.cosim import CoSimulation  # noqa: E402
from ailfm.plugins.governors.registry import make_governor  # noqa: E402
from ailfm.plugins.run.config import RunConfig  # noqa: E402
from ailfm.plugins.run.runner import load_workload  # noqa: E402
from ailfm.plugins.system.description import load_system  # noqa: E402


@njit(cache=True)
def _products(repeats, core_gain, core_output, router_flits_per_access, core_W, modes, core_llc, forced, rise, flits):
    for _ in range(repeats):
        np.dot(core_gain, core_W, forced)
        np.dot(core_output, modes, rise)
        np.dot(router_flits_per_access, core_llc, flits)


def blas_floor_us(sim: CoSimulation, repeats: int = 20000) -> float:
    """CPU microseconds of the three matrix-vector products of one sub-step (the epoch model's ``np.dot`` calls)."""
    system = sim.system
    twin = ThermalTwin.of(system, sim.thermal, system.thermal.epoch_s / sim.substeps)
    router = sim.engine.tables.router_flits_per_access
    rng = np.random.default_rng(0)
    order, n_cores = twin.core_gain.shape
    arrays = (twin.core_gain, twin.core_output, router, rng.random(n_cores), rng.random(order), rng.random(n_cores),
              np.empty(order), np.empty(n_cores), np.empty(n_cores))
    _products(10, *arrays)
    start = time.process_time()
    _products(repeats, *arrays)
    return 1e6 * (time.process_time() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid-cells", type=int, default=None, help="cells per side of the reference grid model")
    parser.add_argument("--governor", default="performance")
    parser.add_argument("--substeps", type=int, default=None, help="thermal sub-steps per epoch (default: system's)")
    args = parser.parse_args()

    config = RunConfig(governor=args.governor)
    system = load_system(config.system)
    workload = load_workload(config)
    start = time.perf_counter()
    fast = build_thermal(system, "fast", cells=args.grid_cells)
    build_fast_s = time.perf_counter() - start
    sim = CoSimulation.for_workload(system, workload, fast, make_governor(config.governor), substeps=args.substeps)
    sim.run(0.05)  # warm-up: numba compiles the kernels (cached on disk afterwards)
    cpu_start = time.process_time()
    result = sim.run(config.duration_s)
    cpu_s = time.process_time() - cpu_start
    summary = result.summary
    simulated_s = float(result.epochs["time_s"].iloc[-1])
    print(f"scenario: {config}")
    print(f"fast model: order {fast.order}, built (or loaded from its cache) in {build_fast_s:.1f} s; "
          f"{sim.substeps} thermal sub-steps per epoch")
    print(f"simulated {result.epochs['time_s'].iloc[-1]:.3f} s in {len(result.epochs)} epochs, "
          f"makespan {summary['makespan_s']:.3f} s, {summary['tokens_per_s']:.2f} tokens/s, "
          f"peak {summary['peak_temp_c']:.1f} C, DTM events {summary['dtm_events']}")
    print(f"speed: {summary['sim_speed_x_realtime']:.2f}x real time by wall clock "
          f"({1e6 / summary['sim_speed_x_realtime'] * system.thermal.epoch_s:.0f} us per 1 ms epoch), "
          f"{simulated_s / cpu_s:.2f}x by the process's CPU time ({1e6 * cpu_s / len(result.epochs):.0f} us per "
          f"epoch); goal >= 100x. Load average now: {', '.join(f'{v:.1f}' for v in os.getloadavg())} "
          f"on {os.cpu_count()} CPUs")
    floor_us = blas_floor_us(sim)
    print(f"floor of a bit-identical sub-step: its three BLAS matrix-vector products take {floor_us:.2f} us, "
          f"{floor_us * sim.substeps:.0f} us per epoch of {sim.substeps} sub-steps "
          f"(at most {system.thermal.epoch_s / (floor_us * sim.substeps * 1e-6):.0f}x real time)")

    start = time.perf_counter()
    grid = build_thermal(system, "grid", cells=args.grid_cells)
    build_grid_s = time.perf_counter() - start
    chip = ChipThermal.of(system, grid)
    core_W = result.per_core["power_W"]
    bank_W = result.epochs["uncore_power_W"].to_numpy() / system.n_banks
    fast.reset(system.thermal.ambient_K)
    grid.reset(system.thermal.ambient_K)
    rows = [chip.power_vector(core_W[e], np.full(system.n_banks, bank_W[e]), np.zeros(system.n_cores))
            for e in range(len(core_W))]
    worst, worst_epoch, grid_s = 0.0, 0, 0.0
    for epoch, power in enumerate(rows):
        t_fast = fast.step(power, system.thermal.epoch_s)[chip.core_output]
        t0 = time.perf_counter()
        t_grid = grid.step(power, system.thermal.epoch_s)[chip.core_output]
        grid_s += time.perf_counter() - t0
        error = float(np.abs(t_fast - t_grid).max())
        if error > worst:
            worst, worst_epoch = error, epoch
    fast.reset(system.thermal.ambient_K)
    t0 = time.perf_counter()
    for power in rows:  # timed on its own: interleaved with the grid model's solves it would share their caches
        fast.step(power, system.thermal.epoch_s)
    fast_s = time.perf_counter() - t0
    n = len(core_W)
    print(f"grid model: {grid.circuit.network.n_nodes} nodes, built in {build_grid_s:.1f} s")
    print(f"thermal step (all block temperatures, input checks included): fast {1e6 * fast_s / n:.0f} us, "
          f"grid {1e6 * grid_s / n:.0f} us per epoch")
    print(f"fast vs grid: worst core-temperature difference {worst:.3f} K (epoch {worst_epoch} of {n}; target <= 1 K)")


if __name__ == "__main__":
    main()
