"""Why ``ail`` trails PCMig on ``snuca-64-2l`` (issue 17): its learned start against its V/f and moves.

On the 2-layer system no core is thermally limited, so PCMig's gain is its lowest-latency initial placement (it
migrates nothing). Every scenario of ``bench/ail_eval.py`` (its mixes and seeds, on ``--system``) runs twice: from
each governor's own start (``ail``'s learned one, PCMig's lowest-latency) and with every governor started on
``lowest-latency``. With T the throughput (tokens/s, or requests/s for ViT), ``ail``'s gap to PCMig splits exactly:

    T(ail, own) / T(pcmig, own) = T(ail, own) / T(ail, lowest-latency)  x  T(ail, ll) / T(pcmig, ll)  x  1
          gap                       ail's learned start against PCMig's      ail's V/f and moves, same start

(PCMig's own start is ``lowest-latency``). ``shielded-performance`` from the same start checks that f_max there is
what PCMig runs. Also reported: how often ``ail``'s running cores ask for less than f_max, and at which kernels.

    python bench/ail_pcmig_gap.py --out bench/results/ail/pcmig-gap --jobs 1

Writes ``runs.csv`` (every run), ``kernels.csv`` (``ail``'s requested frequency per kernel, from ``lowest-latency``)
and ``gap.md`` (the tables in docs/ail.md) into ``--out``; finished commands are skipped on a second call.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from ail_eval import SEEDS, WORKLOADS, compare, throughput, write_mixes

from ailfm.files import write_atomic
from ailfm.plugins.system.description import load_system

STARTS = {"own": ["ail", "pcmig"], "lowest-latency": ["ail", "shielded-performance", "pcmig"]}


def read_runs(out: Path, mixes: dict[str, str]) -> pd.DataFrame:
    frames = [pd.read_csv(out / workload / mix / start / "comparison.csv").assign(mix=mix, start=start)
              for workload in WORKLOADS for mix in mixes for start in STARTS]
    frame = pd.concat(frames, ignore_index=True)
    frame["throughput"] = throughput(frame)
    return frame


def gap_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per scenario: the gap to PCMig and its two factors."""
    t = frame.set_index(["workload", "mix", "seed", "start", "governor"]).throughput.unstack(["start", "governor"])
    table = pd.DataFrame({
        "gap": t[("own", "ail")] / t[("own", "pcmig")] - 1,
        "learned start": t[("own", "ail")] / t[("lowest-latency", "ail")] - 1,
        "V/f and moves": t[("lowest-latency", "ail")] / t[("lowest-latency", "pcmig")] - 1,
        "shielded-performance / pcmig, same start": (t[("lowest-latency", "shielded-performance")]
                                                     / t[("lowest-latency", "pcmig")] - 1),
        "pcmig own / lowest-latency": t[("own", "pcmig")] / t[("lowest-latency", "pcmig")] - 1})
    return table.reset_index()


def kernel_frequencies(out: Path, mixes: dict[str, str], f_max_GHz: float) -> pd.DataFrame:
    """``ail``'s requests on the cores running a kernel (from ``lowest-latency``), per workload and kernel."""
    rows = []
    for workload in WORKLOADS:
        for mix in mixes:
            for run in sorted((out / workload / mix / "lowest-latency" / "runs").glob("*-ail-seed*")):
                timeline = pd.read_parquet(run / "timeline.parquet", columns=["thread", "kernel", "f_GHz"])
                running = timeline[(timeline.thread >= 0) & (timeline.kernel != "idle")]
                rows.append(running.assign(workload=workload, kernel=running.kernel.astype(str)))
    running = pd.concat(rows, ignore_index=True)
    running["below_f_max"] = running.f_GHz < f_max_GHz - 1e-9
    return (running.groupby(["workload", "kernel"]).agg(core_epochs=("f_GHz", "size"), mean_f_GHz=("f_GHz", "mean"),
                                                        below_f_max=("below_f_max", "mean"))
            .reset_index().sort_values(["workload", "core_epochs"], ascending=[True, False]))


def markdown(gaps: pd.DataFrame, kernels: pd.DataFrame) -> str:
    columns = [c for c in gaps.columns if c not in ("workload", "mix", "seed")]
    lines = ["| workload | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for workload, group in gaps.groupby("workload"):
        cells = [f"{group[c].mean():+.1%} ({group[c].min():+.1%} to {group[c].max():+.1%})" for c in columns]
        lines.append(f"| {workload} | " + " | ".join(cells) + " |")
    lines += ["", "| workload | kernel | running core-epochs | `ail`'s mean request (GHz) | share below f_max |",
              "|---|---|---|---|---|"]
    for _, k in kernels[kernels.core_epochs >= 100].iterrows():
        lines.append(f"| {k.workload} | {k.kernel} | {k.core_epochs} | {k.mean_f_GHz:.2f} | {k.below_f_max:.0%} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--system", default="snuca-64-2l")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    mixes = write_mixes(args.out)
    for workload in WORKLOADS:
        for mix, lengths in mixes.items():
            for start, governors in STARTS.items():
                compare(args.system, workload, lengths, SEEDS, governors, args.out / workload / mix / start,
                        args.jobs, placement=start)
    frame = read_runs(args.out, mixes)
    gaps = gap_table(frame)
    kernels = kernel_frequencies(args.out, mixes, load_system(args.system).dvfs.f_max_GHz)
    write_atomic(args.out / "runs.csv", frame.to_csv(index=False).encode())
    write_atomic(args.out / "kernels.csv", kernels.to_csv(index=False).encode())
    text = markdown(gaps, kernels)
    write_atomic(args.out / "gap.md", text.encode())
    print(text, end="")


if __name__ == "__main__":
    main()
