"""Oracle queries spent against quality reached: active DAgger vs DAgger on every state vs behavioural cloning.

The three methods run with the same configuration and seed (``TrainConfig`` defaults: 5 iterations of 4 roll-outs of
40 epochs on the training workloads, the same iteration-0 Oracle roll-outs, the same validation scenarios); only the
querying rule differs. Each run is an ``ailfm ail train`` run folder, so this script resumes whatever is already
there (the active run is the shipped policy's own run). Writes ``ail_active.csv`` and ``ail_active.png``.

    .venv/bin/python bench/ail_active.py --runs /tmp/ail-runs --out bench/results/ail
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from ailfm.plugins.imitation.dagger import METHODS, TrainConfig, train

FOLDERS = {"active": "default", "dagger": "dagger", "bc": "bc"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="/tmp/ail-runs", help="folder holding one run folder per method")
    parser.add_argument("--out", default="bench/results/ail")
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()
    rows = []
    for method in METHODS:
        _, record = train(TrainConfig(method=method), Path(args.runs) / FOLDERS[method], max_workers=args.jobs)
        rows += [{"method": method, "iteration": int(i), **values} for i, values in record.items()]
    table = pd.DataFrame(rows).sort_values(["method", "iteration"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "ail_active.csv", index=False)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    dagger = table[table.method == "dagger"].iloc[-1]
    active = table[table.method == "active"]
    reached = active[active.quality >= dagger.quality]
    verdict = {"dagger_final_quality": float(dagger.quality), "dagger_queries": int(dagger.queries)}
    if len(reached):
        first = reached.iloc[0]
        verdict.update(active_queries_to_reach=int(first.queries), query_ratio=float(first.queries / dagger.queries),
                       active_iteration=int(first.iteration))
    else:
        verdict.update(active_queries_to_reach=None, active_best_quality=float(active.quality.max()),
                       active_queries=int(active.queries.iloc[-1]))
    print(json.dumps(verdict, indent=1))
    (out / "ail_active.json").write_text(json.dumps(verdict, indent=1) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for method, group in table.groupby("method"):
        axis.plot(group.queries, group.quality, marker="o", label=method)
    axis.set_xlabel("Oracle queries (labelled states)")
    axis.set_ylabel("quality: policy instructions / Oracle's")
    axis.set_title("Imitation learning: queries vs quality (validation scenarios)")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(out / "ail_active.png", dpi=120)
    print(f"wrote {out / 'ail_active.csv'} and {out / 'ail_active.png'}")


if __name__ == "__main__":
    main()
