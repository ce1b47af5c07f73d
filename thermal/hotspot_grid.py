"""HotSpot's grid model of a 3D stack in the co-simulation loop: one ``hotspot`` run per epoch, restarted from the
whole grid.

Stock HotSpot 7.0 reads an init file per *block* and starts every grid cell from its block's value
(``xlate_vector_b2g``), so restarting a grid transient from block temperatures loses the gradients inside each block
(``hotspot_backend.py`` measured 4.7 K of drift in six epochs). Here HotSpot runs on the same stack with **one block
per grid cell** in every layer (``cells<n>.flp``; the spreader and sink reuse the last layer's floorplan, so they are
per-cell too). Then:

* the init file holds every cell of every layer, spreader and sink included: the restart is HotSpot's own grid;
* each epoch's ``-grid_transient_file`` holds every cell at the end of the epoch, which becomes the next init file;
* HotSpot prints temperatures with two decimals (``%.2f`` K), and a slow node (spreader, sink, a far layer) changes
  by less than that in a 50 us step, so a restart every sub-step would round its drift away. Without the leakage loop
  or the package model's natural convection HotSpot's grid model is linear in power over ambient, so every run is
  given ``PRECISION_SCALE`` times the power and the state's rise over ambient, and its output rises are divided by
  the same factor: the real tool's own solution, printed with ``PRECISION_SCALE`` times finer resolution (its RK4
  step-error bound, 0.01 K absolute, tightens by the same factor);
* block power goes onto cells exactly as HotSpot maps a block floorplan (``xlate_vector_b2g``: occupancy x power
  density x cell area) and block temperatures are read back as HotSpot reads them (``grid_map_mode``), both through
  ``GridCircuit``'s maps of the real floorplans (``thermal/grid.py``); the test checks them against HotSpot run on
  the block floorplans.

The twelve package nodes (``inode_0..11``: the spreader and sink outside the die) are the one part of the state no
HotSpot 7.0 output holds after a transient (``-steady_file`` is the steady state; the grid dumps have cells only).
They are advanced here by HotSpot's own package equations (``slope_fn_pack``; the same conductances and
capacitances, from ``GridCircuit``) driven by HotSpot's spreader and sink edge cells, taken linear in time between
the start and the end of the epoch (tests/thermal/test_hotspot_grid.py checks every node, these included, against
the built-in grid model through the same files).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import scipy.linalg as la

from ailfm.errors import ConfigError, FormatError, ToolError
from ailfm.thermal.base import ThermalModel
from ailfm.thermal.formats import (
    Block,
    Floorplan,
    HotSpotConfig,
    LcfLayer,
    read_grid_transient,
    read_steady,
    write_config,
    write_flp,
    write_lcf,
    write_steady,
)
from ailfm.thermal.grid import N_PACKAGE, GridCircuit, build_grid_circuit
from ailfm.thermal.hotspot_backend import find_hotspot, run_hotspot
from ailfm.thermal.model import CircuitState, make_solver

# HotSpot 7.0 reads at most MAX_UNITS power columns (flp.h, hotspot.c read_names) and lines of at most
# LINE_SIZE - 1 characters (util.h; longer ones are "line too long").
HOTSPOT_MAX_UNITS = 8192
HOTSPOT_LINE_SIZE = 65536
# Cell powers in the trace: 7 significant digits keep 4096 columns under LINE_SIZE (at most 13 characters each).
POWER_FORMAT = "%.7g"
POWER_FIELD_MAX_CHARS = 13
#: Power and rise scale of each HotSpot run (module docstring): HotSpot's 0.01 K print step becomes 1e-4 K. Measured
#: need: 1000 restarts at 50 us lost up to 1.66 K unscaled (docs/ailfm-hotspot.md); the rounding each restart can
#: lose is at most 0.005 K / PRECISION_SCALE, 0.05 K over 1000 restarts at 100.
PRECISION_SCALE = 100.0


def cell_names(layer: int, n_cells: int) -> list[str]:
    """The blocks of LCF layer ``layer``: ``l<layer>c<k>`` covers grid cell ``k = row * cols + col`` (row 0 at the
    top of the die, as HotSpot numbers cells). Unique across layers, so a power trace names each column once."""
    return [f"l{layer}c{k}" for k in range(n_cells)]


def cell_floorplan(layer: int, rows: int, cols: int, width_m: float, height_m: float) -> Floorplan:
    """One block per grid cell, in HotSpot's cell order: block ``k`` covers exactly cell ``k``."""
    cw, ch = width_m / cols, height_m / rows
    names = cell_names(layer, rows * cols)
    return Floorplan(tuple(Block(names[i * cols + j], cw, ch, j * cw, height_m - (i + 1) * ch)
                           for i in range(rows) for j in range(cols)))


class HotSpotGridModel(CircuitState, ThermalModel):
    """A real ``hotspot`` binary stepping a 3D stack's grid model, one run per epoch, restarted from its grid.

    Parameters
    ----------
    config : HotSpotConfig
        The grid model's configuration (``grid_rows``, ``grid_cols``, ``ambient``, package, ``grid_map_mode``);
        written once as the run's ``-c`` file.
    layers : sequence of LcfLayer
        The stack (e.g. ``read_lcf`` of ``floorplan_gen.write_stack``); their floorplans are read once.
    executable : path, optional
        The binary; default ``$HOTSPOT``, else ``hotspot`` on ``PATH`` (``ToolError`` when neither exists).
    timeout_s : float
        Wall-time limit of one HotSpot run.
    """

    def __init__(self, config: HotSpotConfig, layers: Sequence[LcfLayer], *,
                 executable: str | os.PathLike | None = None, timeout_s: float = 600.0):
        if config.detailed_3D:
            raise ConfigError("detailed_3D", "per-block materials (-detailed_3D on) are not supported by the "
                                             "HotSpot thermal model, which runs HotSpot on one block per grid cell")
        self.executable = find_hotspot(executable)
        self.timeout_s = float(timeout_s)
        self.circuit = circuit = build_grid_circuit(config, layers=layers)
        self.power_names = circuit.power_names
        self.output_names = circuit.output_names
        self.ambient_K = float(config.ambient)
        self._init_K = float(config.init_temp)
        #: HotSpot solves a nonlinear model with leakage or natural convection (package model): run it unscaled then
        self.scale = 1.0 if config.leakage_used or config.package_model_used else PRECISION_SCALE
        n_cells, n_chip = circuit.n_cells, len(circuit.layers)
        self._power_cells = np.concatenate([np.arange(n * n_cells, (n + 1) * n_cells)
                                            for n, layer in enumerate(circuit.layers) if layer.has_power])
        self._power_header = "\t".join(name for n, layer in enumerate(circuit.layers) if layer.has_power
                                       for name in cell_names(n, n_cells))
        n_columns = len(self._power_cells)
        longest_line = max(len(self._power_header), n_columns * POWER_FIELD_MAX_CHARS)
        if n_columns > HOTSPOT_MAX_UNITS or longest_line >= HOTSPOT_LINE_SIZE - 1:
            raise ConfigError("grid_rows", f"{n_columns // n_cells} power layers x {circuit.rows}x{circuit.cols} cells "
                                           f"= {n_columns} cell powers: more than the {HOTSPOT_MAX_UNITS} units or "
                                           f"{HOTSPOT_LINE_SIZE - 1}-character lines HotSpot 7.0 reads; use fewer "
                                           "grid cells")
        last = cell_names(n_chip - 1, n_cells)  # the spreader and sink reuse the last layer's floorplan
        #: every node of the grid HotSpot runs, by its name there (the restart file's names, in order)
        self.cell_node_names = ([f"layer_{n}_{name}" for n in range(n_chip) for name in cell_names(n, n_cells)]
                                + [f"hsp_{name}" for name in last] + [f"hsink_{name}" for name in last]
                                + [f"inode_{k}" for k in range(N_PACKAGE)])
        self._package = _PackageNodes(circuit)
        self._scratch = tempfile.TemporaryDirectory(prefix="ailfm-hotspot-grid-")
        self.directory = Path(self._scratch.name)
        self._flags = self._write_inputs(config, layers)
        self.reset()

    def _write_inputs(self, config: HotSpotConfig, layers: Sequence[LcfLayer]) -> dict[str, str]:
        """Per-cell floorplans, the stack's LCF over them and the configuration; the flags of every run."""
        folder, circuit = self.directory, self.circuit
        cell_layers = []
        for n, layer in enumerate(sorted(layers, key=lambda layer: layer.number)):
            path = folder / f"cells{n}.flp"
            write_flp(path, cell_floorplan(n, circuit.rows, circuit.cols, circuit.width_m, circuit.height_m))
            cell_layers.append(replace(layer, floorplan_path=path, floorplan=None))
        write_lcf(folder / "cells.lcf", cell_layers)
        write_config(folder / "hotspot.config", config)
        return {"c": str(folder / "hotspot.config"), "model_type": "grid",
                "grid_layer_file": str(folder / "cells.lcf"), "p": str(folder / "power.ptrace"),
                "init_file": "(null)", "steady_file": "(null)", "grid_steady_file": "(null)",
                "grid_transient_file": "(null)"}

    # ---- running HotSpot ---------------------------------------------------------------------------------
    def _run(self, power: np.ndarray, extra: Mapping[str, str], scale: float) -> None:
        node_power = self.circuit.network.power_to_node @ (power * scale)
        row = "\t".join(POWER_FORMAT % p for p in node_power[self._power_cells].tolist())
        (self.directory / "power.ptrace").write_text(f"{self._power_header}\n{row}\n")
        run_hotspot(self.executable, {**self._flags, **extra}, cwd=self.directory, timeout_s=self.timeout_s)

    def _read(self, reader, path: Path):
        try:
            return reader(path)
        except (FormatError, FileNotFoundError) as err:
            raise ToolError(f"{self.executable} did not write a readable {path.name}: {err}") from None

    # ---- the ThermalModel API ------------------------------------------------------------------------------
    def step(self, power_W: np.ndarray, dt_s: float) -> np.ndarray:
        """One HotSpot transient of ``dt_s`` (one ptrace row) from the current grid; return block temperatures."""
        power = self.check_power(power_W)
        if not (np.isfinite(dt_s) and dt_s > 0):
            raise ValueError(f"dt_s must be finite and > 0, got {dt_s}")
        folder = self.directory
        # a state far below ambient (a start colder than ambient) would scale to a temperature below 0 K
        scale = self.scale if self.ambient_K + self.scale * self._theta.min() > 0 else 1.0
        write_restart_file(folder / "state.init", self.cell_node_names, self._theta * scale + self.ambient_K)
        grid_file = folder / "grid.ttrace"
        grid_file.unlink(missing_ok=True)  # HotSpot appends to it
        self._run(power, {"o": str(folder / "out.ttrace"), "init_file": str(folder / "state.init"),
                          "grid_transient_file": str(grid_file), "sampling_intvl": repr(float(dt_s))}, scale)
        cells = self._cells_of(self._read(read_grid_transient, grid_file))
        theta = np.empty_like(self._theta)
        theta[:-N_PACKAGE] = (cells - self.ambient_K) / scale
        theta[-N_PACKAGE:] = self._package.advance(self._theta, theta, dt_s)
        self._theta = theta
        return self.temperatures()

    def _cells_of(self, steps: list[tuple[float, list[np.ndarray]]]) -> np.ndarray:
        circuit = self.circuit
        layers = steps[-1][1]
        if len(steps) != 1 or len(layers) != circuit.n_layers or any(a.size != circuit.n_cells for a in layers):
            raise ToolError(f"{self.executable} wrote {len(steps)} steps of {len(layers)} layers to its grid "
                            f"transient file; expected 1 step of {circuit.n_layers} layers of {circuit.n_cells} cells")
        return np.concatenate(layers)

    def steady(self, power_W: np.ndarray) -> np.ndarray:
        """HotSpot's steady state (``-steady_file`` of every cell) read back per block; the state is unchanged."""
        power = self.check_power(power_W)
        steady_file = self.directory / "out.steady"
        steady_file.unlink(missing_ok=True)
        self._run(power, {"steady_file": str(steady_file)}, self.scale)
        values = self._read(read_steady, steady_file)
        missing = [name for name in self.cell_node_names if name not in values]
        if missing:
            raise ToolError(f"{self.executable} wrote no {missing[0]} to {steady_file}")
        theta = (np.array([values[name] for name in self.cell_node_names]) - self.ambient_K) / self.scale
        return self.circuit.outputs(theta) + self.ambient_K

    @property
    def steady_gain_K_per_W(self) -> np.ndarray:
        """Steady rise of every output per watt of every input, of the same circuit solved by the built-in solver
        (a governor's thermal-resistance estimate; from HotSpot it would take one run per block)."""
        solver = make_solver(self.circuit, "sparse")
        unit = self.circuit.network.power_to_node.toarray()
        return np.stack([self.circuit.outputs(solver.steady(unit[:, j])) for j in range(unit.shape[1])], axis=1)

    def reset(self, init: float | Mapping[str, float] | None = None) -> None:
        init = self._init_K if init is None else init
        if isinstance(init, Mapping):
            self._theta = self.circuit.theta_from_named({k: float(v) - self.ambient_K for k, v in init.items()})
        else:
            self._theta = np.full(self.circuit.network.n_nodes, float(init) - self.ambient_K)

    def close(self) -> None:
        """Delete the scratch directory (floorplan, LCF, config, traces, restart file)."""
        self._scratch.cleanup()


def write_restart_file(path: Path, node_names: Sequence[str], temperatures_K: np.ndarray) -> None:
    """The whole grid state as a HotSpot init file over the per-cell floorplans: ``layer_<n>_l<n>c<k>`` for every
    cell of LCF layer n, ``hsp_l<L>c<k>`` and ``hsink_l<L>c<k>`` (L the last layer) for the spreader and sink, then
    ``inode_0..11`` (``name<TAB>%.2f`` K, HotSpot's ``dump_temp`` format)."""
    write_steady(path, dict(zip(node_names, temperatures_K.tolist(), strict=True)))


class _PackageNodes:
    """HotSpot's twelve package nodes over one epoch, driven by the spreader and sink cells next to them.

    ``C_x dx/dt = -G_xx x - G_xe e(t)`` (rises over ambient; ``slope_fn_pack``), with the cells ``e`` linear in time
    from the epoch's start to its end; solved exactly as one matrix exponential of the system augmented by the
    forcing's constant and slope.
    """

    def __init__(self, circuit: GridCircuit):
        network = circuit.network
        rows = network.conductance_W_per_K[-N_PACKAGE:]
        capacitance = network.capacitance_J_per_K[-N_PACKAGE:]
        self._drift = -rows[:, -N_PACKAGE:].toarray() / capacitance[:, None]
        self._coupling = -rows[:, :-N_PACKAGE].multiply(1.0 / capacitance[:, None]).tocsr()

    def advance(self, theta_start: np.ndarray, theta_end: np.ndarray, dt_s: float) -> np.ndarray:
        """Package-node rises at the end of the epoch, from the start state and the end state's cells."""
        forcing_start = self._coupling @ theta_start[:-N_PACKAGE]
        forcing_end = self._coupling @ theta_end[:-N_PACKAGE]
        n = N_PACKAGE
        augmented = np.zeros((n + 2, n + 2))
        augmented[:n, :n] = self._drift
        augmented[:n, n] = forcing_start
        augmented[:n, n + 1] = (forcing_end - forcing_start) / dt_s
        augmented[n + 1, n] = 1.0
        start = np.concatenate([theta_start[-N_PACKAGE:], [1.0, 0.0]])
        return (la.expm(augmented * dt_s) @ start)[:n]
