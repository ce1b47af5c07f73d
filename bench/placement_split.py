"""Placement vs V/f policy: how much of ``ail``'s gain comes from where the threads start.

Placement vs V/f policy, in the built-in engine: how much of ``ail``'s gain over each baseline comes from where the
threads start and how much from the V/f (and migration) policy.

Every governor runs three times on the same scenario: from its own initial placement (``--placement own``, as
``ailfm compare`` publishes), from ``coolest`` (the ablations' start, and ``ail``'s before it learned its own) and
from ``first-unused`` (thread i on core i). ``ail``'s gain over a baseline B splits exactly into

    T(ail, own) / T(B, own) = T(ail, own) / T(ail, coolest) x T(ail, coolest) / T(B, coolest) x T(B, coolest) / T(B,own)
         total gain              ail's learned start            V/f policy, same start        placement (B moved)

with T the tokens per second (requests per second for models without tokens). The V/f part from ``first-unused``
is the same comparison from the other common start.

    python bench/placement_split.py --out bench/results/placement/default
    python bench/placement_split.py --out bench/results/placement/snuca-64-2l --system snuca-64-2l
    python bench/placement_split.py --out bench/results/placement/llama-3-8b --workload llama-3-8b --lengths fixed:4,2

Writes ``runs.csv`` (one row per governor and placement: ``ailfm compare``'s simulated columns; an existing one is
reused, so a second call only redoes the table) and ``split.md`` (the table in docs/gem5.md) into ``--out``.
Built-in engine only (gem5 runs take ``--placement`` too, but need a gem5 build).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pandas as pd

from ailfm.files import prepare_output_folder, write_atomic
from ailfm.plugins.epoch.cosim import TIMING_KEYS
from ailfm.plugins.run.config import RunConfig, add_run_arguments
from ailfm.plugins.run.runner import comparison_table, sweep

PLACEMENTS = ("own", "coolest", "first-unused")
BASELINES = ("performance", "ondemand", "tsp", "pcgov", "coldest-core", "pcmig")


def throughput(row: pd.Series) -> float:
    return row["tokens_per_s"] if row["tokens_per_s"] > 0 else row["requests_per_s"]


def split_table(runs: pd.DataFrame) -> str:
    """The markdown table of the split (``runs``: one row per governor and placement)."""
    t = {(r["governor"], r["placement"]): throughput(r) for _, r in runs.iterrows()}
    above = {(r["governor"], r["placement"]): r["time_above_tmax_s"] for _, r in runs.iterrows()}
    lines = ["| baseline B | T(B) own | T(B) from coolest | T(B) from first-unused | s > T_max own / coolest | "
             "ail total gain (own starts) | ail's start: T(ail, own) / T(ail, coolest) | placement: T(B, coolest) / "
             "T(B, own) | V/f policy from coolest | V/f policy from first-unused |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    ail_start = t[("ail", "own")] / t[("ail", "coolest")] - 1
    for b in BASELINES:
        own, cool, first = t[(b, "own")], t[(b, "coolest")], t[(b, "first-unused")]
        lines.append(f"| {b} | {own:.3f} | {cool:.3f} | {first:.3f} | {above[(b, 'own')]:.3f} / "
                     f"{above[(b, 'coolest')]:.3f} | {t[('ail', 'own')] / own - 1:+.1%} | {ail_start:+.1%} | "
                     f"{cool / own - 1:+.1%} | "
                     f"{t[('ail', 'coolest')] / cool - 1:+.1%} | {t[('ail', 'first-unused')] / first - 1:+.1%} |")
    ail = [t[("ail", p)] for p in PLACEMENTS]
    lines.append(f"| (ail itself) | {ail[0]:.3f} | {ail[1]:.3f} | {ail[2]:.3f} | {above[('ail', 'own')]:.3f} / "
                 f"{above[('ail', 'coolest')]:.3f} | | {ail_start:+.1%} | | | |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser)
    parser.add_argument("--out", required=True, help="output folder (runs.csv, split.md)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    args = parser.parse_args()
    out = prepare_output_folder(args.out)
    if (out / "runs.csv").is_file():  # resume: the simulations are done, only the table is redone
        runs = pd.read_csv(out / "runs.csv")
    else:
        base = RunConfig.from_args(args)
        configs = [dataclasses.replace(base, governor=g, placement=p) for p in PLACEMENTS
                   for g in (*BASELINES, "ail")]
        runs = comparison_table(sweep(configs, max_workers=args.jobs)).drop(columns=list(TIMING_KEYS),
                                                                             errors="ignore")  # wall clock
        write_atomic(out / "runs.csv", runs.to_csv(index=False).encode())
    table = split_table(runs)
    write_atomic(out / "split.md", table.encode())
    print(table, end="")
    print(f"wrote {Path(out) / 'runs.csv'}, {Path(out) / 'split.md'}")


if __name__ == "__main__":
    main()
