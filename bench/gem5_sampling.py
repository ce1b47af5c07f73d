"""Time sampling of the gem5 backend, validated: open-loop replays of one recorded run at several windows per control
epoch (each with or without a lead-in), each compared with the full-length replay (window = epoch) on every quantity
fed back to the loop.

First record a closed-loop run (one gem5 process; see docs/gem5.md for the run behind the published table):

    gem5.opt -d m5out/rec gem5_configs/run_ailfm.py --system snuca-64 --governor ail --placement coolest \\
        --epochs 4 --window-us 50 --out runs/sampling/closed --record-traffic runs/sampling/recording.parquet

then

    python bench/gem5_sampling.py --recording runs/sampling/recording.parquet --out bench/results/gem5/sampling \\
        [--windows 50,50+100,200,1000] [--epochs N] [--workers 2] [--dask ADDRESS] [--gem5 PATH] [--system FILE]

runs ``gem5_configs/replay_traffic.py`` once per scheme of ``--windows`` (``W``: a window of W us per control epoch;
``W+L``: the same, warmed by an L us lead-in, ``--lead-in-us``), each an independent gem5 process (``nice -n 5``) in a
process pool of ``--workers`` (or on the Dask scheduler at ``--dask``), costliest first. A replay already in ``--out``
made from the same recording, window, lead-in and epochs is not run again (delete it to redo it), so an interrupted
bench resumes; without gem5 the bench still writes the table from finished replays. A replay writes its file after
every epoch, so ``--table-only`` tabulates replays cut short over the epochs each of them and the reference finished.
Writes ``sampling.csv`` and ``sampling.md`` (the errors: the same replays give the same files; ``--reference-us``
compares with a shorter window instead, into ``sampling-vs-<W>us.*``) and ``timing.csv`` (each replay's wall seconds
and, where its replay recorded them, its CPU seconds per epoch, start-up and warm-up excluded), and keeps each
replay's counters (``replay-<W>us[-lead<L>us].parquet``) beside them; gem5's output folders and logs go to ``--work``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ailfm import options
from ailfm.errors import ConfigError, FormatError, ToolError
from ailfm.files import write_atomic, write_json_atomic
from ailfm.gem5_configs.sampling import cpu_path, read_recording, read_replay, replay_source, sampling_errors
from ailfm.plugins.engine.gem5 import interval_model
from ailfm.plugins.run.config import RunConfig
from ailfm.plugins.run.runner import load_workload
from ailfm.plugins.system.description import load_system
from ailfm.pools import dask_client

REPO = Path(__file__).resolve().parents[1]
REPLAY_SCRIPT = REPO / "gem5_configs" / "replay_traffic.py"


@dataclass(frozen=True, order=True)
class Scheme:
    """A sampling scheme: ``window_us`` of gem5 time per control epoch, warmed by a ``lead_in_us`` lead-in."""

    window_us: float
    lead_in_us: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Scheme:
        """``W`` or ``W+L`` (microseconds)."""
        window, _, lead_in = text.strip().partition("+")
        try:
            return cls(options.number(above=0)(window), options.number(0)(lead_in) if lead_in else 0.0)
        except argparse.ArgumentTypeError as err:
            raise ConfigError("windows", f"{text.strip()!r}: {err} (W or W+L, in microseconds)") from None

    @property
    def name(self) -> str:
        return f"{self.window_us:g}us" + (f"-lead{self.lead_in_us:g}us" if self.lead_in_us else "")

    @property
    def label(self) -> str:
        return f"{self.window_us:g} us" + (f" + {self.lead_in_us:g} us lead-in" if self.lead_in_us else "")

    @property
    def gem5_us(self) -> float:
        """gem5 time simulated per control epoch (its cost)."""
        return self.window_us + self.lead_in_us


def replay_path(out: Path, window_us: float, lead_in_us: float = 0.0) -> Path:
    return out / f"replay-{Scheme(window_us, lead_in_us).name}.parquet"


def wall_path(out: Path, scheme: Scheme) -> Path:
    """Where the bench keeps a replay process's wall seconds (beside its counters, as ``sampling.cpu_path``)."""
    return out / f"replay-{scheme.name}.wall.json"


def finished(path: Path, source: dict) -> bool:
    """A replay file exists, was made from ``source`` (recording digest, window, epochs) and holds all its epochs."""
    if not path.exists():
        return False
    try:
        return read_replay(path).source == {**source, "epochs_done": source["epochs"]}
    except FormatError:
        return False


def gem5_command(gem5: str, recording: Path, window_us: float, epochs: int | None, out: Path,
                 work: Path, lead_in_us: float = 0.0, system: str | None = None) -> list[str]:
    """One replay as a niced gem5 process, its counters in ``out``, gem5's output folder in ``work``."""
    scheme = Scheme(window_us, lead_in_us)
    command = ["nice", "-n", "5", gem5, "-d", str(work / f"m5out-{scheme.name}"), str(REPLAY_SCRIPT),
               "--recording", str(recording), "--window-us", f"{window_us:g}", "--out",
               str(replay_path(out, window_us, lead_in_us))]
    command += ["--lead-in-us", f"{lead_in_us:g}"] if lead_in_us else []
    command += ["--system", system] if system else []
    return command + (["--epochs", str(epochs)] if epochs else [])


def run_logged(command: list[str], log: Path) -> tuple[int, float]:
    """Run one gem5 process, its output in ``log``: its exit status and wall seconds."""
    start = time.perf_counter()
    with open(log, "w", encoding="utf-8") as handle:
        status = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, check=False).returncode
    return status, time.perf_counter() - start


def run_replay(command: list[str], log: Path) -> float:
    """Run one replay, its output in ``log``; its wall seconds, or a ToolError with the log's tail."""
    status, wall_s = run_logged(command, log)
    if status != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-5:]
        raise ToolError(f"replay failed (status {status}): {' '.join(command)}\n" + "\n".join(tail))
    return wall_s


def run_all(jobs: list[tuple[list[str], Path]], workers: int, dask: str | None) -> list[float]:
    """Every job as an independent process: a local pool of ``workers``, or a Dask cluster."""
    if dask:
        with dask_client(dask) as client:
            return client.gather(client.map(run_replay, *zip(*jobs, strict=True), pure=False))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run_replay, *zip(*jobs, strict=True)))


def error_table(recording_path: Path, out: Path, schemes: list[Scheme], reference_us: float | None = None,
                system: str | None = None) -> pd.DataFrame:
    """Each scheme's errors against the full-length replay (``sampling.sampling_errors``), over the epochs both
    replays hold (a replay cut short counts with the epochs it finished; ``epochs`` says how many). With
    ``reference_us``, against that window's replay (without lead-in) instead (a check of consistency between windows,
    not of accuracy). ``system``: the recorded run's system where it has moved since."""
    recording = read_recording(recording_path)
    digest = replay_source(recording_path, recording, schemes[0].window_us, None)["recording_sha256"]
    config = RunConfig(**recording.info["config"])
    interval = interval_model(load_system(system or config.system), load_workload(config))
    replays = {}
    for scheme in schemes:
        path = replay_path(out, scheme.window_us, scheme.lead_in_us)
        if not path.exists():
            raise ConfigError("windows", f"no replay at {scheme.label} in {out} ({path.name})")
        replays[scheme] = read_replay(path)
        if replays[scheme].source.get("recording_sha256") != digest:
            raise FormatError(path, None, f"was replayed from another recording than {recording_path}")
    full = [s for s in schemes if not s.lead_in_us
            and replays[s].source["window_s"] >= float(recording.info["epoch_s"])]
    if reference_us is not None:
        if Scheme(reference_us) not in replays:
            raise ConfigError("reference-us", f"{reference_us:g} us is not one of --windows")
        full = [Scheme(reference_us)]
    if not full:
        raise ConfigError("windows", "no full-length replay to compare with: include the epoch length "
                          f"({float(recording.info['epoch_s']) * 1e6:g} us)")
    reference = replays[full[0]]
    tables = [sampling_errors(replays[s], reference, recording, interval).assign(
        window_us=s.window_us, lead_in_us=s.lead_in_us,
        epochs=min(replays[s].source["epochs_done"], reference.source["epochs_done"]))
        for s in schemes if s not in full]
    if not tables:
        raise ConfigError("windows", "only the full-length replay is given: nothing to compare with it (add the "
                          "sampled windows to --windows, e.g. 50,50+100,1000)")
    table = pd.concat(tables, ignore_index=True)
    first = ["window_us", "lead_in_us", "epochs"]
    return table[[*first, *[c for c in table.columns if c not in first]]]


def markdown(table: pd.DataFrame) -> str:
    """Per quantity, each scheme's mean and worst relative error and the bias of the chip-wide total."""
    schemes = sorted({Scheme(w, lead) for w, lead in zip(table["window_us"], table["lead_in_us"], strict=True)})
    head = "| quantity | over | " + " | ".join(f"{s.label}: mean (worst), bias" for s in schemes) + " |"
    lines = [head, "|" + "---|" * (2 + len(schemes))]
    for (quantity, over), rows in table.groupby(["quantity", "over"], sort=False):
        cells = []
        for s in schemes:
            r = rows[(rows["window_us"] == s.window_us) & (rows["lead_in_us"] == s.lead_in_us)].iloc[0]
            cells.append(f"{100 * r.mean_rel_error:.2f} % ({100 * r.worst_rel_error:.2f} %), "
                         f"{100 * r.total_bias:+.2f} %")
        lines.append(f"| {quantity} | {over} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def timing(out: Path, schemes: list[Scheme]) -> pd.DataFrame:
    """Per scheme: the replay process's wall seconds (if the bench ran it) and, if its replay recorded them, its CPU
    seconds per epoch (mean over the epochs it finished, from the LLC's warm-up's end to its last epoch's end)."""
    rows = []
    for s in schemes:
        wall = wall_path(out, s)
        cpu = cpu_path(replay_path(out, s.window_us, s.lead_in_us))
        row = {"window_us": s.window_us, "lead_in_us": s.lead_in_us, "gem5_us_per_epoch": s.gem5_us,
               "wall_s": json.loads(wall.read_text())["wall_s"] if wall.exists() else float("nan"),
               "epochs": 0, "cpu_s_per_epoch": float("nan")}
        if cpu.exists():
            spent = json.loads(cpu.read_text())
            ends = spent["after_epoch_s"]
            row.update(epochs=len(ends), cpu_s_per_epoch=(ends[-1] - spent["start_s"]) / len(ends))
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recording", required=True, type=Path, help="run_ailfm.py --record-traffic's file")
    parser.add_argument("--out", required=True, type=Path, help="results folder")
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "gem5-sampling",
                        help="gem5's output folders (stats.txt: large) and logs (default runs/gem5-sampling)")
    parser.add_argument("--windows", default="50,200,1000",
                        help="sampling schemes, comma-separated: W (a window of W us per control epoch) or W+L (warmed "
                             "by an L us lead-in); one must be the epoch without lead-in (the reference)")
    parser.add_argument("--epochs", type=options.POSITIVE, default=None, help="replay only the first EPOCHS epochs")
    parser.add_argument("--workers", type=options.WORKERS, default=2, help="gem5 processes at once (default 2)")
    parser.add_argument("--dask", metavar="ADDRESS", default=None, help="run the replays on this Dask scheduler")
    parser.add_argument("--reference-us", type=options.number(above=0), default=None,
                        help="compare with this window's replay instead of the full-length one (consistency between "
                             "windows, written to sampling-vs-<W>us.csv/.md)")
    parser.add_argument("--table-only", action="store_true",
                        help="run no replay: the table from the replays in --out, over the epochs they finished")
    parser.add_argument("--system", default=None,
                        help="the recorded run's system (name or YAML file), where it has moved since the recording")
    parser.add_argument("--gem5", default=os.environ.get("GEM5") or shutil.which("gem5.opt"),
                        help="gem5.opt (default: $GEM5, else gem5.opt on PATH)")
    args = parser.parse_args(argv)
    schemes = sorted({Scheme.parse(w) for w in args.windows.split(",") if w.strip()},
                     key=lambda s: s.gem5_us, reverse=True)  # costliest first
    args.out.mkdir(parents=True, exist_ok=True)
    recording = read_recording(args.recording)
    sources = {s: replay_source(args.recording, recording, s.window_us, args.epochs, s.lead_in_us) for s in schemes}
    todo = [s for s in schemes if not finished(replay_path(args.out, s.window_us, s.lead_in_us), sources[s])]
    if todo and not args.table_only:
        names = ", ".join(s.label for s in todo)
        if not args.gem5:
            raise ToolError(f"replays of {names} are not in {args.out} and no gem5 is given (--gem5, $GEM5 or "
                            "gem5.opt on PATH)")
        print(f"replaying {args.recording} at {names} ({args.workers if not args.dask else 'Dask'} at once)",
              flush=True)
        args.work.mkdir(parents=True, exist_ok=True)
        jobs = [(gem5_command(args.gem5, args.recording.resolve(), s.window_us, args.epochs, args.out.resolve(),
                              args.work.resolve(), s.lead_in_us, args.system), args.work / f"replay-{s.name}.log")
                for s in todo]
        for s, wall_s in zip(todo, run_all(jobs, args.workers, args.dask), strict=True):
            write_json_atomic(wall_path(args.out, s),
                              {"window_us": s.window_us, "lead_in_us": s.lead_in_us, "wall_s": wall_s})
    table = error_table(args.recording, args.out, schemes, args.reference_us, args.system)
    name = "sampling" if args.reference_us is None else f"sampling-vs-{args.reference_us:g}us"
    write_atomic(args.out / f"{name}.csv", table.to_csv(index=False).encode())
    write_atomic(args.out / f"{name}.md", markdown(table).encode())
    write_atomic(args.out / "timing.csv", timing(args.out, schemes).to_csv(index=False).encode())
    print(markdown(table))
    print(f"wrote {args.out}: {name}.csv, {name}.md, timing.csv")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ConfigError, FormatError, ToolError) as err:
        print(f"gem5_sampling.py: error: {err}", file=sys.stderr)
        sys.exit(1)
