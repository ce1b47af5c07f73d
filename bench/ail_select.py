"""Choose among candidate EDP policies on validation scenarios of training models, never the held-out ones.

Each candidate (an ``.onnx`` file) runs ``ailfm compare`` beside PCGov and TSP on the training models BERT-large and
Llama-2-7B, on both system presets, with the Azure ``code`` mix of ``bench/ail_eval.py`` and seeds 0-2 (12
scenarios). The rule, fixed before the validation runs (not before the held-out ones: docs/ail.md): the lowest mean
over the scenarios of EDP / min(EDP of PCGov, EDP of TSP), the held-out acceptance's measure on the training models;
ties within 0.5 % go to the candidate below both baselines on more scenarios. Writes ``OUT/ratios.csv`` (per
scenario), ``OUT/choice.md`` and prints the choice.

    .venv/bin/python bench/ail_edp_select.py --out bench/results/ail/edp-selection a.onnx b.onnx ... [--jobs 1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
from ail_eval import SEEDS, compare, write_mixes  # bench/ is on sys.path: the evaluation's runner, seeds and mixes

from ailfm.files import write_atomic

SYSTEMS = ("snuca-64", "snuca-64-2l")
WORKLOADS = ("bert-large", "llama-2-7b")  # training models: the held-out ones are Llama-3-8B and ViT-L/16
BASELINES = ("pcgov", "tsp")
TIE = 0.005


def run(system: str, workload: str, lengths: str, governors: list[str], out: Path, jobs: int) -> pd.DataFrame:
    """One ``ailfm compare`` (``ail_eval.compare``: resumed when ``out`` exists) and its rows."""
    compare(system, workload, lengths, SEEDS, governors, out, jobs)
    return pd.read_csv(out / "comparison.csv").assign(system=system, workload=workload)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("candidates", nargs="+", help="candidate policy files (.onnx)")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    missing = [c for c in args.candidates if not Path(c).is_file() or not c.endswith(".onnx")]
    if missing:
        print(f"ail_edp_select: error: not an .onnx file: {', '.join(missing)}", file=sys.stderr)
        return 2
    out = Path(args.out)
    lengths = write_mixes(out)["code"]
    frame = pd.concat([run(system, workload, lengths, [*BASELINES, *args.candidates],
                           out / "runs" / f"{system}-{workload}", args.jobs)
                       for system in SYSTEMS for workload in WORKLOADS], ignore_index=True)
    edp = frame.pivot_table(index=["system", "workload", "seed"], columns="governor", values="edp")
    ratios = edp[args.candidates].div(edp[list(BASELINES)].min(axis=1), axis=0)
    write_atomic(out / "ratios.csv", ratios.to_csv().encode())
    table = pd.DataFrame({"mean_ratio": ratios.mean(), "below_both": (ratios < 1).sum().astype(int),
                          "scenarios": ratios.notna().sum().astype(int),
                          "max_s_above_tmax": frame.groupby("governor").time_above_tmax_s.max()[args.candidates]})
    best = table.mean_ratio.min()
    tied = table[table.mean_ratio <= best * (1 + TIE)]
    choice = tied.sort_values(["below_both", "mean_ratio"], ascending=[False, True]).index[0]
    lines = ["| candidate | EDP / min(PCGov, TSP), mean | below both | scenarios | max s > T_max |",
             "|---|---|---|---|---|"]
    lines += [f"| {r.Index} | {r.mean_ratio:.4f} | {r.below_both} | {r.scenarios} | {r.max_s_above_tmax:g} |"
              for r in table.itertuples()]
    text = "\n".join(lines) + f"\n\nchosen: {choice}\n"
    write_atomic(out / "choice.md", text.encode())
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
