"""The gem5 comparison table of the governors, from one common placement, with the provenance of every run.

Every governor from one common placement, the placement-swapped runs, tokens/s where requests finish, and the
provenance of every run.

    GEM5=/path/to/gem5.opt python bench/gem5_table.py --out bench/results/gem5/table [--jobs 2]

One gem5 process per run (gem5 cannot rewind), ``--jobs`` of them at a time (``nice -n 5``). The scenario is GPT-2
small (124M) on snuca-64 with short requests, so requests finish inside the simulated span and tokens/s is measured.
Runs:

* ``ail``, ``ondemand``, ``conservative``, ``performance`` (f_max + DTM) and ``pcgov`` (thermally aware), all from
  AIL's placement (``coolest``): the fair comparison, the same start for every row;
* ``ondemand`` from its own placement (``first-unused``): with ``ondemand`` from AIL's placement it splits ``ail``'s
  gain over ondemand into placement and V/f policy, as ``bench/placement_split.py`` does in the built-in engine.

``--runs`` runs a subset. The table holds the runs the folder has finished, and the split is written once ``ail``,
``ondemand`` and ``ondemand-own`` are there.

A finished run (its ``summary.json`` exists) is not run again, so an interrupted table resumes. Writes into
``--out``:

* ``runs/NAME/`` (``run_ailfm.py``'s outputs) and ``logs/NAME.log`` (gem5's output);
* ``comparison.csv`` and ``table.md`` (the docs/gem5.md table), ``split.md``;
* ``provenance/``: per run gem5's ``config.ini`` (gzipped) and a ``stats.txt`` excerpt (the first and last dump's
  simulated/host seconds, the network's packet latency and the tiles' clock periods), ``build.txt`` (the build
  command given by ``--build-note`` and the gem5 version the runs report) and ``timing.csv`` (wall seconds per run,
  apart from the results).
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from gem5_sampling import run_logged  # bench/ is on sys.path: the sibling bench's process runner

from ailfm.files import prepare_output_folder, write_atomic
from ailfm.gem5_configs.collect import collect

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "gem5_configs" / "run_ailfm.py"
SCENARIO = ("--system", "snuca-64", "--workload", "gpt2", "--lengths", "fixed:4,2", "--requests", "3",
            "--instances", "3", "--threads", "16")


@dataclass(frozen=True)
class Run:
    name: str
    governor: str
    placement: str
    label: str  # what the row is, in the table


RUNS = (
    Run("ail", "ail", "coolest", "AIL (ONNX policy)"),
    Run("ondemand", "ondemand", "coolest", "Linux ondemand"),
    Run("conservative", "conservative", "coolest", "Linux conservative"),
    Run("performance", "performance", "coolest", "performance: f_max + DTM"),
    Run("pcgov", "pcgov", "coolest", "PCGov (thermally aware)"),
    Run("ondemand-own", "ondemand", "own", "Linux ondemand"),
)
#: stats.txt lines kept in the excerpt (per dump): time, the network's mean packet latency, the tiles' clocks
EXCERPT = re.compile(r"^(simSeconds|simTicks|hostSeconds|hostTickRate|\S*network\.average_packet_latency"
                     r"|\S*clk_domain\S*\.clock|\S*tile_clk_domains\S*\.clock)\s")


def command(gem5: str, run: Run, out: Path, extra: list[str]) -> list[str]:
    return ["nice", "-n", "5", gem5, "-d", str(out / "m5out" / run.name), str(SCRIPT), *SCENARIO,
            "--governor", run.governor, "--placement", run.placement, *extra, "--out", str(out / "runs" / run.name)]


def run_one(gem5: str, run: Run, out: Path, extra: list[str]) -> float | None:
    """Run one gem5 process unless its summary exists; the wall seconds it took (None: reused)."""
    if (out / "runs" / run.name / "summary.json").exists():
        return None
    log = out / "logs" / f"{run.name}.log"
    status, wall_s = run_logged(command(gem5, run, out, extra), log)
    if status != 0:
        raise RuntimeError(f"gem5 run {run.name} failed with status {status}; see {log}")
    return wall_s


def log_wall_s(log: Path) -> float:
    """A finished run's wall seconds from its log (a run this call did not time, e.g. one started by an earlier
    call): from gem5's ``gem5 started`` stamp (local time) to the log's last write; NaN without the stamp."""
    if log.exists():
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("gem5 started "):
                started = datetime.strptime(" ".join(line.split()[2:]), "%b %d %Y %H:%M:%S")
                return log.stat().st_mtime - time.mktime(started.timetuple())
    return float("nan")


def stats_excerpt(stats_txt: Path) -> str:
    """The first and the last dump's lines that matter for provenance."""
    blocks = stats_txt.read_text(encoding="utf-8").split("---------- Begin Simulation Statistics ----------")[1:]
    keep = []
    for label, block in (("first dump", blocks[0]), (f"last dump (of {len(blocks)})", blocks[-1])) if blocks else ():
        keep.append(f"# {label}")
        keep += [line for line in block.splitlines() if EXCERPT.match(line)]
    return "\n".join(keep) + "\n"


def write_provenance(out: Path, runs: tuple[Run, ...], build_note: str) -> None:
    target = out / "provenance"
    target.mkdir(exist_ok=True)
    versions = set()
    for run in runs:
        m5out = out / "m5out" / run.name
        with open(m5out / "config.ini", "rb") as source:  # mtime 0: the same run gives the same bytes
            write_atomic(target / f"{run.name}.config.ini.gz", gzip.compress(source.read(), mtime=0))
        write_atomic(target / f"{run.name}.stats-excerpt.txt", stats_excerpt(m5out / "stats.txt").encode())
        summary = pd.read_json(out / "runs" / run.name / "summary.json", typ="series")
        versions.add(str(summary.get("gem5_version")))
    write_atomic(target / "build.txt", (f"gem5 version reported by the runs: {', '.join(sorted(versions))}\n"
                                        f"build: {build_note}\n").encode())


def table_md(table: pd.DataFrame, runs: tuple[Run, ...]) -> str:
    rows = {r["run"]: r for _, r in table.iterrows()}
    lines = ["| run | start | DVFS | tokens/s | requests done | makespan (ms) | tokens/J | energy (J) | peak (C) | "
             "time above T_max (ms) | DTM events | migrations | G instr. | wall s / epoch |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for run in runs:
        r = rows[run.name]
        lines.append(f"| {run.label} | {r['placement']} | {r['dvfs']} | {r['tokens_per_s']:.1f} | "
                     f"{r['requests_finished']:.0f} | {r['makespan_s'] * 1e3:.2f} | {r['tokens_per_j']:.3f} | "
                     f"{r['energy_j']:.3f} | {r['peak_temp_c']:.1f} | {r['time_above_tmax_s'] * 1e3:.2f} | "
                     f"{r['dtm_events']:.0f} | {r['migrations']:.0f} | {r['g_instructions']:.3f} | "
                     f"{r['gem5_wall_s_per_epoch']:.1f} |")
    return "\n".join(lines) + "\n"


#: the runs ``split_md`` needs
SPLIT_RUNS = {"ail", "ondemand", "ondemand-own"}


def split_md(table: pd.DataFrame) -> str:
    """ail's gain over ondemand (ail from the common ``coolest`` start, ondemand from its own) = placement (ondemand
    moved to ``coolest``) x V/f policy (from the same start)."""
    t = {r["run"]: r["tokens_per_s"] for _, r in table.iterrows()}
    total = t["ail"] / t["ondemand-own"] - 1
    placement = t["ondemand"] / t["ondemand-own"] - 1
    policy_coolest = t["ail"] / t["ondemand"] - 1
    return ("| ail (from coolest) over ondemand (own start) | placement: T(ondemand, coolest) / T(ondemand, own) | "
            "V/f policy: T(ail) / T(ondemand, coolest) |\n|---|---|---|\n"
            f"| {total:+.1%} | {placement:+.1%} | {policy_coolest:+.1%} |\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output folder (resumes the runs it already holds)")
    parser.add_argument("--jobs", type=int, default=2, help="gem5 processes at a time (default 2)")
    parser.add_argument("--epochs", type=int, default=30, help="control epochs at most (runs end when done)")
    parser.add_argument("--window-us", type=float, default=None, help="run_ailfm.py's --window-us (default its own)")
    parser.add_argument("--lead-in-us", type=float, default=None,
                        help="run_ailfm.py's --lead-in-us (a warmed window; needs --window-us)")
    parser.add_argument("--dvfs", default=None, help="run_ailfm.py's --dvfs (default its own)")
    parser.add_argument("--runs", default=",".join(r.name for r in RUNS),
                        help="comma-separated run names to run (default all: " + ", ".join(r.name for r in RUNS) + ")")
    parser.add_argument("--build-note", default="not given", help="the exact gem5 build command, for build.txt")
    args = parser.parse_args(argv)
    gem5 = os.environ.get("GEM5") or shutil.which("gem5.opt")
    if not gem5:
        print("gem5_table: error: set GEM5 to a gem5.opt (docs/gem5.md, Building gem5)", file=sys.stderr)
        return 2
    out = prepare_output_folder(args.out).resolve()  # absolute: gem5 resolves -d and --out itself
    for folder in ("runs", "logs", "m5out"):
        (out / folder).mkdir(exist_ok=True)
    chosen = [r for r in RUNS if r.name in args.runs.split(",")]
    unknown = set(args.runs.split(",")) - {r.name for r in RUNS}
    if unknown:
        print(f"gem5_table: error: --runs: unknown run(s) {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    extra = ["--epochs", str(args.epochs)]
    extra += ["--window-us", f"{args.window_us:g}"] if args.window_us else []
    extra += ["--lead-in-us", f"{args.lead_in_us:g}"] if args.lead_in_us else []
    extra += ["--dvfs", args.dvfs] if args.dvfs else []
    try:
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:  # each thread waits on one gem5 process
            walls = dict(zip((r.name for r in chosen), pool.map(lambda r: run_one(gem5, r, out, extra), chosen),
                             strict=True))
    except RuntimeError as err:
        print(f"gem5_table: error: {err}", file=sys.stderr)
        return 1
    timing = out / "provenance" / "timing.csv"
    (out / "provenance").mkdir(exist_ok=True)
    old = pd.read_csv(timing).set_index("run")["wall_s"].to_dict() if timing.exists() else {}
    done = tuple(r for r in RUNS if (out / "runs" / r.name / "summary.json").exists())
    walls = {r.name: walls.get(r.name) or old.get(r.name) or log_wall_s(out / "logs" / f"{r.name}.log") for r in done}
    write_atomic(timing, pd.DataFrame({"run": list(walls), "wall_s": list(walls.values())})
                 .to_csv(index=False).encode())
    if not done:
        print("gem5_table: no finished run yet")
        return 0
    table = collect([out / "runs" / r.name for r in done])
    write_atomic(out / "comparison.csv", table.to_csv(index=False).encode())
    markdown = table_md(table, done)
    write_atomic(out / "table.md", markdown.encode())
    split = split_md(table) if SPLIT_RUNS <= {r.name for r in done} else ""
    if split:
        write_atomic(out / "split.md", split.encode())
    write_provenance(out, done, args.build_note)
    missing = [r.name for r in RUNS if r not in done]
    print(markdown + "\n" + split + (f"\n(not run here: {', '.join(missing)})" if missing else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
