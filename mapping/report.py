"""Plots of a mapping search: convergence, per-chiplet Gantt chart, latency/energy Pareto front, and with the thermal
evaluation a package heat map and a temperature / throttling timeline (Agg backend)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ailfm.mapping.evaluator import Details
from ailfm.mapping.thermal import KELVIN, ThermalDetails
from ailfm.mapping.workload import STAGES

STAGE_COLOURS = dict(zip(STAGES, ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3"), strict=True))


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def plot_convergence(log: Sequence[dict], path: Path, references: dict[str, float] | None = None) -> Path:
    """Best and mean EDP per generation, with horizontal lines for reference EDPs (baselines)."""
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    gen = [row["generation"] for row in log]
    ax.semilogy(gen, [row["best_edp"] for row in log], label="GA best")
    ax.semilogy(gen, [row["mean_edp"] for row in log], alpha=0.5, label="GA population mean")
    for i, (name, value) in enumerate((references or {}).items()):
        ax.axhline(value, ls="--", lw=0.8, color=f"C{i + 2}", label=name)
    ax.set_xlabel("generation")
    ax.set_ylabel("EDP (J s)")
    ax.legend(fontsize=7)
    return _save(fig, path)


def plot_gantt(details: Details, stage_of_layer: np.ndarray, n_chiplets: int, path: Path) -> Path:
    """Jobs per chiplet over time (iterations one after another), coloured by stage."""
    fig = Figure(figsize=(9, max(3, 0.18 * n_chiplets + 1)))
    ax = fig.add_subplot()
    n_it, n_mb, n_l = details.start_s.shape
    ends = np.cumsum(details.evaluation.iteration_latency_s[0])
    start = details.start_s + np.concatenate([[0.0], ends[:-1]])[:, None, None]  # iterations one after another
    dur = details.finish_s - details.start_s
    chip = np.broadcast_to(details.chiplet, start.shape)
    stage = np.broadcast_to(np.asarray(stage_of_layer), start.shape)
    shown = dur > 0
    for c in np.unique(chip[shown]):  # one bar collection per (chiplet, stage): fast to draw
        for name, colour in STAGE_COLOURS.items():
            sel = shown & (chip == c) & (stage == name)
            if sel.any():
                ax.broken_barh(list(zip(1e3 * start[sel], 1e3 * dur[sel], strict=True)), (c - 0.4, 0.8),
                               color=colour, lw=0)
    for end in ends:
        ax.axvline(1e3 * end, color="k", lw=0.5)
    ax.set_xlabel("time (ms); vertical lines end each iteration")
    ax.set_ylabel("chiplet")
    ax.set_ylim(-1, n_chiplets)
    handles = [ax.bar(0, 0, color=c, label=s) for s, c in STAGE_COLOURS.items()]
    ax.legend(handles=handles, fontsize=7, ncol=5, loc="upper right")
    return _save(fig, path)


def plot_pareto(points: dict[str, np.ndarray], path: Path,
                axes: tuple[str, str, float] = ("latency (ms)", "energy (J)", 1e3)) -> Path:
    """Latency vs energy: each entry is an (n, 2) array of (latency s, energy J) points (``axes``: the labels and
    the x scale of other pairs, e.g. EDP vs peak temperature)."""
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    for i, (name, pts) in enumerate(points.items()):
        pts = np.atleast_2d(pts)
        order = np.argsort(pts[:, 0])
        style = "-o" if len(pts) > 1 else "s"
        ax.plot(axes[2] * pts[order, 0], pts[order, 1], style, ms=3, color=f"C{i}", label=name)
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    ax.legend(fontsize=7)
    return _save(fig, path)


def plot_package_heatmap(details: ThermalDetails, mesh_cols: int, mesh_rows: int, t_max_K: float,
                         path: Path) -> Path:
    """Each chiplet's peak temperature over the run (C), laid out as on the package's mesh."""
    peak = details.temperature_K.max(axis=0, initial=-np.inf)
    peak = np.maximum(peak, details.initial_K) - KELVIN
    grid = peak.reshape(mesh_rows, mesh_cols)
    fig = Figure(figsize=(1.0 + 0.8 * mesh_cols, 0.6 + 0.8 * mesh_rows))
    ax = fig.add_subplot()
    image = ax.imshow(grid, origin="lower", cmap="inferno")
    for (y, x), value in np.ndenumerate(grid):
        hot = value > t_max_K - KELVIN
        ax.text(x, y, f"{value:.0f}", ha="center", va="center", fontsize=7, color="black" if hot else "white",
                fontweight="bold" if hot else "normal")
    fig.colorbar(image, ax=ax, label="peak temperature (C)")
    ax.set_xlabel(f"mesh column (bold black: above T_max = {t_max_K - KELVIN:.0f} C)")
    ax.set_ylabel("mesh row")
    return _save(fig, path)


def plot_temperature_timeline(details: ThermalDetails, t_max_K: float, path: Path) -> Path:
    """Chiplet temperatures over the run (the hottest six named) with T_max, and when each chiplet throttled."""
    fig = Figure(figsize=(9, 5.5))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": (2, 1)})
    t_ms = 1e3 * details.time_s
    temps = details.temperature_K - KELVIN
    hottest = np.argsort(temps.max(axis=0))[::-1]
    for rank, c in enumerate(hottest):
        named = rank < 6
        top.plot(t_ms, temps[:, c], lw=1.0 if named else 0.5, color=f"C{rank}" if named else "0.7",
                 label=f"chiplet {c}" if named else None, zorder=2 if named else 1)
    top.axhline(t_max_K - KELVIN, ls="--", color="k", lw=0.8, label="T_max")
    top.set_ylabel("temperature (C)")
    top.legend(fontsize=7, ncol=4)
    n_ch = temps.shape[1]
    bottom.imshow(details.throttled.T, aspect="auto", interpolation="nearest", cmap="Greys", vmin=0, vmax=1,
                  extent=(0.0, t_ms[-1] if len(t_ms) else 1.0, n_ch - 0.5, -0.5))
    bottom.set_ylabel("chiplet (black: throttled)")
    bottom.set_xlabel("time (ms)")
    return _save(fig, path)
