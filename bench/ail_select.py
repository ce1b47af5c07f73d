"""Choose among candidate policies on validation scenarios of training models, never the held-out ones.

Each candidate (an ``.onnx`` file, or a shipped policy's governor name such as ``ail``) runs ``ailfm compare``
beside the objective's baselines on the training models BERT-large and Llama-2-7B, on both system presets, with the
Azure ``code`` mix of ``bench/ail_eval.py`` and seeds 0-2 (12 scenarios), each from a cold chip as in the held-out
evaluation. The rules, each fixed before its validation runs (not before the held-out ones: docs/ail.md), per
``--objective``:

* ``edp``: the lowest mean over the scenarios of EDP / min(EDP of PCGov, EDP of TSP), the held-out acceptance's
  measure on the training models; ties within 0.5 % go to the candidate below both baselines on more scenarios.
* ``throughput``: the highest mean of throughput / ``shielded-performance``'s (what the learning adds), among the
  candidates with 0 s above T_max in every run; ties within 0.5 % go to the candidate listed first (list the
  shipped policy first: a replacement must beat it by more than that).

Writes ``OUT/ratios.csv`` (per scenario), ``OUT/choice.md`` and prints the choice.

    .venv/bin/python bench/ail_select.py --objective edp --out bench/results/ail/edp-selection a.onnx b.onnx ...
    .venv/bin/python bench/ail_select.py --objective throughput --out DIR ail b.onnx [--jobs 1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
from ail_eval import SEEDS, compare, throughput, write_mixes  # bench/ is on sys.path: the evaluation's helpers

from ailfm.files import write_atomic
from ailfm.plugins.governors.registry import available_governors

SYSTEMS = ("snuca-64", "snuca-64-2l")
WORKLOADS = ("bert-large", "llama-2-7b")  # training models: the held-out ones are Llama-3-8B and ViT-L/16
#: per objective: the baselines each candidate runs beside
BASELINES = {"edp": ("pcgov", "tsp"), "throughput": ("shielded-performance",)}
TIE = 0.005


def run(system: str, workload: str, lengths: str, governors: list[str], out: Path, jobs: int) -> pd.DataFrame:
    """One ``ailfm compare`` (``ail_eval.compare``: resumed when ``out`` exists) and its rows."""
    compare(system, workload, lengths, SEEDS, governors, out, jobs)
    return pd.read_csv(out / "comparison.csv").assign(system=system, workload=workload)


def edp_choice(frame: pd.DataFrame, candidates: list[str]) -> tuple[pd.DataFrame, list[str], str]:
    """Per-scenario EDP / min(PCGov, TSP), the table's rows and the chosen candidate (``edp`` rule)."""
    edp = frame.pivot_table(index=["system", "workload", "seed"], columns="governor", values="edp")
    ratios = edp[candidates].div(edp[list(BASELINES["edp"])].min(axis=1), axis=0)
    table = pd.DataFrame({"mean_ratio": ratios.mean(), "below_both": (ratios < 1).sum().astype(int),
                          "scenarios": ratios.notna().sum().astype(int),
                          "max_s_above_tmax": frame.groupby("governor").time_above_tmax_s.max()[candidates]})
    best = table.mean_ratio.min()
    tied = table[table.mean_ratio <= best * (1 + TIE)]
    choice = tied.sort_values(["below_both", "mean_ratio"], ascending=[False, True]).index[0]
    lines = ["| candidate | EDP / min(PCGov, TSP), mean | below both | scenarios | max s > T_max |",
             "|---|---|---|---|---|"]
    lines += [f"| {r.Index} | {r.mean_ratio:.4f} | {r.below_both} | {r.scenarios} | {r.max_s_above_tmax:g} |"
              for r in table.itertuples()]
    return ratios, lines, choice


def throughput_choice(frame: pd.DataFrame, candidates: list[str]) -> tuple[pd.DataFrame, list[str], str]:
    """Per-scenario throughput / ``shielded-performance``'s, the table's rows and the chosen candidate
    (``throughput`` rule; "none" when every candidate went above T_max)."""
    table = frame.assign(throughput=throughput(frame)).pivot_table(index=["system", "workload", "seed"],
                                                                   columns="governor", values="throughput")
    ratios = table[candidates].div(table[BASELINES["throughput"][0]], axis=0)
    table = pd.DataFrame({"mean_ratio": ratios.mean(), "min_ratio": ratios.min(), "max_ratio": ratios.max(),
                          "scenarios": ratios.notna().sum().astype(int),
                          "max_s_above_tmax": frame.groupby("governor").time_above_tmax_s.max()[candidates]})
    safe = table[table.max_s_above_tmax == 0]
    choice = "none"
    if len(safe):
        best = safe.mean_ratio.max()
        choice = safe[safe.mean_ratio >= best - TIE].index[0]  # candidates keep the order they were given in
    lines = ["| candidate | throughput / shielded-performance, mean (min-max) | scenarios | max s > T_max |",
             "|---|---|---|---|"]
    lines += [f"| {r.Index} | {r.mean_ratio - 1:+.2%} ({r.min_ratio - 1:+.2%} to {r.max_ratio - 1:+.2%}) | "
              f"{r.scenarios} | {r.max_s_above_tmax:g} |" for r in table.itertuples()]
    return ratios, lines, choice


RULES = {"edp": edp_choice, "throughput": throughput_choice}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("candidates", nargs="+", help="candidate policies: .onnx files or governor names (ail)")
    parser.add_argument("--objective", choices=sorted(RULES), default="edp")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    governors = available_governors()
    missing = [c for c in args.candidates if c not in governors and (not Path(c).is_file() or not c.endswith(".onnx"))]
    if missing:
        print(f"ail_select: error: not an .onnx file or a governor name: {', '.join(missing)}", file=sys.stderr)
        return 2
    out = Path(args.out)
    lengths = write_mixes(out)["code"]
    frame = pd.concat([run(system, workload, lengths, [*BASELINES[args.objective], *args.candidates],
                           out / "runs" / f"{system}-{workload}", args.jobs)
                       for system in SYSTEMS for workload in WORKLOADS], ignore_index=True)
    ratios, lines, choice = RULES[args.objective](frame, args.candidates)
    write_atomic(out / "ratios.csv", ratios.to_csv().encode())
    text = "\n".join(lines) + f"\n\nchosen: {choice}\n"
    write_atomic(out / "choice.md", text.encode())
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
