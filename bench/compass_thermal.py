"""Thermal-aware mapping: the thermal-blind GA's best mapping re-evaluated with DTM throttling vs the thermal-aware GA.

Per scenario (model x serving strategy, Azure conversation lengths) on a hot package preset:

1. the thermal-blind GA (EDP of the evaluator) from the fixed baselines; its best mapping is re-scored on the
   package thermal model with DTM (mapping/thermal.py): peak chiplet temperature, time with the hottest chiplet
   above T_max, latency / energy / EDP after throttling;
2. the thermal-aware GA (EDP after throttling), same seeds, budget and seed mappings;
3. the thermal-aware GA with the constraint peak <= T_max (``--max-peak-C`` of ``ailfm map search``).

Then, for the blind GA's best mapping of every scenario, the clock of every chiplet is scaled (power density grows
with it: the same energy per operation in less time) to show the power density at which heat starts to bind.

Each finished scenario is appended to ``thermal_partial_*.csv`` (atomically); rerunning the same command skips it.
Writes thermal.csv, density.csv, thermal.md (the same files for the same seed) and timing.csv (wall seconds):

    python bench/compass_thermal.py --out out/compass_thermal [--hardware hot-36] [--pop 96 --gen 80]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from compass_scenarios import write_results

from ailfm.files import write_atomic
from ailfm.mapping.evaluator import Evaluator
from ailfm.mapping.hardware import Hardware, load_hardware
from ailfm.mapping.models import load_model
from ailfm.mapping.package import chiplet_areas_mm2
from ailfm.mapping.search.baselines import baseline_mappings
from ailfm.mapping.search.ga import SearchSettings, run_search
from ailfm.mapping.thermal import KELVIN, ThermalEvaluator, thermal_evaluator
from ailfm.mapping.workload import load_lengths, make_workload

MODELS = ("llama-3-8b", "gpt-3-6.7b")
STRATEGIES = ("chunked", "vllm", "orca")
CLOCK_SCALES = (0.5, 1.0, 1.5, 2.0, 3.0)


def scored(thermal: ThermalEvaluator, genome: np.ndarray, prefix: str) -> dict:
    ev = thermal.evaluate(genome[None, :])
    return {f"{prefix}_blind_edp": ev.blind.edp[0], f"{prefix}_edp": ev.edp[0], f"{prefix}_latency_s": ev.latency_s[0],
            f"{prefix}_energy_J": ev.energy_J[0], f"{prefix}_peak_C": ev.peak_K[0] - KELVIN,
            f"{prefix}_above_ms": 1e3 * ev.above_s[0], f"{prefix}_throttled_ms": 1e3 * ev.throttled_s[0]}


def run_scenario(model: str, serving: str, hardware: Hardware, pop: int, gen: int, seed: int) -> tuple[dict, list]:
    t0 = time.perf_counter()
    wl = make_workload(load_model(model), serving, load_lengths("azure-conv"), seed=seed, beyond_context=True)
    ev = Evaluator(wl, hardware)
    thermal = thermal_evaluator(ev)
    seeds = np.stack([ev.encoding.encode(m) for m in baseline_mappings(ev).values()])
    settings = SearchSettings(pop_size=pop, n_gen=gen, seed=seed)
    blind = run_search(ev, settings, seeds=seeds)
    aware = run_search(thermal, settings, seeds=seeds)
    capped = run_search(thermal, replace(settings, max_peak_K=thermal.dtm.t_max_K), seeds=seeds)
    row = {"model": model, "serving": serving, "hardware": hardware.name, "evaluations": blind.evaluations,
           "t_max_C": thermal.dtm.t_max_K - KELVIN, **scored(thermal, blind.best_genome, "blind_ga"),
           **scored(thermal, aware.best_genome, "aware_ga"), **scored(thermal, capped.best_genome, "capped_ga"),
           "seconds": time.perf_counter() - t0}
    density = [{"model": model, "serving": serving, **point}
               for point in density_sweep(wl, hardware, blind.best_genome)]
    print(f"{model:10s} {serving:8s} blind GA: peak {row['blind_ga_peak_C']:.1f} C, throttled EDP "
          f"{row['blind_ga_edp'] / row['blind_ga_blind_edp'] - 1:+.1%} vs its blind EDP; aware GA EDP "
          f"{row['aware_ga_edp'] / row['blind_ga_edp'] - 1:+.1%}, peak {row['aware_ga_peak_C']:.1f} C "
          f"({row['seconds']:.0f} s)", flush=True)
    return row, density


def density_sweep(workload, hardware: Hardware, genome: np.ndarray) -> list[dict]:
    """The mapping on the hardware with every chiplet's clock scaled: mean and hottest chiplet power density,
    peak temperature, EDP after throttling vs thermal-blind."""
    points = []
    for scale in CLOCK_SCALES:
        types = tuple(replace(t, frequency_GHz=t.frequency_GHz * scale) for t in hardware.types)
        hw = hardware.with_types(types, hardware.chiplet_type, name=f"{hardware.name} x{scale:g} clock")
        thermal = thermal_evaluator(Evaluator(workload, hw))
        power = thermal.mean_power_W(genome[None, :])[0, :hw.n_chiplets]
        density = power / chiplet_areas_mm2(hw)
        ev = thermal.evaluate(genome[None, :])
        points.append({"clock_scale": scale, "mean_W_per_mm2": float(density.mean()),
                       "max_W_per_mm2": float(density.max()), "package_W": float(power.sum()),
                       "peak_C": float(ev.peak_K[0] - KELVIN), "above_ms": float(1e3 * ev.above_s[0]),
                       "throttled_vs_blind_edp": float(ev.edp[0] / ev.blind.edp[0] - 1)})
    return points


def markdown(table: pd.DataFrame, density: pd.DataFrame) -> str:
    def pct(a, b):
        return f"{a / b - 1:+.1%}"
    lines = ["| model | serving | blind GA: peak (C) | above T_max (ms) | EDP blind (J s) | EDP after throttling | "
             "aware GA: peak (C) | above T_max (ms) | EDP after throttling | aware vs blind GA | capped GA: peak (C) "
             "| EDP after throttling | capped vs blind GA |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        lines.append(f"| {r.model} | {r.serving} | {r.blind_ga_peak_C:.1f} | {r.blind_ga_above_ms:.2f} | "
                     f"{r.blind_ga_blind_edp:.4g} | {r.blind_ga_edp:.4g} ({pct(r.blind_ga_edp, r.blind_ga_blind_edp)})"
                     f" | {r.aware_ga_peak_C:.1f} | {r.aware_ga_above_ms:.2f} | {r.aware_ga_edp:.4g} | "
                     f"{pct(r.aware_ga_edp, r.blind_ga_edp)} | {r.capped_ga_peak_C:.1f} | {r.capped_ga_edp:.4g} | "
                     f"{pct(r.capped_ga_edp, r.blind_ga_edp)} |")
    geo = float(np.exp(np.mean(np.log(table.aware_ga_edp / table.blind_ga_edp))))
    lines += ["", f"T_max {table.t_max_C.iloc[0]:.0f} C; {int(table.evaluations.iloc[0])} evaluations per GA (the "
              f"same seeds and seed mappings); thermal-aware vs thermal-blind GA, EDP after throttling: "
              f"{geo - 1:+.1%} on geometric mean, lower in {int((table.aware_ga_edp < table.blind_ga_edp).sum())}/"
              f"{len(table)} scenarios.", "",
              "Power density at which heat binds (the blind GA's best mappings with every chiplet's clock scaled; "
              "means over the scenarios):", "",
              "| clock x | mean chiplet W/mm^2 | hottest chiplet W/mm^2 | package W | peak (C) | above T_max (ms) | "
              "EDP after throttling vs blind |", "|---|---|---|---|---|---|---|"]
    for scale, group in density.groupby("clock_scale"):
        lines.append(f"| {scale:g} | {group.mean_W_per_mm2.mean():.3f} | {group.max_W_per_mm2.mean():.3f} | "
                     f"{group.package_W.mean():.1f} | {group.peak_C.mean():.1f} | {group.above_ms.mean():.2f} | "
                     f"{group.throttled_vs_blind_edp.mean():+.1%} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/compass_thermal")
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--serving", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--hardware", default="hot-36")
    parser.add_argument("--pop", type=int, default=96)
    parser.add_argument("--gen", type=int, default=80)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    hardware = load_hardware(args.hardware)
    cases = list(itertools.product(args.models, args.serving))
    stem = f"{Path(args.hardware).stem}_p{args.pop}_g{args.gen}_s{args.seed}"
    done_path, density_path = out / f"thermal_partial_{stem}.csv", out / f"density_partial_{stem}.csv"
    rows = pd.read_csv(done_path).to_dict("records") if done_path.exists() else []
    points = pd.read_csv(density_path).to_dict("records") if density_path.exists() else []
    finished = {(r["model"], r["serving"]) for r in rows}
    for model, serving in cases:
        if (model, serving) in finished:
            continue
        row, density = run_scenario(model, serving, hardware, args.pop, args.gen, args.seed)
        rows.append(row)
        points += density
        write_atomic(density_path, pd.DataFrame(points).to_csv(index=False).encode())
        write_atomic(done_path, pd.DataFrame(rows).to_csv(index=False).encode())
    order = {case: i for i, case in enumerate(cases)}
    table = pd.DataFrame(rows)
    table = table.iloc[np.argsort([order[c] for c in zip(table.model, table.serving, strict=True)])]
    density = pd.DataFrame(points)
    write_results(out, "thermal", table, ["model", "serving"])
    write_atomic(out / "density.csv", density.to_csv(index=False).encode())
    text = markdown(table, density)
    write_atomic(out / "thermal.md", (text + "\n").encode())
    print(text)
    print(f"wrote {out}/thermal.csv, density.csv, thermal.md and timing.csv (wall seconds per scenario)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
