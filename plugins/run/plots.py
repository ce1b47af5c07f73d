"""Comparison plots (matplotlib object API on the Agg canvas: no display needed).

Temperature and frequency timelines, per-layer heat maps of each governor's mean core temperature, and a bar chart
of the headline metrics.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ailfm.files import write_atomic
from ailfm.plugins.system.description import load_system

BAR_METRICS = ("tokens_per_s", "peak_temp_c", "energy_j", "tokens_per_j", "edp", "time_above_tmax_s", "dtm_events")


def _save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=path.suffix.lstrip("."), dpi=110, bbox_inches="tight")
    write_atomic(path, buffer.getvalue())
    return path


def _label(record: dict) -> str:
    config = record["config"]
    return config["governor"] if config["seed"] == 0 else f"{config['governor']} (seed {config['seed']})"


def plot_comparison(records: list[dict], table: pd.DataFrame, out: Path) -> list[Path]:
    """Write the four comparison figures into ``out``; return their paths."""
    paths = []
    for key, ylabel, name in (("peak_temp_C", "hottest core (C)", "temperature_timeline.png"),
                              ("mean_f_GHz", "mean core frequency (GHz)", "frequency_timeline.png")):
        figure = Figure(figsize=(8, 3.5))
        axes = figure.add_subplot()
        for record in records:
            axes.plot(record["time_s"], record[key], label=_label(record), linewidth=0.8)
        if key == "peak_temp_C":
            t_max = load_system(records[0]["config"]["system"]).thermal.t_max_C
            axes.axhline(t_max, color="black", linestyle="--", linewidth=0.8, label="T_max")
        axes.set_xlabel("time (s)")
        axes.set_ylabel(ylabel)
        axes.legend(fontsize=7, ncol=3)
        paths.append(_save(figure, out / name))
    paths.append(_save(_heat_maps(records), out / "layer_heatmaps.png"))
    paths.append(_save(_bars(table), out / "metrics.png"))
    return paths


def _heat_maps(records: list[dict]) -> Figure:
    geometry = load_system(records[0]["config"]["system"]).geometry
    maps = [r["mean_core_temp_C"].reshape(geometry.layers, geometry.tiles_y, geometry.tiles_x) for r in records]
    low, high = min(m.min() for m in maps), max(m.max() for m in maps)
    figure = Figure(figsize=(2.2 * geometry.layers + 1, 2.0 * len(records) + 0.5))
    grid = figure.subplots(len(records), geometry.layers, squeeze=False)
    image = None
    for row, (record, cube) in enumerate(zip(records, maps, strict=True)):
        for layer in range(geometry.layers):
            axes = grid[row, layer]
            image = axes.imshow(cube[layer], origin="lower", vmin=low, vmax=high, cmap="inferno")
            axes.set_xticks([])
            axes.set_yticks([])
            if row == 0:
                axes.set_title(f"layer {layer}" + (" (sink)" if layer == geometry.layers - 1 else ""), fontsize=8)
            if layer == 0:
                axes.set_ylabel(_label(record), fontsize=8)
    figure.colorbar(image, ax=grid, label="mean core temperature (C)", shrink=0.8)
    return figure


def _bars(table: pd.DataFrame) -> Figure:
    metrics = [m for m in BAR_METRICS if m in table]
    means = table.groupby("governor", sort=False)[metrics].mean()
    figure = Figure(figsize=(3.0 * len(metrics), 3.2))
    for i, metric in enumerate(metrics):
        axes = figure.add_subplot(1, len(metrics), i + 1)
        axes.bar(np.arange(len(means)), means[metric].to_numpy())
        axes.set_xticks(np.arange(len(means)), means.index, rotation=60, fontsize=7)
        axes.set_title(metric, fontsize=9)
    figure.tight_layout()
    return figure
