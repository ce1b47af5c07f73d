"""Speed of the Compass evaluation engine and GA.

1. Mapping evaluations per second per core: one Llama-3-8B block on the 36-chiplet 18 OS + 18 WS preset with
   8 micro-batches (the Orca-style mixed iteration: one prefill + 31 decodes from the Azure conversation
   sample), populations of 120 and 480 evaluated in-process. Reported per CPU second (process time, what one
   core delivers) and per wall second (includes waiting for a shared machine), thermal-blind and with the
   thermal evaluation on (mapping/thermal.py: the package model of the preset, power over the schedule, DTM
   re-schedule; ``--hot`` adds the same on a hot preset, where mappings throttle).
2. A 120 x 200 GA search on the same scenario, evaluations spread over a 2-process pool.
3. With ``--zigzag CACHE``: the time to build the same evaluator on ZigZag costs (``--cost zigzag``): the cache warm-up
   for every distinct (GEMM shape, chiplet type) on a 2-process pool, then the same build from the warm cache.
   Evaluation speed does not depend on the cost backend (costs are tabulated once per evaluator).

    python bench/compass_speed.py [--quick] [--zigzag out/zigzag_cache]
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
from concurrent.futures import ProcessPoolExecutor

# one core means one BLAS thread: otherwise process time counts a second thread's work (or spinning) as this core's
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from ailfm.mapping.cost import GemmCostModel, gemm_cost  # noqa: E402
from ailfm.mapping.evaluator import Evaluator  # noqa: E402
from ailfm.mapping.hardware import Hardware, load_hardware  # noqa: E402
from ailfm.mapping.models import load_model  # noqa: E402
from ailfm.mapping.search.ga import SearchSettings, run_search  # noqa: E402
from ailfm.mapping.search.operators import random_genomes  # noqa: E402
from ailfm.mapping.thermal import thermal_evaluator  # noqa: E402
from ailfm.mapping.workload import ServingWorkload, load_lengths, make_workload  # noqa: E402


def scenario(cost_model: GemmCostModel = gemm_cost, hardware: str | Hardware = "he-36") -> Evaluator:
    """One Llama-3-8B block, Orca, the first iteration, 8 micro-batches, on ``hardware`` (a preset, file or
    description)."""
    hardware = load_hardware(hardware) if isinstance(hardware, str) else hardware
    full = make_workload(load_model("llama-3-8b"), "orca", load_lengths("azure-conv"), seed=0)
    one = ServingWorkload(full.model, full.iterations[:1], n_micro_batches=8, tensor_parallel=8, n_blocks=1,
                          strategy="orca", lengths="azure-conv")
    return Evaluator(one, hardware, cost_model=cost_model)


def zigzag_warm_up(folder: str) -> None:
    """Evaluator build time on ZigZag costs: cold (the runs this call makes) and warm (all cached)."""
    from ailfm.mapping.zigzag_backend import ZigZagCache, ZigZagCostModel

    hw = load_hardware("he-36")
    for label in ("cold", "warm"):
        cache = ZigZagCache(folder, workers=2, progress=False)
        wall = time.perf_counter()
        scenario(ZigZagCostModel(cache, hw.nop_link_GBps / hw.types[0].frequency_GHz, 8 * hw.dram_pJ_per_bit))
        print(f"ZigZag-backed evaluator ({label} cache {folder}): {time.perf_counter() - wall:.1f} s wall, "
              f"{cache.runs} ZigZag runs ({cache.warm_seconds:.1f} s warming on a 2-process pool)")


def evaluation_rate(ev, pop: int, repeats: int) -> tuple[float, float]:
    genomes = random_genomes(ev.encoding, pop, np.random.default_rng(0))
    ev.evaluate(genomes)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(repeats):
        ev.evaluate(genomes)
    return pop * repeats / (time.process_time() - cpu), pop * repeats / (time.perf_counter() - wall)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small GA (10 generations) for a smoke run")
    parser.add_argument("--hot", default=None, metavar="PRESET",
                        help="also time the thermal evaluation on this hot hardware preset")
    parser.add_argument("--zigzag", metavar="CACHE", default=None,
                        help="also time the ZigZag-backed evaluator's cache warm-up (needs zigzag-dse)")
    args = parser.parse_args()
    ev = scenario()
    print(f"scenario: llama-3-8b block, he-36, {ev.encoding.n_micro_batches} micro-batches, "
          f"{ev.encoding.n_layers} mapping layers, {ev.encoding.n_genes} genes; "
          f"evaluator pickle {len(pickle.dumps(ev)) / 1e3:.0f} kB")
    for pop in (120, 480):
        per_cpu_s, per_wall_s = evaluation_rate(ev, pop, 10)
        print(f"population {pop}: {per_cpu_s:,.0f} evaluations per CPU second (one core), "
              f"{per_wall_s:,.0f} per wall second")
    for name, blind in (("he-36", ev), *(((args.hot, scenario(hardware=args.hot)),) if args.hot else ())):
        thermal = thermal_evaluator(blind)
        for pop in (120, 480):
            per_cpu_s, per_wall_s = evaluation_rate(thermal, pop, 5)
            throttled = thermal.evaluate(random_genomes(blind.encoding, pop, np.random.default_rng(0))).throttled_s
            print(f"thermal on ({name}, T_max {thermal.dtm.t_max_K - 273.15:.0f} C), population {pop}: "
                  f"{per_cpu_s:,.0f} evaluations per CPU second (one core), {per_wall_s:,.0f} per wall second; "
                  f"{np.mean(throttled > 0):.0%} of the random mappings throttle")
    n_gen = 10 if args.quick else 200
    wall, cpu = time.perf_counter(), time.process_time()
    with ProcessPoolExecutor(2) as pool:
        result = run_search(ev, SearchSettings(pop_size=120, n_gen=n_gen, seed=0), executor=pool, n_chunks=2)
    print(f"GA 120 x {n_gen} on a 2-process pool: {time.perf_counter() - wall:.1f} s wall, "
          f"{result.evaluations} evaluations, best EDP {result.best_edp:.4g} J s "
          f"(parent process CPU {time.process_time() - cpu:.1f} s)")
    if args.zigzag:
        zigzag_warm_up(args.zigzag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
