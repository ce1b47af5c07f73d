"""Side-by-side table of gem5 runs: ``python -m ailfm.gem5_configs.collect DIR... [--csv FILE]``.

Each ``run_ailfm.py`` process writes one ``summary.json``; this reads several (for example AIL, ondemand and the
stock-DVFS baseline on the same scenario) into one table with ``ailfm compare``'s columns, plus the initial
placement, the DVFS mode and gem5's wall time per epoch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa

from ailfm.errors import AilfmError, FormatError
from ailfm.files import load_document, require, write_atomic
from ailfm.plugins.run.cli import TABLE_COLUMNS
from ailfm.plugins.run.runner import per_joule

EXTRA_COLUMNS = ("tokens", "requests_finished", "dvfs", "gem5_window_s", "gem5_wall_s_per_epoch")


def collect(run_dirs: list[str | Path]) -> pd.DataFrame:
    """One row per run directory: its name, governor, DVFS mode and summary metrics."""
    rows = []
    for folder in map(Path, run_dirs):
        path = folder / "summary.json"
        summary, lines = load_document(path)  # names the file and line of a malformed or non-UTF-8 summary
        if not isinstance(summary, dict):
            raise FormatError(path, None, "not a run summary (expected a JSON object)")
        config = summary.get("config")
        config = config if isinstance(config, dict) else {}
        # runs before --placement existed started every governor from its own placement
        row = {"run": folder.name, "governor": config.get("governor"), "placement": config.get("placement", "own")}
        summary.update(per_joule(summary))
        row.update({key: summary.get(key) for key in TABLE_COLUMNS[1:] + EXTRA_COLUMNS})
        energy_j = require(summary, "energy_j", lines, float) if summary.get("energy_j") is not None else None
        row.update(work_done(folder / "timeline.parquet", energy_j))
        rows.append(row)
    return pd.DataFrame(rows)


def work_done(timeline_path: Path, energy_j: float | None) -> dict:
    """Instructions the run retired, per joule too: the comparable throughput when no token finishes in a short run
    (20 ms of Llama-2-7B prefill, say). NaN without a timeline."""
    if not timeline_path.exists():
        return {"g_instructions": float("nan"), "g_instructions_per_j": float("nan")}
    try:
        instructions = pd.read_parquet(timeline_path, columns=["instructions"])["instructions"]
    except (OSError, ValueError, KeyError, pa.ArrowException) as err:
        raise FormatError(timeline_path, None, f"not a run timeline with an instructions column ({err})") from None
    giga = float(instructions.sum()) / 1e9
    return {"g_instructions": giga, "g_instructions_per_j": giga / energy_j if energy_j else float("nan")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ailfm.gem5_configs.collect", description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="output directories of run_ailfm.py")
    parser.add_argument("--csv", help="also write the table here")
    args = parser.parse_args(argv)
    try:
        table = collect(args.runs)
    except AilfmError as err:
        print(f"collect: error: {err}", file=sys.stderr)
        return 2
    if args.csv:
        try:
            write_atomic(args.csv, table.to_csv(index=False).encode())
        except OSError as err:
            print(f"collect: error: --csv: cannot write {args.csv}: {err.strerror}", file=sys.stderr)
            return 2
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
