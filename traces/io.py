"""Trace files: Parquet (``.parquet``) or CSV (``.csv``), columns :data:`ailfm.traces.schema.TRACE_COLUMNS`.

Reading validates every column once, so the engine can trust the frame: a missing column, a value of
the wrong type, a negative count, an unknown phase or kernel type raise :class:`FormatError` naming
the file, the row (the CSV line number, or the 0-based row of a Parquet file) and the column.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ailfm.errors import FormatError
from ailfm.files import read_text
from ailfm.traces.decompose import KernelType
from ailfm.traces.schema import PHASES, TRACE_COLUMNS, trace_dtypes

_NON_NEGATIVE = ("arrival_s", "step", "work_units", "flops", "bytes", "instructions_per_thread",
                 "llc_accesses_per_thread", "dram_misses_per_thread", "working_set_bytes_per_thread", "base_cpi",
                 "activity", "tokens", "instance", "request")


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise FormatError(path, None, f"unknown trace format {suffix or '(none)'!r}; use .parquet or .csv")
    return suffix


def write_trace(path: str | Path, trace: pd.DataFrame) -> Path:
    """Write ``trace`` as Parquet or CSV (by suffix) after checking it; returns the path."""
    path = Path(path)
    suffix = _suffix(path)
    trace = validate_trace(trace, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        trace.to_parquet(path, index=False)
    else:
        trace.to_csv(path, index=False)
    return path


def read_trace(path: str | Path) -> pd.DataFrame:
    """Read and validate a trace file (Parquet or CSV); see the module docstring for the errors."""
    path = Path(path)
    suffix = _suffix(path)
    if not path.is_file():
        raise FormatError(path, None, "no such trace file")
    source = path if suffix == ".parquet" else io.StringIO(read_text(path))  # UTF-8 defects named with their line
    try:
        raw = pd.read_parquet(source) if suffix == ".parquet" else pd.read_csv(source, keep_default_na=False)
    except (OSError, ValueError, pa.ArrowException, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise FormatError(path, None, f"cannot read the trace: {err}") from None
    return validate_trace(raw, path)


def validate_trace(raw: pd.DataFrame, path: str | Path = "<trace>") -> pd.DataFrame:
    """Check columns, types and ranges; return a frame with :data:`TRACE_COLUMNS` dtypes in that order."""
    csv_lines = Path(str(path)).suffix.lower() == ".csv"

    def fail(row: int, column: str, message: str):
        if csv_lines:
            raise FormatError(path, row + 2, f"column {column}: {message}")
        raise FormatError(path, None, f"row {row}, column {column}: {message}")

    missing = [c for c in TRACE_COLUMNS if c not in raw.columns]
    if missing:
        raise FormatError(path, 1 if csv_lines else None, f"missing column(s) {', '.join(missing)}")
    out = {}
    for column, dtype in TRACE_COLUMNS.items():
        values = raw[column].reset_index(drop=True)
        if dtype == "category":
            allowed = {"phase": PHASES, "kernel": tuple(k.value for k in KernelType)}.get(column)
            if allowed is not None and not set(map(str, pd.unique(values))) <= set(allowed):
                bad = ~values.astype(str).isin(allowed)
                row = int(np.flatnonzero(bad.to_numpy())[0])
                fail(row, column, f"{values.iloc[row]!r} is not one of {', '.join(allowed)}")
            out[column] = values.astype(str) if not isinstance(values.dtype, pd.CategoricalDtype) else values
            continue
        numbers = pd.to_numeric(values, errors="coerce")
        bad = numbers.isna() | ~np.isfinite(numbers.to_numpy(dtype=float, na_value=np.nan))
        if dtype.startswith("int"):
            finite = numbers.where(np.isfinite(numbers.to_numpy(dtype=float, na_value=np.nan)), 0).fillna(0)
            bad |= (finite != finite.round()) | (finite.abs() > np.iinfo(dtype).max)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            kind = f"an integer of magnitude <= {np.iinfo(dtype).max}" if dtype.startswith("int") else "a finite number"
            fail(row, column, f"expected {kind}, got {values.iloc[row]!r}")
        if column in _NON_NEGATIVE and (numbers < 0).any():
            row = int(np.flatnonzero((numbers < 0).to_numpy())[0])
            fail(row, column, f"must be >= 0, got {values.iloc[row]!r}")
        out[column] = numbers
    trace = pd.DataFrame(out).astype(trace_dtypes())
    for column in ("threads", "active_threads"):
        if (trace[column] < 1).any():
            fail(int(np.flatnonzero((trace[column] < 1).to_numpy())[0]), column, "must be >= 1")
    over = trace["active_threads"] > trace["threads"]
    if over.any():
        fail(int(np.flatnonzero(over.to_numpy())[0]), "active_threads", "exceeds threads")
    if (trace["activity"] > 1).any():
        fail(int(np.flatnonzero((trace["activity"] > 1).to_numpy())[0]), "activity", "must be <= 1")
    trace.attrs.update(getattr(raw, "attrs", {}))
    return trace
