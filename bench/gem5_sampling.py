"""Time sampling of the gem5 backend, validated: open-loop replays of one recorded run at several windows per control
epoch, each compared with the full-length replay (window = epoch) on every quantity fed back to the loop.

First record a closed-loop run (one gem5 process; see docs/gem5.md for the run behind the published table):

    gem5.opt -d m5out/rec gem5_configs/run_ailfm.py --system snuca-64 --governor ail --placement coolest \\
        --epochs 4 --window-us 50 --out runs/sampling/closed --record-traffic runs/sampling/recording.parquet

then

    python bench/gem5_sampling.py --recording runs/sampling/recording.parquet --out bench/results/gem5/sampling \\
        [--windows 50,200,1000] [--epochs N] [--workers 2] [--dask ADDRESS] [--gem5 PATH]

runs ``gem5_configs/replay_traffic.py`` once per window, each an independent gem5 process (``nice -n 5``) in a
process pool of ``--workers`` (or on the Dask scheduler at ``--dask``), longest first. A replay already in ``--out``
made from the same recording, window and epochs is not run again (delete it to redo it), so an interrupted bench
resumes; without gem5 the bench still writes the table from finished replays. A replay writes its file after every
epoch, so ``--table-only`` tabulates replays cut short over the epochs all of them finished. Writes ``sampling.csv`` and
``sampling.md`` (the errors: the same replays give the same files; ``--reference-us`` compares with a shorter window
instead, into ``sampling-vs-<W>us.*``) and ``timing.csv`` (each replay's wall seconds),
and keeps each replay's counters (``replay-<W>us.parquet``) beside them; gem5's output folders and logs go to
``--work``.
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
from pathlib import Path

import pandas as pd

from ailfm import options
from ailfm.errors import ConfigError, FormatError, ToolError
from ailfm.files import write_atomic, write_json_atomic
from ailfm.gem5_configs.sampling import read_recording, read_replay, replay_source, sampling_errors
from ailfm.plugins.engine.gem5 import interval_model
from ailfm.plugins.run.config import RunConfig
from ailfm.plugins.run.runner import load_workload
from ailfm.plugins.system.description import load_system

REPO = Path(__file__).resolve().parents[1]
REPLAY_SCRIPT = REPO / "gem5_configs" / "replay_traffic.py"


def replay_path(out: Path, window_us: float) -> Path:
    return out / f"replay-{window_us:g}us.parquet"


def finished(path: Path, source: dict) -> bool:
    """A replay file exists, was made from ``source`` (recording digest, window, epochs) and holds all its epochs."""
    if not path.exists():
        return False
    try:
        return read_replay(path).source == {**source, "epochs_done": source["epochs"]}
    except FormatError:
        return False


def gem5_command(gem5: str, recording: Path, window_us: float, epochs: int | None, out: Path,
                 work: Path) -> list[str]:
    """One replay as a niced gem5 process, its counters in ``out``, gem5's output folder in ``work``."""
    command = ["nice", "-n", "5", gem5, "-d", str(work / f"m5out-{window_us:g}us"), str(REPLAY_SCRIPT),
               "--recording", str(recording), "--window-us", f"{window_us:g}", "--out",
               str(replay_path(out, window_us))]
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
        from dask.distributed import Client

        with Client(dask) as client:
            return client.gather(client.map(run_replay, *zip(*jobs, strict=True), pure=False))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run_replay, *zip(*jobs, strict=True)))


def error_table(recording_path: Path, out: Path, windows: list[float], reference_us: float | None = None
                ) -> pd.DataFrame:
    """Each window's errors against the full-length replay (``sampling.sampling_errors``), over the epochs both
    replays hold (a replay cut short counts with the epochs it finished; ``epochs`` says how many). With
    ``reference_us``, against that window's replay instead (a check of consistency between windows, not of
    accuracy)."""
    recording = read_recording(recording_path)
    digest = replay_source(recording_path, recording, windows[0], None)["recording_sha256"]
    config = RunConfig(**recording.info["config"])
    interval = interval_model(load_system(config.system), load_workload(config))
    replays = {}
    for w in windows:
        path = replay_path(out, w)
        if not path.exists():
            raise ConfigError("windows", f"no replay at {w:g} us in {out} ({path.name})")
        replays[w] = read_replay(path)
        if replays[w].source.get("recording_sha256") != digest:
            raise FormatError(path, None, f"was replayed from another recording than {recording_path}")
    full = [w for w in windows if replays[w].source["window_s"] >= float(recording.info["epoch_s"])]
    if reference_us is not None:
        if reference_us not in replays:
            raise ConfigError("reference-us", f"{reference_us:g} us is not one of --windows")
        full = [reference_us]
    if not full:
        raise ConfigError("windows", "no full-length replay to compare with: include the epoch length "
                          f"({float(recording.info['epoch_s']) * 1e6:g} us)")
    reference = replays[full[0]]
    tables = [sampling_errors(replays[w], reference, recording, interval).assign(
        window_us=w, epochs=min(replays[w].source["epochs_done"], reference.source["epochs_done"]))
        for w in windows if w not in full]
    table = pd.concat(tables, ignore_index=True)
    return table[["window_us", "epochs", *[c for c in table.columns if c not in ("window_us", "epochs")]]]


def markdown(table: pd.DataFrame) -> str:
    """Per quantity, each window's mean and worst relative error and the bias of the chip-wide total."""
    windows = sorted(table["window_us"].unique())
    head = "| quantity | over | " + " | ".join(f"{w:g} us: mean (worst), bias" for w in windows) + " |"
    lines = [head, "|" + "---|" * (2 + len(windows))]
    for (quantity, over), rows in table.groupby(["quantity", "over"], sort=False):
        cells = []
        for w in windows:
            r = rows[rows["window_us"] == w].iloc[0]
            cells.append(f"{100 * r.mean_rel_error:.2f} % ({100 * r.worst_rel_error:.2f} %), "
                         f"{100 * r.total_bias:+.2f} %")
        lines.append(f"| {quantity} | {over} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recording", required=True, type=Path, help="run_ailfm.py --record-traffic's file")
    parser.add_argument("--out", required=True, type=Path, help="results folder")
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "gem5-sampling",
                        help="gem5's output folders (stats.txt: large) and logs (default runs/gem5-sampling)")
    parser.add_argument("--windows", default="50,200,1000", help="windows per control epoch in us, comma-separated; "
                                                                  "one must be the epoch (the reference)")
    parser.add_argument("--epochs", type=options.POSITIVE, default=None, help="replay only the first EPOCHS epochs")
    parser.add_argument("--workers", type=options.WORKERS, default=2, help="gem5 processes at once (default 2)")
    parser.add_argument("--dask", metavar="ADDRESS", default=None, help="run the replays on this Dask scheduler")
    parser.add_argument("--reference-us", type=options.number(above=0), default=None,
                        help="compare with this window's replay instead of the full-length one (consistency between "
                             "windows, written to sampling-vs-<W>us.csv/.md)")
    parser.add_argument("--table-only", action="store_true",
                        help="run no replay: the table from the replays in --out, over the epochs they finished")
    parser.add_argument("--gem5", default=os.environ.get("GEM5") or shutil.which("gem5.opt"),
                        help="gem5.opt (default: $GEM5, else gem5.opt on PATH)")
    args = parser.parse_args(argv)
    try:
        windows = sorted({options.number(above=0)(w) for w in args.windows.split(",") if w.strip()}, reverse=True)
    except argparse.ArgumentTypeError as err:
        raise ConfigError("windows", f"{err} (comma-separated microseconds)") from None
    args.out.mkdir(parents=True, exist_ok=True)
    recording = read_recording(args.recording)
    sources = {w: replay_source(args.recording, recording, w, args.epochs) for w in windows}
    todo = [w for w in windows if not finished(replay_path(args.out, w), sources[w])]  # longest first
    if todo and not args.table_only:
        if not args.gem5:
            raise ToolError(f"replays of {', '.join(f'{w:g}' for w in todo)} us are not in {args.out} and no gem5 "
                            "is given (--gem5, $GEM5 or gem5.opt on PATH)")
        print(f"replaying {args.recording} at {', '.join(f'{w:g}' for w in todo)} us "
              f"({args.workers if not args.dask else 'Dask'} at once)", flush=True)
        args.work.mkdir(parents=True, exist_ok=True)
        jobs = [(gem5_command(args.gem5, args.recording.resolve(), w, args.epochs, args.out.resolve(),
                              args.work.resolve()), args.work / f"replay-{w:g}us.log") for w in todo]
        for w, wall_s in zip(todo, run_all(jobs, args.workers, args.dask), strict=True):
            write_json_atomic(args.out / f"replay-{w:g}us.wall.json", {"window_us": w, "wall_s": wall_s})
    table = error_table(args.recording, args.out, windows, args.reference_us)
    name = "sampling" if args.reference_us is None else f"sampling-vs-{args.reference_us:g}us"
    write_atomic(args.out / f"{name}.csv", table.to_csv(index=False).encode())
    write_atomic(args.out / f"{name}.md", markdown(table).encode())
    walls = [json.loads(p.read_text()) for w in windows if (p := args.out / f"replay-{w:g}us.wall.json").exists()]
    write_atomic(args.out / "timing.csv", pd.DataFrame(walls, columns=["window_us", "wall_s"]).to_csv(
        index=False).encode())
    print(markdown(table))
    print(f"wrote {args.out}: {name}.csv, {name}.md, timing.csv")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ConfigError, FormatError, ToolError) as err:
        print(f"gem5_sampling.py: error: {err}", file=sys.stderr)
        sys.exit(1)
