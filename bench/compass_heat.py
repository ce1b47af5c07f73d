"""Where heat binds: the fixed baselines' steady package temperatures on a hardware preset, and the power density at
which the hottest of them reaches T_max.

For each scenario (2 models x 3 serving strategies, Azure conversation lengths, the scenario table's workload
settings) every fixed baseline mapping (search/baselines.py) is evaluated; its average power per chiplet is the
evaluator's on-chip energy per chiplet (``Details.energy_by_chiplet_J`` without the DRAM share of the mapping's
energy) over the scenario's latency, plus the idle power of the time a chiplet is not busy; with HBM the DRAM energy
heats the stacks (split evenly over the channels), with DDR it leaves the package. The steady state of that power,
with each chiplet's leakage at its own temperature (``mapping.package.steady_with_leakage``), gives the peak die
temperature a thermal-blind mapping would settle at; a mapping above T_max would be throttled. ``--scale`` finds, by
bisection, the factor on the dynamic power at which the hottest baseline of the scenario reaches T_max: the power
density at which heat starts to bind. This is an estimate from average power (no transient peaks):
bench/compass_thermal.py runs the full thermally-aware evaluation.

    python bench/compass_heat.py --hardware hot-36 [--scale] [--models llama-3-8b gpt-3-6.7b]

Prints a markdown table (docs/compass.md, "Package thermal model").
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ailfm.mapping.evaluator import Evaluator
from ailfm.mapping.hardware import Hardware, load_hardware
from ailfm.mapping.models import load_model
from ailfm.mapping.package import chiplet_areas_mm2, idle_W, steady_with_leakage
from ailfm.mapping.search.baselines import baseline_mappings
from ailfm.mapping.workload import load_lengths, make_workload

MODELS = ("llama-3-8b", "gpt-3-6.7b")
STRATEGIES = ("chunked", "vllm", "orca")


def average_power(hw: Hardware, ev: Evaluator, mapping) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """(latency s, chiplet dynamic W, chiplet idle W, DRAM block W) of a mapping, averaged over the scenario."""
    details = ev.details(mapping)
    latency = float(details.evaluation.latency_s[0])
    parts = details.energy_by_part_J
    on_chip = 1.0 - parts["dram"] / sum(parts.values())
    dynamic = details.energy_by_chiplet_J * on_chip / latency
    idle = idle_W(hw) * (1.0 - np.minimum(details.busy_by_chiplet_s / latency, 1.0))
    dram = np.full(hw.dram_channels, parts["dram"] / latency / hw.dram_channels if hw.package.memory == "hbm" else 0.0)
    return latency, dynamic, idle, dram


def peak_C(hw: Hardware, dynamic: np.ndarray, idle: np.ndarray, dram: np.ndarray, scale: float = 1.0) -> float:
    temperature, _ = steady_with_leakage(hw, scale * dynamic + idle, scale * dram)
    return float(temperature[: hw.n_chiplets].max() - 273.15)


def binding_scale(hw: Hardware, dynamic: np.ndarray, idle: np.ndarray, dram: np.ndarray) -> float:
    """The factor on dynamic power (chiplets and DRAM; idle power and leakage as they are) at which the peak die
    reaches T_max (bisection)."""
    t_max = hw.package.t_max_C
    low, high = 0.0, 1.0
    while peak_C(hw, dynamic, idle, dram, high) < t_max:
        low, high = high, 2 * high
    for _ in range(30):
        middle = (low + high) / 2
        low, high = (middle, high) if peak_C(hw, dynamic, idle, dram, middle) < t_max else (low, middle)
    return (low + high) / 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hardware", default="hot-36")
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--lengths", default="azure-conv")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", action="store_true", help="also find the power density at which heat binds")
    args = parser.parse_args(argv)
    hw = load_hardware(args.hardware)
    areas = chiplet_areas_mm2(hw)
    print(f"{hw.name}: T_max {hw.package.t_max_C:g} C, ambient {hw.package.ambient_C:g} C, r_convec "
          f"{hw.package.r_convec_K_per_W:g} K/W, chiplets {areas.min():.1f}-{areas.max():.1f} mm^2\n")
    header = "| model | serving | baseline | latency (ms) | package W | peak chiplet W/mm^2 | peak T (C) |"
    if args.scale:
        header += " binds at x dynamic | peak W/mm^2 there | package W there |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    summary = []
    for model in args.models:
        for serving in STRATEGIES:
            workload = make_workload(load_model(model), serving, load_lengths(args.lengths), seed=args.seed,
                                     beyond_context=True)
            ev = Evaluator(workload, hw)
            rows = []
            for name, mapping in baseline_mappings(ev).items():
                latency, dynamic, idle, dram = average_power(hw, ev, mapping)
                temperature, leak = steady_with_leakage(hw, dynamic + idle, dram)
                peak = float(temperature[: hw.n_chiplets].max() - 273.15)
                edp = float(ev.evaluate_mapping(mapping).edp[0])
                rows.append((name, edp, peak))
                total = float((dynamic + idle + leak).sum() + dram.sum())
                row = (f"| {model} | {serving} | {name} | {latency * 1e3:.2f} | {total:.1f} | "
                       f"{(dynamic / areas).max():.3f} | {peak:.1f} |")
                if args.scale:
                    scale = binding_scale(hw, dynamic, idle, dram)
                    temperature, leak = steady_with_leakage(hw, scale * dynamic + idle, scale * dram)
                    there = float((scale * dynamic + idle + leak).sum() + scale * dram.sum())
                    row += f" {scale:.2f} | {scale * (dynamic / areas).max():.3f} | {there:.0f} |"
                print(row, flush=True)
            best = min(rows, key=lambda r: r[1])
            above = [r[0] for r in rows if r[2] > hw.package.t_max_C]
            hottest = max(rows, key=lambda r: r[2])
            summary.append(f"| {model} | {serving} | {best[0]} | {best[2]:.1f} | {hottest[0]} | {hottest[2]:.1f} | "
                           f"{len(above)} of {len(rows)} |")
    print(f"\n| model | serving | lowest-EDP baseline | its peak T (C) | hottest baseline | its peak T (C) | "
          f"baselines above T_max ({hw.package.t_max_C:g} C) |\n|---|---|---|---:|---|---:|---:|")
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
