"""The built-in thermal model: a ThermalCircuit (block or grid) advanced by an RCSolver, behind ``ThermalModel``.

Build once with :func:`build_thermal_model` from a ``HotSpotConfig`` and a floorplan (block model) or
layers (grid model); then ``step(power_W, dt_s)`` per epoch, ``steady(power_W)`` when needed. The state is
the vector of node temperature rises over ambient; nothing touches files after construction.

HotSpot behaviours reproduced here, beyond the linear circuit:

* ``dtm_used``: an init file whose hottest block exceeds ``thermal_threshold`` is scaled down (every rise
  by the same factor) so that block sits at the threshold (HotSpot's ``read_temp`` clipping).
* ``leakage_used``: steady state with HotSpot's temperature-dependent leakage, iterated to 0.01 K;
  transients ignore leakage, as HotSpot 7.0's do.
* Natural convection (package model): steady state iterates ``r_convec`` against the mean sink
  temperature until it moves less than 0.01 K/W; each transient step first updates ``r_convec`` from the
  current sink temperature. HotSpot's block model then updates only the ambient-side forcing, not the
  circuit's dynamics (its ``populate_R_model`` does not rebuild ``A^-1 B``); we do the same so that
  results match it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ailfm.errors import ConfigError
from ailfm.thermal.base import ThermalModel
from ailfm.thermal.network import RCSolver, ThermalCircuit
from ailfm.thermal.package import (
    MAX_SINK_TEMPERATURE_K,
    NATURAL_CONVECTION_START_RISE_K,
    NATURAL_CONVECTION_TOLERANCE_K_PER_W,
    PackageConfig,
    natural_convection_resistance_K_per_W,
)

# HotSpot 7.0's built-in leakage model (temperature.c calc_leakage): P = alpha * area * exp(beta (T - T_base)).
LEAKAGE_ALPHA_W_PER_M2 = 1.5e4
LEAKAGE_BETA_PER_K = 0.036
LEAKAGE_BASE_K = 383.15
# Leakage iteration: stop when no block warms by this much more (K), give up after this many rounds, and treat
# a rise above TEMP_HIGH as thermal runaway (temperature.h LEAK_TOL, LEAKAGE_MAX_ITER, TEMP_HIGH).
LEAKAGE_TOLERANCE_K = 0.01
LEAKAGE_MAX_ITERATIONS = 100
RUNAWAY_RISE_K = 500.0
# Circuits up to this many nodes use the dense eigen solver under solver="auto"; larger ones the sparse one.
AUTO_EIGEN_MAX_NODES = 1500
SOLVERS = ("auto", "eigen", "sparse")


def make_solver(circuit: ThermalCircuit, solver: str | RCSolver = "auto") -> RCSolver:
    """An RCSolver for ``circuit``: ``"eigen"`` (exact, dense), ``"sparse"`` (CG or sparse LU), or ``"auto"``."""
    if isinstance(solver, RCSolver):
        return solver
    if solver not in SOLVERS:
        raise ConfigError("solver", f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    if solver == "eigen" or (solver == "auto" and circuit.network.n_nodes <= AUTO_EIGEN_MAX_NODES):
        from ailfm.thermal.solvers.eigen import EigenSolver

        return EigenSolver(circuit.network)
    from ailfm.thermal.solvers.sparse import SparseSolver

    return SparseSolver(circuit.network)


class CircuitState:
    """What a model whose state is a ``ThermalCircuit``'s node rises ``_theta`` over ``ambient_K`` reports, in
    HotSpot's names (shared by the built-in model and the HotSpot-in-the-loop model of the same circuit)."""

    circuit: ThermalCircuit
    ambient_K: float
    _theta: np.ndarray

    def node_temperatures(self) -> dict[str, float]:
        values = self.circuit.named_nodes(self._theta) + self.ambient_K
        return dict(zip(self.circuit.node_names, values.tolist(), strict=True))

    def temperatures(self) -> np.ndarray:
        return self.circuit.outputs(self._theta) + self.ambient_K

    def has_grid_maps(self) -> bool:
        return self.circuit.has_grid_maps()

    def grid_maps(self) -> dict[str, np.ndarray]:
        return {name: rise + self.ambient_K for name, rise in self.circuit.grid_maps(self._theta).items()}


class CircuitThermalModel(CircuitState, ThermalModel):
    """A ThermalCircuit and an RCSolver with HotSpot's initial conditions; see the module docstring.

    Parameters
    ----------
    circuit : ThermalCircuit
        From ``build_block_circuit`` or ``build_grid_circuit``.
    solver : RCSolver or str
        A solver of ``circuit.network`` or a name for :func:`make_solver`.
    ambient_K : float
        Ambient temperature.
    init : float or mapping
        The state ``reset()`` restores: a uniform temperature (K) or init-file values by node name (K).
    thermal_threshold_K : float, optional
        With a mapping ``init``, scale rises so the hottest block is at most this (HotSpot's ``dtm_used``).
    leakage : bool
        Add HotSpot's temperature-dependent leakage in ``steady`` (needs block areas on the circuit).
    """

    def __init__(self, circuit: ThermalCircuit, solver: RCSolver | str = "auto", *, ambient_K: float,
                 init: float | Mapping[str, float], thermal_threshold_K: float | None = None,
                 leakage: bool = False, solver_factory=make_solver):
        self.circuit = circuit
        self._make_solver = solver_factory
        self.solver = solver_factory(circuit, solver)
        self.power_names = tuple(circuit.power_names)
        self.output_names = tuple(circuit.output_names)
        self.ambient_K = float(ambient_K)
        self.thermal_threshold_K = thermal_threshold_K
        self._init = init
        self._power_to_node = circuit.network.power_to_node
        if circuit.network.n_nodes <= AUTO_EIGEN_MAX_NODES:  # a dense mat-vec is ~10x cheaper than scipy.sparse's
            self._power_to_node = self._power_to_node.toarray()
        self._leakage_area_m2 = None
        if leakage:
            area = getattr(circuit, "block_area_m2", None)
            if area is None or self.power_names != self.output_names:
                raise ConfigError("leakage_used", f"{type(circuit).__name__} does not support the leakage loop")
            self._leakage_area_m2 = np.asarray(area, dtype=float)
        # The circuit's detailed package model, if any (BlockCircuit.package_model, GridCircuit.package).
        package = getattr(circuit, "package_model", None) or getattr(circuit, "package", None)
        self._natural = package if isinstance(package, PackageConfig) and package.natural_convec else None
        self.reset()

    # ---- state ---------------------------------------------------------------------------------------------
    def reset(self, init: float | Mapping[str, float] | None = None) -> None:
        init = self._init if init is None else init
        if isinstance(init, Mapping):
            theta = self.circuit.theta_from_named({k: float(v) - self.ambient_K for k, v in init.items()})
            if self.thermal_threshold_K is not None:
                theta = self._clip(theta, init)
        else:
            theta = np.full(self.circuit.network.n_nodes, float(init) - self.ambient_K)
        self._theta = theta
        # Natural convection: the circuit with the latest r_convec (HotSpot's steady iteration starts from it).
        self._convected, self._convected_solver = self.circuit, self.solver

    def _clip(self, theta: np.ndarray, init: Mapping[str, float]) -> np.ndarray:
        """HotSpot's DTM start: if the hottest block of the init file's first layer is above the threshold, scale
        all rises down. The first layer is the silicon (block model, 2D grid: the output names) or, in a 3D stack,
        the ``layer_0_*`` nodes."""
        first_layer = [name for name in self.circuit.node_names if name.startswith("layer_0_")] or self.output_names
        hottest_K = max(0.0, *(init[name] for name in first_layer))
        if hottest_K > self.thermal_threshold_K:
            theta = theta * ((self.thermal_threshold_K - self.ambient_K) / (hottest_K - self.ambient_K))
        return theta

    @property
    def theta(self) -> np.ndarray:
        """Node temperature rises over ambient (K), a copy."""
        return self._theta.copy()

    # ---- steady state --------------------------------------------------------------------------------------
    def steady(self, power_W: np.ndarray) -> np.ndarray:
        return self.circuit.outputs(self._steady_theta(self.check_power(power_W))) + self.ambient_K

    def steady_node_temperatures(self, power_W: np.ndarray) -> dict[str, float]:
        """Steady temperatures (K) of every node by HotSpot name, in its ``.steady`` order; the state is unchanged."""
        theta = self._steady_theta(self.check_power(power_W))
        values = self.circuit.named_nodes(theta) + self.ambient_K
        return dict(zip(self.circuit.node_names, values.tolist(), strict=True))

    def steady_rises(self, power_W: np.ndarray) -> np.ndarray:
        """Steady rises over ambient (K) of every circuit node, in network order, with the leakage loop and
        natural convection as configured; the state is unchanged."""
        return self._steady_theta(self.check_power(power_W))

    def steady_grid_maps(self, power_W: np.ndarray) -> dict[str, np.ndarray]:
        """Steady per-layer temperature maps (K) of a grid model (spreader and sink included)."""
        theta = self.steady_rises(power_W)
        return {name: rise + self.ambient_K for name, rise in self.circuit.grid_maps(theta).items()}

    def _steady_theta(self, power: np.ndarray) -> np.ndarray:
        if self._natural is None:
            return self._steady_with_leakage(self.circuit, self.solver, power)
        # Natural convection: re-solve with r_convec from the mean sink temperature until r_convec settles.
        # Like HotSpot, report the solution of the last solve (made with the r_convec before the final update).
        circuit = self._convected
        solver = self.solver if circuit is self.circuit else self._make_solver(circuit, "auto")
        while True:
            theta = self._steady_with_leakage(circuit, solver, power)
            sink_K = self.ambient_K + circuit.mean_sink_rise(theta) + NATURAL_CONVECTION_START_RISE_K
            if sink_K > MAX_SINK_TEMPERATURE_K:
                raise ConfigError("package_config_file", "too much power for natural convection: thermal runaway")
            r_old = circuit.stack.r_convec
            r_new = natural_convection_resistance_K_per_W(self._natural, circuit.stack.s_sink, self.ambient_K, sink_K)
            circuit = circuit.with_r_convec(r_new)
            solver = self._make_solver(circuit, "auto")
            if abs(r_new - r_old) < NATURAL_CONVECTION_TOLERANCE_K_PER_W:
                return theta

    def _steady_with_leakage(self, circuit: ThermalCircuit, solver: RCSolver, power: np.ndarray) -> np.ndarray:
        node_power = circuit.network.power_to_node @ power
        if self._leakage_area_m2 is None:
            return solver.steady(node_power)
        # HotSpot starts the loop from an all-zero (0 K) temperature vector and stops when no block warms by 0.01 K.
        block_K = np.zeros(len(self.output_names))
        for _ in range(LEAKAGE_MAX_ITERATIONS + 1):
            growth = np.exp(LEAKAGE_BETA_PER_K * (block_K - LEAKAGE_BASE_K))
            leak = LEAKAGE_ALPHA_W_PER_M2 * self._leakage_area_m2 * growth
            theta = solver.steady(circuit.network.power_to_node @ (power + leak))
            new_block_K = circuit.outputs(theta) + self.ambient_K
            warming = max(0.0, float(np.max(new_block_K - block_K)))
            block_K = new_block_K
            if warming < LEAKAGE_TOLERANCE_K:
                return theta
            if warming > RUNAWAY_RISE_K and _ > 1:
                break
        raise ConfigError("leakage_used", "the temperature-leakage loop does not converge: thermal runaway")

    # ---- transient -----------------------------------------------------------------------------------------
    def step(self, power_W: np.ndarray, dt_s: float) -> np.ndarray:
        node_power = self._power_to_node @ self.check_power(power_W)
        solver = self.solver
        if self._natural is not None:
            solver, extra_power = self._update_natural_convection()
            node_power = node_power + extra_power
        self._theta = solver.advance(self._theta, node_power, dt_s)
        return self.circuit.outputs(self._theta) + self.ambient_K

    def _update_natural_convection(self) -> tuple[RCSolver, np.ndarray | float]:
        """HotSpot's natural-convection transient: before each step, r_convec follows the mean sink temperature.

        The grid model then steps the updated circuit. HotSpot's block model updates only the ambient injection
        (``T_amb g_amb``) and keeps the dynamics it was built with (``A^-1 B`` is not rebuilt); in rises over
        ambient that is the original circuit driven by the extra power ``T_amb (g_amb,now - g_amb,built)``.
        A circuit says which applies by ``convection_refreshes_dynamics`` (default True).
        """
        circuit = self.circuit
        sink_K = self.ambient_K + circuit.mean_sink_rise(self._theta)
        r_now = natural_convection_resistance_K_per_W(self._natural, circuit.stack.s_sink, self.ambient_K, sink_K)
        self._convected = circuit.with_r_convec(r_now)
        if getattr(circuit, "convection_refreshes_dynamics", True):
            self._convected_solver = self._make_solver(self._convected, "auto")
            return self._convected_solver, 0.0
        g_now = self._convected.network.ambient_conductance_W_per_K
        return self.solver, self.ambient_K * (g_now - circuit.network.ambient_conductance_W_per_K)

    def run(self, power_rows_W: np.ndarray, dt_s: float) -> np.ndarray:
        """Temperatures (K) after each of consecutive ``dt_s`` steps, one per row of ``power_rows_W`` (k, n_power)."""
        rows = np.asarray(power_rows_W, dtype=float)
        if rows.ndim != 2 or rows.shape[1] != len(self.power_names):
            raise ValueError(f"power rows have shape {rows.shape}, expected (k, {len(self.power_names)})")
        bad = ~np.isfinite(rows) | (rows < 0)
        if bad.any():
            row, col = (int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"power of {self.power_names[col]!r} in row {row} is {rows[row, col]}: "
                             "must be finite and >= 0")
        advance_many = getattr(self.solver, "advance_many", None)
        if advance_many is None or self._natural is not None or len(rows) == 0:
            return np.array([self.step(row, dt_s) for row in rows]).reshape(len(rows), len(self.output_names))
        thetas = advance_many(self._theta, (self._power_to_node @ rows.T).T, dt_s)
        self._theta = thetas[-1].copy()
        # ThermalCircuit.outputs takes one state vector: map it over the steps.
        return np.array([self.circuit.outputs(theta) for theta in thetas]) + self.ambient_K


def run_transient(model: ThermalModel, power_rows_W: np.ndarray, dt_s: float) -> np.ndarray:
    """Step ``model`` through ``power_rows_W`` (k, n_power), one ``dt_s`` per row; return (k, n_output) temperatures.

    Vectorised for the built-in model with the eigen solver; any other ThermalModel is stepped row by row.
    """
    if isinstance(model, CircuitThermalModel):
        return model.run(power_rows_W, dt_s)
    rows = np.asarray(power_rows_W, dtype=float)
    return np.array([model.step(row, dt_s) for row in rows]).reshape(len(rows), len(model.output_names))


def build_thermal_model(config, *, floorplan=None, layers=None, materials=None,
                        solver: str | RCSolver = "auto") -> CircuitThermalModel:
    """Build the built-in model HotSpot's ``config`` describes (``model_type`` block or grid).

    Parameters
    ----------
    config : HotSpotConfig
        Every HotSpot flag; ``init_file`` (read here, once) or ``init_temp`` sets the start state.
    floorplan : Floorplan, optional
        The die (block model; the grid model without a layer file).
    layers : optional
        The grid model's layer stack (from an ``.lcf``), passed through to the grid builder.
    materials : optional
        Named materials for the ``material_*`` flags.
    solver : {"auto", "eigen", "sparse"} or RCSolver
        ``auto`` takes the exact eigen solver for small circuits, the sparse solver otherwise.
    """
    model_type = str(config.model_type).lower()
    if model_type == "block":
        if floorplan is None:
            raise ConfigError("f", "the block model needs a floorplan (-f)")
        from ailfm.thermal.block import build_block_circuit

        circuit = build_block_circuit(config, floorplan, materials)
    elif model_type == "grid":
        from ailfm.thermal.grid import build_grid_circuit

        circuit = build_grid_circuit(config, floorplan=floorplan, layers=layers, materials=materials)
    else:
        raise ConfigError("model_type", f"must be 'block' or 'grid', got {config.model_type!r}")

    init: float | Mapping[str, float] = float(config.init_temp)
    if config.init_file is not None:
        from ailfm.thermal.formats.steady import read_steady

        init = read_steady(config.init_file)
    try:
        return CircuitThermalModel(circuit, solver, ambient_K=float(config.ambient), init=init,
                                   thermal_threshold_K=float(config.thermal_threshold) if config.dtm_used else None,
                                   leakage=bool(config.leakage_used))
    except ConfigError as err:
        if err.field != "init_file" or err.path is not None:
            raise
        raise ConfigError(err.field, err.reason, path=config.init_file) from None  # name the file, not only the flag
