"""How often and by how much the Oracle's search misses the exhaustive optimum, on a system small enough to enumerate.

System: tests/imitation/tiny-2x2x2.yaml (8 cores in 2 layers, 4 V/f levels, T_max 49 C so the limit binds), one
instance of 2 threads. At every state of Oracle-driven roll-outs (after a warm-up under ``performance``), the Oracle's
choice is compared with the best of all 56 placements x 16 level pairs (idle cores at f_min), each simulated over the
same horizon. Prints per-state gaps and a JSON summary.

    .venv/bin/python bench/ail_oracle_gap.py [--states-per-run 10] [--runs 4]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ailfm.plugins.imitation.oracle import OracleGovernor
from ailfm.plugins.imitation.rollout import RolloutScenario, simulation

TINY = str(Path(__file__).resolve().parents[1] / "tests" / "imitation" / "tiny-2x2x2.yaml")


class GapGovernor(OracleGovernor):
    """Drives with the Oracle after a warm-up at f_max; at each driven state also runs the exhaustive search."""

    def __init__(self, warmup_epochs: int):
        super().__init__()
        self.warmup_epochs, self.gaps = warmup_epochs, []

    def decide(self, obs):
        from ailfm.plugins.governors.base import Decision

        if obs.epoch < self.warmup_epochs:
            return Decision(np.full(self.context.n_cores, self.context.system.dvfs.f_max_GHz))
        label = self.query(obs)
        best = self.oracle.exhaustive_best(self.context.lookahead, obs.thread_kernel_type >= 0)
        self.gaps.append({"epoch": obs.epoch, "oracle": label.instructions, "exhaustive": best.instructions,
                          "oracle_safe": label.safe, "exhaustive_safe": best.safe,
                          "oracle_evaluated": label.evaluated, "exhaustive_evaluated": best.evaluated})
        return Decision(label.f_GHz, label.placement)


def measure(runs: int, states: int, warmup: int) -> list[dict]:
    rows = []
    for run in range(runs):
        scenario = RolloutScenario(system=TINY, workload=("llama-2-7b", "bert-large")[run % 2], seed=run,
                                   lengths="fixed:4,2", requests=1, instances=1, threads=2,
                                   warmup_epochs=warmup + 5 * run, epochs=states, grid_cells=8)
        governor = GapGovernor(scenario.warmup_epochs)
        simulation(scenario, governor).run((scenario.warmup_epochs + states) * 1e-3)
        rows += [{"run": run, **g} for g in governor.gaps]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--states-per-run", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    rows = measure(args.runs, args.states_per_run, args.warmup)
    oracle = np.array([r["oracle"] for r in rows])
    best = np.array([r["exhaustive"] for r in rows])
    gap = 1.0 - oracle / np.maximum(best, 1e-300)
    missed = gap > 1e-9
    for r, g in zip(rows, gap, strict=True):
        print(f"run {r['run']} epoch {r['epoch']:3d}: oracle {r['oracle']:.4e} exhaustive {r['exhaustive']:.4e} "
              f"gap {100 * g:.3f} %  safe {r['oracle_safe']}/{r['exhaustive_safe']}")
    print(json.dumps({"states": len(rows), "missed_fraction": float(missed.mean()),
                      "mean_gap_pct": float(100 * gap.mean()), "max_gap_pct": float(100 * gap.max()),
                      "mean_gap_when_missed_pct": float(100 * gap[missed].mean()) if missed.any() else 0.0,
                      "oracle_unsafe_states": int(sum(not r["oracle_safe"] for r in rows)),
                      "candidates_oracle_mean": float(np.mean([r["oracle_evaluated"] for r in rows])),
                      "candidates_exhaustive": int(rows[0]["exhaustive_evaluated"])}, indent=1))


if __name__ == "__main__":
    main()
