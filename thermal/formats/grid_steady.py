"""HotSpot grid temperature dumps: ``-grid_steady_file`` and ``-grid_transient_file``.

``dump_steady_temp_grid`` (temperature_grid.c) writes, for every layer of the model including the
spreader and sink it appends (so an LCF of n layers gives n + 2; issue #14)::

    Layer <n>:
    <i*cols + j>\\t<temperature K, %.2f>        for row i (0 = top edge of the die), column j

``dump_transient_temp_grid`` appends the same block after a line ``t = <time s, %lf>`` for every
power row. Neither file records rows and cols; callers reshape with the grid they ran.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ailfm.errors import FormatError
from ailfm.thermal.formats._text import parse_float, significant_lines


def read_grid_steady(path: Path | str) -> list[np.ndarray]:
    """One flat array per layer (length rows*cols, row-major), in file order."""
    (_, layers), = _read_blocks(path, timed=False)
    return layers


def read_grid_transient(path: Path | str) -> list[tuple[float, list[np.ndarray]]]:
    """``[(time_s, layers), ...]`` for every ``t = ...`` block of a grid transient file."""
    return _read_blocks(path, timed=True)


def _read_blocks(path: Path | str, *, timed: bool) -> list[tuple[float, list[np.ndarray]]]:
    blocks: list[tuple[float, list[np.ndarray]]] = []
    cells: list[float] = []
    layer_lines: list[int] = []
    n_cells: int | None = None

    def close_layer(at_line: int | None) -> None:
        nonlocal n_cells
        if not blocks or not layer_lines:
            return
        if n_cells is None:
            n_cells = len(cells)
        if len(cells) != n_cells or not cells:
            raise FormatError(path, layer_lines[-1], f"layer has {len(cells)} cells, the first layer {n_cells}")
        blocks[-1][1].append(np.array(cells))
        cells.clear()
        layer_lines.clear()

    for number, tokens in significant_lines(path):
        if tokens[0] == "t" and timed:
            if len(tokens) != 3 or tokens[1] != "=":
                raise FormatError(path, number, f"expected 't = <time>', got {' '.join(tokens)!r}")
            close_layer(number)
            blocks.append((parse_float(path, number, tokens[2], "time"), []))
        elif tokens[0] == "Layer":
            if not blocks and timed:
                raise FormatError(path, number, "'Layer' before the first 't = <time>' line")
            if not blocks:
                blocks.append((0.0, []))
            close_layer(number)
            expected = f"{len(blocks[-1][1])}:"
            if len(tokens) != 2 or tokens[1] != expected:
                raise FormatError(path, number, f"expected 'Layer {expected}', got {' '.join(tokens)!r}")
            layer_lines.append(number)
        else:
            if not layer_lines:
                raise FormatError(path, number, f"expected 'Layer {len(blocks[-1][1]) if blocks else 0}:' "
                                                f"before cell values, got {' '.join(tokens)!r}")
            if len(tokens) != 2 or tokens[0] != str(len(cells)):
                raise FormatError(path, number, f"expected '{len(cells)} <temperature>', got {' '.join(tokens)!r}")
            value = parse_float(path, number, tokens[1], f"temperature of cell {len(cells)}")
            if value <= 0:
                raise FormatError(path, number, f"temperature of cell {len(cells)} is {value}: must be > 0 K")
            cells.append(value)
    if layer_lines:
        close_layer(None)
    if not blocks or not blocks[-1][1]:
        raise FormatError(path, None, "no layers in file")
    counts = {len(layers) for _, layers in blocks}
    if len(counts) != 1:
        raise FormatError(path, None, f"time steps have different numbers of layers: {sorted(counts)}")
    return blocks


def _layer_text(layers: Sequence[np.ndarray]) -> str:
    flat = [np.asarray(layer, dtype=float).ravel() for layer in layers]
    if not flat or len({f.size for f in flat}) != 1 or flat[0].size == 0:
        raise ValueError("give one or more non-empty layers of the same size")
    for f in flat:
        if not np.all(np.isfinite(f)) or np.any(f <= 0):
            raise ValueError("grid temperatures must be finite and > 0 K")
    parts = []
    for n, f in enumerate(flat):
        parts.append(f"Layer {n}:\n")
        parts.append("".join(f"{i}\t{v:.2f}\n" for i, v in enumerate(f.tolist())))
    return "".join(parts)


def write_grid_steady(path: Path | str, layers: Sequence[np.ndarray]) -> None:
    """Write layers (rows x cols arrays, or flat row-major) exactly as HotSpot's grid steady dump."""
    Path(path).write_text(_layer_text(layers))


def append_grid_transient(path: Path | str, time_s: float, layers: Sequence[np.ndarray]) -> None:
    """Append one ``t = <time>`` block, as HotSpot does after each power row (``%lf`` time)."""
    with Path(path).open("a") as out:
        out.write(f"t = {time_s:f}\n" + _layer_text(layers))
