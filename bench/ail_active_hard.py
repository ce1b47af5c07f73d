"""Active querying vs DAgger vs behavioural cloning at an equal number of Oracle queries, on harder validation.

``bench/ail_active.py`` scores each method on the training run's own validation scenarios (training workloads, warm
chip, 40 epochs). This script scores the same runs' policies where imitation is harder: the held-out models
(Llama-3-8B, ViT-L/16), a cold chip (no warm-up), ``--epochs`` epochs (default 200, five times the training
roll-outs), on the default system and on the 2-layer system no policy was trained on. Every iteration's ensemble of
every method is rolled out with the shield, as ``ail`` runs, and its instructions are divided by the Oracle's on the
same scenario. Methods are compared at equal Oracle queries: for every query budget an active iteration reached, each
method's latest iteration within that budget.

The runs are ``ailfm ail train`` folders (default configuration but the method), resumed if present; the active run
is the shipped policy's own run. Writes ``ail_active_hard.csv`` (every method and iteration) and
``ail_active_hard.md`` (the equal-budget table).

    .venv/bin/python bench/ail_active_hard.py --runs /tmp/ail-runs --out bench/results/ail [--jobs 2]
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from ailfm.plugins.imitation.dagger import HELD_OUT_WORKLOADS, METHODS, Checkpoint, TrainConfig, train
from ailfm.plugins.imitation.rollout import RolloutScenario, RolloutTask, rollout

SYSTEMS = ("snuca-64", "snuca-64-2l")
FOLDERS = {"active": "default", "dagger": "dagger", "bc": "bc"}


def hard_scenarios(config: TrainConfig, epochs: int) -> list[RolloutScenario]:
    return [RolloutScenario(system=system, workload=workload, seed=config.seed, lengths=config.lengths,
                            requests=config.requests, instances=config.instances, threads=config.threads,
                            warmup_epochs=0, epochs=epochs)
            for system in SYSTEMS for workload in HELD_OUT_WORKLOADS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="/tmp/ail-runs", help="folder holding one ail train run folder per method")
    parser.add_argument("--out", default="bench/results/ail")
    parser.add_argument("--epochs", type=int, default=200, help="epochs of each validation roll-out (cold start)")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    scenarios = hard_scenarios(TrainConfig(), args.epochs)
    rows = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        oracle = list(pool.map(rollout, [RolloutTask(s, "oracle") for s in scenarios]))
        for method in METHODS:
            config = TrainConfig(method=method)
            folder = Path(args.runs) / FOLDERS[method]
            _, record = train(config, folder, pool, progress=False)
            checkpoint = Checkpoint(folder, config)
            for iteration in sorted(int(k) for k in record):
                ensemble = checkpoint.ensemble(iteration, pool)
                results = list(pool.map(rollout, [RolloutTask(s, "none", ensemble) for s in scenarios]))
                ratios = [r.instructions / o.instructions for r, o in zip(results, oracle, strict=True)]
                rows.append({"method": method, "iteration": iteration, "queries": record[str(iteration)]["queries"],
                             "quality_mean": float(np.mean(ratios)), "quality_min": float(np.min(ratios)),
                             **{f"quality_{s.system}_{s.workload}": q for s, q in zip(scenarios, ratios, strict=True)},
                             "time_above_tmax_s": float(sum(r.time_above_tmax_s for r in results)),
                             "peak_temp_C": float(max(r.peak_temp_C for r in results))})
    table = pd.DataFrame(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "ail_active_hard.csv", index=False)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    budgets = table[table.method == "active"].queries.tolist()
    lines = ["| Oracle queries (budget) | " + " | ".join(f"{m}: queries, quality mean (min)" for m in METHODS) + " |",
             "|---:|" + "---|" * len(METHODS)]
    for budget in budgets:
        cells = []
        for method in METHODS:
            within = table[(table.method == method) & (table.queries <= budget)]
            if within.empty:
                cells.append("none within budget")
            else:
                row = within.iloc[-1]
                cells.append(f"{int(row.queries)}, {row.quality_mean:.4f} ({row.quality_min:.4f})")
        lines.append(f"| {budget} | " + " | ".join(cells) + " |")
    (out / "ail_active_hard.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
