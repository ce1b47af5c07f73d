"""Figures of thermal results: per-layer temperature maps and block temperature timelines.

Matplotlib through its object API with the Agg canvas (no pyplot state, no display needed), so the
functions are safe in worker processes. Inputs are in kelvin, as everywhere in ``ailfm.thermal``;
the figures show degrees Celsius.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ailfm.thermal.formats.flp import Floorplan

KELVIN_AT_0_C = 273.15
# Timelines with more blocks than this show them in grey and colour only the hottest few.
MAX_COLOURED_LINES = 8


def plot_layer_maps(maps: Mapping[str, np.ndarray], path: Path | str, *, title: str | None = None,
                    floorplans: Mapping[str, Floorplan] | Sequence[Floorplan] | None = None) -> Path:
    """Write a PNG with one panel per layer map (rows x cols, K; row 0 is the die's top edge, as in
    HotSpot's grid dumps) on one shared Celsius colour scale, so layers compare at a glance.

    ``floorplans`` (by layer name, or in the order of ``maps``) draws block outlines and puts the
    axes in millimetres; without it the axes count grid cells.
    """
    names = list(maps)
    if not names:
        raise ValueError("no layer maps to plot")
    grids_C = [np.asarray(maps[name], dtype=float) - KELVIN_AT_0_C for name in names]
    for name, grid in zip(names, grids_C, strict=True):
        if grid.ndim != 2 or not np.all(np.isfinite(grid)):
            raise ValueError(f"layer {name!r}: expected a finite rows x cols array, got shape {grid.shape}")
    outlines = _floorplans_by_layer(names, floorplans)
    norm = Normalize(min(g.min() for g in grids_C), max(g.max() for g in grids_C))
    n_cols = min(len(names), 4)
    n_rows = -(-len(names) // n_cols)
    fig = Figure(figsize=(3.6 * n_cols + 0.8, 3.4 * n_rows + (0.5 if title else 0.2)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(n_rows, n_cols, squeeze=False)).ravel()
    image = None
    for ax, name, grid in zip(axes, names, grids_C, strict=False):
        floorplan = outlines.get(name)
        if floorplan is not None:
            extent = np.array([floorplan.left_m, floorplan.left_m + floorplan.width_m,
                               floorplan.bottom_m, floorplan.bottom_m + floorplan.height_m]) * 1e3
            ax.set_xlabel("x (mm)")
        else:
            extent = (0, grid.shape[1], 0, grid.shape[0])
            ax.set_xlabel("column")
        image = ax.imshow(grid, origin="upper", extent=tuple(extent), cmap="inferno", norm=norm,
                          interpolation="nearest", aspect="equal")
        if floorplan is not None:
            for block in floorplan:
                ax.add_patch(Rectangle((block.left_m * 1e3, block.bottom_m * 1e3), block.width_m * 1e3,
                                       block.height_m * 1e3, fill=False, edgecolor="white", linewidth=0.5,
                                       alpha=0.7))
        ax.set_title(f"{name}  (max {grid.max():.1f} °C)", fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    fig.colorbar(image, ax=list(axes[:len(names)]), label="temperature (°C)", shrink=0.9)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def _floorplans_by_layer(names: list[str], floorplans: Mapping[str, Floorplan] | Sequence[Floorplan] | None
                         ) -> dict[str, Floorplan]:
    if floorplans is None:
        return {}
    if isinstance(floorplans, Mapping):
        unknown = [name for name in floorplans if name not in names]
        if unknown:
            raise ValueError(f"floorplans for unknown layers: {', '.join(unknown)}")
        return dict(floorplans)
    if len(floorplans) != len(names):
        raise ValueError(f"{len(floorplans)} floorplans for {len(names)} layer maps")
    return dict(zip(names, floorplans, strict=True))


def plot_block_timelines(times_s: np.ndarray, temperatures_K: np.ndarray, names: Sequence[str], path: Path | str,
                         *, highlight: Sequence[str] | None = None, t_max_C: float | None = None) -> Path:
    """Write a PNG of block temperatures (K, shape (n_times, n_blocks)) over time, in °C.

    ``highlight`` names the blocks drawn in colour with a legend; the rest are thin grey lines. By
    default every block is coloured when there are at most ``MAX_COLOURED_LINES``, else the hottest
    of them. ``t_max_C`` draws the temperature limit as a dashed line.
    """
    times = np.asarray(times_s, dtype=float)
    temps_C = np.asarray(temperatures_K, dtype=float) - KELVIN_AT_0_C
    names = list(names)
    if temps_C.ndim != 2 or temps_C.shape != (times.size, len(names)):
        raise ValueError(f"temperatures have shape {temps_C.shape}, expected ({times.size}, {len(names)})")
    if highlight is None:
        order = np.argsort(-temps_C.max(axis=0), kind="stable")
        coloured = order[:MAX_COLOURED_LINES] if len(names) > MAX_COLOURED_LINES else order
    else:
        index = {name: k for k, name in enumerate(names)}
        missing = [name for name in highlight if name not in index]
        if missing:
            raise ValueError(f"highlighted blocks not in names: {', '.join(missing)}")
        coloured = np.array([index[name] for name in highlight], dtype=int)
    fig = Figure(figsize=(8.0, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    grey = np.setdiff1d(np.arange(len(names)), coloured)
    if grey.size:
        ax.plot(times, temps_C[:, grey], color="0.75", linewidth=0.6)
    for k in coloured:
        ax.plot(times, temps_C[:, k], linewidth=1.4, label=names[k])
    if t_max_C is not None:
        ax.axhline(t_max_C, color="crimson", linestyle="--", linewidth=1.0, label=f"T_max {t_max_C:g} °C")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("temperature (°C)")
    ax.grid(alpha=0.3)
    if len(coloured) or t_max_C is not None:
        ax.legend(fontsize=7, ncol=2, loc="best")
    return _save(fig, path)


def _save(fig: Figure, path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=120)
    return path
