"""The Compass scenario table: GA vs fixed baselines, random search and simulated annealing at equal budgets.

Every scenario (model x serving strategy x length source) runs on the 18 OS + 18 WS preset (he-36): the five
fixed baselines (Gemini-like layer pipelining, pure pipeline, tensor parallel, data parallel, tensor+data
parallel), then the GA (pop x gen), then random search and simulated annealing with exactly the GA's number of
evaluations. All three searches start from the same seeds (the fixed baselines) and use the same engine. Two
diagnostic columns (not baselines) score the Gemini-like groupings with one chiplet per layer and the Gemini-like
groupings on the chiplets of one type only (a heterogeneity-aware variant Gemini itself does not have). Finished
scenarios are appended to ``scenarios_partial_*.csv``; rerunning the same command skips them.
Length sources are samples of the Azure LLM inference trace 2023 (CC-BY 4.0; Patel et al., "Splitwise",
ISCA 2024). Writes CSV and markdown (the same files for the same seed; wall seconds go to timing.csv):

    python bench/compass_scenarios.py --out out/compass_table [--workers 2] [--pop 120 --gen 200]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import pandas as pd

from ailfm.files import write_atomic
from ailfm.mapping.evaluator import Evaluator
from ailfm.mapping.hardware import load_hardware
from ailfm.mapping.models import load_model
from ailfm.mapping.search.annealing import random_search, simulated_annealing
from ailfm.mapping.search.baselines import baseline_mappings, diagnostic_mappings
from ailfm.mapping.search.ga import SearchSettings, run_search
from ailfm.mapping.workload import load_lengths, make_workload

MODELS = ("gpt-3-6.7b", "gpt-3-13b", "llama-3-8b")
STRATEGIES = ("chunked", "vllm", "orca")
LENGTHS = ("azure-conv", "azure-code")


def write_results(out: Path, name: str, table: pd.DataFrame, keys: list[str]) -> None:
    """``OUT/name.csv`` without the wall seconds, which go to ``OUT/timing.csv`` beside the ``keys`` columns: the
    same seed gives the same result files."""
    timing = [c for c in table.columns if c.startswith("seconds")]
    write_atomic(out / f"{name}.csv", table.drop(columns=timing).to_csv(index=False).encode())
    write_atomic(out / "timing.csv", table[[*keys, *timing]].to_csv(index=False).encode())


def run_scenario(model: str, serving: str, lengths: str, hardware: str, pop: int, gen: int, seed: int) -> dict:
    t0 = time.perf_counter()
    wl = make_workload(load_model(model), serving, load_lengths(lengths), seed=seed,
                       beyond_context=True)  # GPT-3: 2048 positions, Azure requests up to 7052 tokens, as in the paper
    ev = Evaluator(wl, load_hardware(hardware))
    fixed = baseline_mappings(ev)
    seeds = np.stack([ev.encoding.encode(m) for m in fixed.values()])
    fixed_edp = dict(zip(fixed, ev.evaluate(seeds).edp, strict=True))
    diagnostic = diagnostic_mappings(ev)
    diagnostic_edp = dict(zip(diagnostic, ev.evaluate(np.stack([ev.encoding.encode(m) for m in
                                                                 diagnostic.values()])).edp, strict=True))
    seconds = {}
    t = time.perf_counter()
    ga = run_search(ev, SearchSettings(pop_size=pop, n_gen=gen, seed=seed), seeds=seeds)
    seconds["ga"], t = time.perf_counter() - t, time.perf_counter()
    rs = random_search(ev, ga.evaluations, seed=seed, seeds=seeds)
    seconds["rs"], t = time.perf_counter() - t, time.perf_counter()
    sa = simulated_annealing(ev, ga.evaluations, seed=seed, seeds=seeds)
    seconds["sa"] = time.perf_counter() - t
    best_fixed = min(fixed_edp, key=fixed_edp.get)
    row = {"model": model, "serving": serving, "lengths": lengths, "evaluations": ga.evaluations,
           **{f"edp_{k}": v for k, v in fixed_edp.items()}, "best_fixed": best_fixed,
           "edp_best_fixed": fixed_edp[best_fixed], "edp_random_search": rs.best_edp,
           "edp_simulated_annealing": sa.best_edp, "edp_ga": ga.best_edp, "ga_latency_s": ga.best_latency_s,
           "ga_energy_J": ga.best_energy_J, **{f"edp_{k}": v for k, v in diagnostic_edp.items()},
           **{f"seconds_{k}": v for k, v in seconds.items()}, "seconds": time.perf_counter() - t0}
    print(f"{model:10s} {serving:8s} {lengths:11s} GA/best fixed {ga.best_edp / fixed_edp[best_fixed] - 1:+.1%} "
          f"GA/RS {ga.best_edp / rs.best_edp - 1:+.1%} GA/SA {ga.best_edp / sa.best_edp - 1:+.1%} "
          f"({row['seconds']:.0f} s)", flush=True)
    return row


def markdown(table: pd.DataFrame) -> str:
    def pct(a, b):
        return f"{a / b - 1:+.1%}"
    lines = ["| model | serving | lengths | best fixed baseline | EDP best fixed (J s) | EDP random search | "
             "EDP simulated annealing | EDP GA | GA vs best fixed | GA vs RS | GA vs SA | "
             "EDP Gemini-like on one type (diagnostic) | GA vs it |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        lines.append(f"| {r.model} | {r.serving} | {r.lengths} | {r.best_fixed} | {r.edp_best_fixed:.4g} | "
                     f"{r.edp_random_search:.4g} | {r.edp_simulated_annealing:.4g} | {r.edp_ga:.4g} | "
                     f"{pct(r.edp_ga, r.edp_best_fixed)} | {pct(r.edp_ga, r.edp_random_search)} | "
                     f"{pct(r.edp_ga, r.edp_simulated_annealing)} | {r.edp_gemini_one_type:.4g} | "
                     f"{pct(r.edp_ga, r.edp_gemini_one_type)} |")

    def geo(col):
        return float(np.exp(np.mean(np.log(table.edp_ga / table[col]))))
    lines.append(f"| **geometric mean** | | | | | | | | **{geo('edp_best_fixed') - 1:+.1%}** | "
                 f"**{geo('edp_random_search') - 1:+.1%}** | **{geo('edp_simulated_annealing') - 1:+.1%}** | | "
                 f"**{geo('edp_gemini_one_type') - 1:+.1%}** |")
    wins = {col: int((table.edp_ga < table[col]).sum())
            for col in ("edp_random_search", "edp_simulated_annealing", "edp_gemini_one_type")}
    lines.append("")
    lines.append(f"GA below random search in {wins['edp_random_search']}/{len(table)} scenarios and below simulated "
                 f"annealing in {wins['edp_simulated_annealing']}/{len(table)}; equal budgets of "
                 f"{int(table.evaluations.iloc[0])} evaluations (the GA's count), same seeds and engine.")
    lines.append(f"Diagnostics (not baselines): GA vs the best Gemini-like grouping on the chiplets of one type "
                 f"{geo('edp_gemini_one_type') - 1:+.1%} on geometric mean (below it in "
                 f"{wins['edp_gemini_one_type']}/{len(table)} scenarios); GA vs the best Gemini-like grouping with "
                 f"one chiplet per layer {geo('edp_one_chiplet_per_layer') - 1:+.1%}.")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/compass_table")
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--serving", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--lengths", nargs="+", default=list(LENGTHS))
    parser.add_argument("--hardware", default="he-36")
    parser.add_argument("--pop", type=int, default=120)
    parser.add_argument("--gen", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cases = list(itertools.product(args.models, args.serving, args.lengths))
    # one row per finished scenario: a rerun of the same command skips them
    done_path = out / f"scenarios_partial_{args.hardware}_p{args.pop}_g{args.gen}_s{args.seed}.csv"
    done = pd.read_csv(done_path) if done_path.exists() else pd.DataFrame()
    finished = set() if done.empty else set(zip(done.model, done.serving, done.lengths, strict=True))
    rows = done.to_dict("records")
    with ProcessPoolExecutor(args.workers) as pool:
        futures = [pool.submit(run_scenario, m, s, ln, args.hardware, args.pop, args.gen, args.seed)
                   for m, s, ln in cases if (m, s, ln) not in finished]
        for future in as_completed(futures):
            rows.append(future.result())
            write_atomic(done_path, pd.DataFrame(rows).to_csv(index=False).encode())
    order = {case: i for i, case in enumerate(cases)}
    table = pd.DataFrame(rows)
    table = table.iloc[np.argsort([order[c] for c in zip(table.model, table.serving, table.lengths, strict=True)])]
    write_results(out, "scenarios", table, ["model", "serving", "lengths"])
    text = markdown(table)
    write_atomic(out / "scenarios.md", (text + "\n").encode())
    print(text)
    print(f"wrote {out}/scenarios.csv, scenarios.md and timing.csv (wall seconds of each search)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
