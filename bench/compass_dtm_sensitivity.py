"""How the thermal evaluation's two numerical choices move its result: the DTM period and the warm start's rounds.

Both are constants of ``mapping/thermal.py`` (``DtmSettings.dtm_period_s``, ``WARM_START_ROUNDS``); this script
measures what their values do, on random mappings of ``bench/compass_speed.py``'s scenario (its ``scenario``:
Llama-3-8B, Orca, one iteration, 8 micro-batches; one BLAS thread):

1. DTM period: 60 random mappings on he-36 with every chiplet's clock at 4x (he-36 itself never throttles), periods
   of 50 us to 1 ms: the mean throttled / thermal-blind latency ratio, the median peak and the mean time above T_max.
2. Warm start: 120 random mappings on hot-36, the same ratio after 1 (the unthrottled average power) to 12 rounds.

    python bench/compass_dtm_sensitivity.py
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
from compass_speed import scenario

import ailfm.mapping.thermal as thermal
from ailfm.mapping.hardware import load_hardware
from ailfm.mapping.search.operators import random_genomes

PERIODS_US = (50, 100, 250, 500, 1000)
ROUNDS = (1, 2, 4, 6, 8, 12)


def summary(result) -> tuple[float, float, float]:
    ratio = result.latency_s / result.blind.latency_s
    return float(ratio.mean()), float(np.median(result.peak_K) - 273.15), float(1e3 * result.above_s.mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clock-scale", type=float, default=4.0, help="he-36's clock factor for the period sweep")
    args = parser.parse_args()

    he = load_hardware("he-36")
    fast = replace(he, types=tuple(replace(t, frequency_GHz=t.frequency_GHz * args.clock_scale) for t in he.types))
    blind = scenario(hardware=fast)
    genomes = random_genomes(blind.encoding, 60, np.random.default_rng(0))
    base = thermal.dtm_settings(fast)
    print(f"DTM period: 60 random mappings, he-36 at {args.clock_scale:g}x clock, T_max {base.t_max_K - 273.15:.0f} C")
    print("| period (us) | throttled / blind latency | median peak (C) | mean time above T_max (ms) |")
    print("|---:|---:|---:|---:|")
    for period in PERIODS_US:
        ev = thermal.ThermalEvaluator(blind, replace(base, dtm_period_s=period * 1e-6))
        ratio, peak, above = summary(ev.evaluate(genomes))
        print(f"| {period} | {ratio:.4f} | {peak:.2f} | {above:.3f} |")

    hot = scenario(hardware="hot-36")
    genomes = random_genomes(hot.encoding, 120, np.random.default_rng(0))
    ev = thermal.thermal_evaluator(hot)
    print("\nWarm start: 120 random mappings, hot-36 (round 1: the thermal-blind average power)")
    print("| rounds | throttled / blind latency | median peak (C) | mean time above T_max (ms) |")
    print("|---:|---:|---:|---:|")
    shipped = thermal.WARM_START_ROUNDS
    try:
        for rounds in ROUNDS:
            thermal.WARM_START_ROUNDS = rounds
            ratio, peak, above = summary(ev.evaluate(genomes))
            print(f"| {rounds} | {ratio:.4f} | {peak:.2f} | {above:.3f} |")
    finally:
        thermal.WARM_START_ROUNDS = shipped
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
