"""The table layout shared by ``.ptrace`` and ``.ttrace`` files.

A header line of unit names, then one line of numbers per sampling interval, whitespace-separated
(``hotspot.c::read_names`` / ``read_vals``). HotSpot knows no comments here, only blank lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ailfm.errors import FormatError
from ailfm.thermal.formats._text import significant_lines


def read_table(path: Path | str, quantity: str, *, minimum: float | None,
               strictly_above: bool) -> tuple[tuple[str, ...], np.ndarray]:
    """Names and an ``(n_rows, n_names)`` array; every value finite and above ``minimum``.

    ``strictly_above`` makes the bound exclusive (temperatures in K) rather than inclusive (power).
    """
    lines = significant_lines(path, comments=False)
    header = next(lines, None)
    if header is None:
        raise FormatError(path, None, "empty file: expected a header line of unit names")
    header_line, names = header
    seen: dict[str, int] = {}
    for k, name in enumerate(names):
        if name in seen:
            raise FormatError(path, header_line, f"unit {name!r} appears twice in the header "
                                                 f"(columns {seen[name] + 1} and {k + 1})")
        seen[name] = k
    rows: list[list[float]] = []
    for number, tokens in lines:
        if len(tokens) != len(names):
            raise FormatError(path, number, f"{len(tokens)} values for {len(names)} units in the header")
        try:
            rows.append([float(t) for t in tokens])
        except ValueError:
            bad = next(t for t in tokens if not _is_float(t))
            raise FormatError(path, number, f"{quantity} value {bad!r} is not a number") from None
    values = np.array(rows, dtype=float).reshape(len(rows), len(names))
    lower = -np.inf if minimum is None else minimum
    bad = ~np.isfinite(values) | ((values <= lower) if strictly_above else (values < lower))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        data_lines = [number for number, _ in significant_lines(path, comments=False)][1:]
        bound = f"> {lower}" if strictly_above else f">= {lower}"
        raise FormatError(path, data_lines[row], f"{quantity} of {names[col]!r} is {values[row, col]}: "
                                                 f"must be finite and {bound}")
    return tuple(names), values


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_table(names: Sequence[str], values: np.ndarray, quantity: str) -> tuple[tuple[str, ...], np.ndarray]:
    """Validate an in-memory table; return names as a tuple and a read-only float copy of values."""
    names = tuple(names)
    array = np.array(values, dtype=float)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.shape[1] != len(names):
        raise ValueError(f"{quantity} array has shape {array.shape}, expected (n_rows, {len(names)})")
    if len(set(names)) != len(names):
        raise ValueError(f"unit names repeat: {sorted(n for n in set(names) if names.count(n) > 1)}")
    for name in names:
        if not name or any(c.isspace() for c in name):
            raise ValueError(f"unit name {name!r} is empty or has whitespace")
    array.setflags(write=False)
    return names, array


def write_table(path: Path | str, names: Sequence[str], values: np.ndarray, fmt: str) -> None:
    """HotSpot's layout: tab-separated names, then tab-separated rows."""
    text = "\t".join(names) + "\n"
    if len(values):
        body = "\n".join("\t".join(fmt % v for v in row) for row in values.tolist())
        text += body + "\n"
    Path(path).write_text(text)
