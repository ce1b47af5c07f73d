"""Evaluation of issue 4: ``ailfm compare`` with oracle, ail and every baseline on held-out workloads and systems.

Leave-one-model-out: the shipped ``ail`` policy was trained without Llama-3-8B and ViT-L/16; both are evaluated here
on the default system (snuca-64) and on the second system description (snuca-64-2l: 2 layers of 8x4 tiles), which no
policy was trained on. Every (system, workload) runs two ``ailfm compare`` commands (printed), the Oracle with the
baselines and ``ail`` on its own (so the slow Oracle runs need not be repeated when the policy changes), with the same
scenario: 3 instances x 16 threads, 3 requests of 4 prompt + 2 output tokens, run to completion. Throughput is
tokens/s for the language models and requests/s (requests / makespan) for ViT, which produces no tokens. Writes
``ail_eval.csv``, ``ail_eval.md`` (the table) and the comparison plots of each ``ailfm compare`` run.

    .venv/bin/python bench/ail_eval.py --out bench/results/ail/eval [--part reference|ail|table]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd

SYSTEMS = ("snuca-64", "snuca-64-2l")
WORKLOADS = ("llama-3-8b", "vit-l-16")
BASELINES = ("performance", "powersave", "ondemand", "conservative", "tsp", "pcgov", "coldest-core", "pcmig")
SCENARIO = ("--lengths", "fixed:4,2", "--requests", "3", "--instances", "3", "--threads", "16", "--duration", "20")


def compare(system: str, workload: str, governors: list[str], out: Path, jobs: int) -> None:
    command = [str(Path(sys.executable).with_name("ailfm")), "compare", "--system", system, "--workload", workload,
               *SCENARIO, "--governors", ",".join(governors), "--out", str(out), "--jobs", str(jobs), "--quiet"]
    print("$ " + " ".join(command[1:]).replace(str(Path(sys.executable).parent) + "/", ""), flush=True)
    subprocess.run(command, check=True)


def table(out: Path) -> pd.DataFrame:
    rows = []
    for system in SYSTEMS:
        for workload in WORKLOADS:
            for part in ("reference", "ail"):
                path = out / system / workload / part / "comparison.csv"
                if path.is_file():
                    rows.append(pd.read_csv(path))
    frame = pd.concat(rows, ignore_index=True)
    frame["throughput"] = frame.tokens_per_s.where(frame.tokens_per_s > 0, frame.requests_finished / frame.makespan_s)
    frame["throughput_unit"] = ["tokens/s" if t > 0 else "requests/s" for t in frame.tokens_per_s]
    oracle = frame[frame.governor == "oracle"].set_index(["system", "workload"]).throughput
    frame["vs_oracle"] = [t / oracle.get((s, w), float("nan")) for s, w, t in
                          zip(frame.system, frame.workload, frame.throughput, strict=True)]
    frame["thermally_safe"] = frame.time_above_tmax_s == 0
    return frame


def _markdown(frame: pd.DataFrame) -> str:
    def cell(value) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/results/ail/eval")
    parser.add_argument("--part", choices=("reference", "ail", "table", "all"), default="all")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    out = Path(args.out)
    for system in SYSTEMS:
        for workload in WORKLOADS:
            if args.part in ("reference", "all"):
                compare(system, workload, ["oracle", *BASELINES], out / system / workload / "reference", args.jobs)
            if args.part in ("ail", "all"):
                compare(system, workload, ["ail"], out / system / workload / "ail", args.jobs)
    if args.part == "reference":
        return
    frame = table(out)
    columns = ["system", "workload", "governor", "throughput", "throughput_unit", "vs_oracle", "makespan_s",
               "peak_temp_c", "time_above_tmax_s", "dtm_events", "energy_j", "migrations",
               "governor_us_per_decision"]
    frame[columns].to_csv(out / "ail_eval.csv", index=False)
    markdown = _markdown(frame[columns])
    (out / "ail_eval.md").write_text(markdown + "\n")
    print(markdown)
    for (system, workload), group in frame.groupby(["system", "workload"]):
        ail = group[group.governor == "ail"]
        if ail.empty:
            continue
        ail = ail.iloc[0]
        safe_baselines = group[group.governor.isin(BASELINES) & group.thermally_safe]
        best = safe_baselines.throughput.max() if len(safe_baselines) else float("nan")
        print(f"{system} / {workload}: ail = {ail.vs_oracle:.1%} of the Oracle, time above T_max "
              f"{ail.time_above_tmax_s:g} s, best thermally safe baseline {best:.4g} vs ail {ail.throughput:.4g} "
              f"{ail.throughput_unit} ({'beats' if ail.throughput > best else 'does NOT beat'} it)")


if __name__ == "__main__":
    main()
