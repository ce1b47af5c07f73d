"""Plots: valid PNG files of nonzero size, shared colour scale inputs checked, clear errors."""

from __future__ import annotations

import matplotlib.image
import numpy as np
import pytest
from system_chip import system_chip

from ailfm.thermal.floorplan_gen import build_stack
from ailfm.thermal.plots import plot_block_timelines, plot_layer_maps

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _assert_png(path):
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    height, width, _ = matplotlib.image.imread(path).shape
    assert height > 100 and width > 100


def test_layer_maps_with_and_without_floorplans(tmp_path):
    chip = system_chip(tile_layers=2, tile_rows=2, tile_cols=2)
    floorplans, _ = build_stack(chip)
    rng = np.random.default_rng(0)
    maps = {f"layer{k}": 330.0 + 20.0 * rng.random((16, 16)) for k in range(len(floorplans))}
    out = plot_layer_maps(maps, tmp_path / "sub" / "maps.png", title="test", floorplans=floorplans)
    _assert_png(out)
    _assert_png(plot_layer_maps({"only": np.full((4, 8), 300.0)}, tmp_path / "plain.png"))
    keyed = plot_layer_maps(maps, tmp_path / "keyed.png", floorplans={"layer0": floorplans[0]})
    _assert_png(keyed)


def test_layer_maps_reject_bad_input(tmp_path):
    with pytest.raises(ValueError, match="no layer maps"):
        plot_layer_maps({}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="rows x cols"):
        plot_layer_maps({"a": np.ones(5)}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="2 floorplans for 1 layer maps"):
        floorplans, _ = build_stack(system_chip(tile_layers=1))
        plot_layer_maps({"a": np.ones((2, 2))}, tmp_path / "x.png", floorplans=floorplans)


def test_block_timelines(tmp_path):
    times = np.arange(1, 51) * 1e-3
    temps = 320.0 + np.cumsum(np.ones((50, 12)), axis=0) * np.linspace(0.1, 1.0, 12)
    names = [f"core{k}" for k in range(12)]
    _assert_png(plot_block_timelines(times, temps, names, tmp_path / "t.png", t_max_C=80.0))
    _assert_png(plot_block_timelines(times, temps[:, :3], names[:3], tmp_path / "few.png"))
    _assert_png(plot_block_timelines(times, temps, names, tmp_path / "h.png", highlight=["core3"]))
    with pytest.raises(ValueError, match="not in names: core99"):
        plot_block_timelines(times, temps, names, tmp_path / "x.png", highlight=["core99"])
    with pytest.raises(ValueError, match="expected \\(50, 11\\)"):
        plot_block_timelines(times, temps, names[:11], tmp_path / "x.png")
