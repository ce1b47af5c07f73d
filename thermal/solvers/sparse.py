"""Sparse solver for large RC networks (HotSpot's grid model).

Steady state: for a grid network (one with a ``grid_shape``, ``ailfm.thermal.grid.GridNetwork``),
conjugate gradients preconditioned by a cosine-transform solve of the grid's uniform part
(``ailfm.thermal.solvers.spectral``), to a relative residual of 1e-12: 10-20x cheaper than a sparse
LU of a 64x64 stack. Otherwise, or if CG does not converge, one sparse LU of ``G`` (SuperLU through
scipy, minimum-degree ordering of ``G + G^T`` in symmetric mode, which suits the symmetric
conductance matrix), built on first use and reused for every later power vector.

Transient: with the power constant over an interval ``h``, the exact update is

    theta(h) = exp(-A h) theta0 + A^-1 (I - exp(-A h)) C^-1 p,    A = C^-1 G.

We replace ``exp(-z)`` by a *restricted rational approximation* with one real pole of order
``m`` (Norsett 1974; Saff, Schonhage & Varga 1976):

    exp(-z) ~ R(w) = sum_k c_k w^k,   w = 1 / (1 + tau z),

so that ``R(A h)`` is a polynomial in ``W = (C + tau h G)^-1 C``: one sparse LU per step length,
built once and reused for every interval, and ``m`` triangular solves per interval. The
coefficients are the minimax fit of ``exp(-z)`` over all ``z >= 0`` (a small linear programme,
solved once), constrained to ``R(0) = 1`` (the steady state is reproduced exactly, the power
term being ``tau h W Q(W) C^-1 p`` with ``1 - R = (1 - w) Q``) and ``R(inf) = 0`` (L-stable:
the microsecond modes of thin silicon/TIM cells are damped, not left ringing). Because ``A`` is
self-adjoint in the ``C`` inner product, the step's error in that norm is at most the uniform
error of the fit times the distance from the interval's steady state, whatever ``h``: 1.2e-3 for
the default ``m = 5``. ``docs/thermal-grid.md`` compares it with TR-BDF2 and with HotSpot.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import cache

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.optimize import linprog

from ailfm.thermal.network import RCNetwork, RCSolver
from ailfm.thermal.solvers.spectral import GridSteadySolver

# Pole placement tau (in units of the step) minimising the uniform error for each order m, found by
# a bounded scalar search over log(tau) around the linear programme of ``rational_coefficients``
# (docs/thermal-grid.md, "Transient scheme"); the uniform errors are checked by the tests.
POLE_BY_ORDER = {2: 0.4953, 3: 0.2633, 4: 0.4538, 5: 0.2743, 6: 0.391, 7: 0.26, 8: 0.1897}
DEFAULT_ORDER = 5
# Step lengths whose factorisations are kept (a co-simulation uses one or two epoch lengths).
_CACHED_STEP_LENGTHS = 4
# Where the minimax fit samples z: dense near 0 where exp(-z) bends, geometric up to 1e6 (w ~ 1e-6 tau^-1).
_FIT_Z = np.concatenate([np.linspace(0.0, 2.0, 400), np.geomspace(2.0, 1e6, 1500)])


@cache
def rational_coefficients(order: int, pole: float) -> tuple[np.ndarray, float]:
    """Minimax coefficients ``c_0..c_m`` of ``exp(-z) ~ sum c_k (1 + pole z)^-k`` on z >= 0, and the error.

    Constraints ``c_0 = 0`` (L-stability) and ``sum c_k = 1`` (exact steady state).
    """
    w = 1.0 / (1.0 + pole * _FIT_Z)
    target = np.exp(-_FIT_Z)
    powers = np.vander(w, order + 1, increasing=True)
    ones = np.ones((len(w), 1))
    n = order + 1
    constraints = np.zeros((2, n + 1))
    constraints[0, :n] = 1.0
    constraints[1, 0] = 1.0
    result = linprog(np.r_[np.zeros(n), 1.0],
                     A_ub=np.block([[powers, -ones], [-powers, -ones]]), b_ub=np.r_[target, -target],
                     A_eq=constraints, b_eq=[1.0, 0.0], bounds=[(None, None)] * n + [(0.0, None)], method="highs")
    if not result.success:
        raise RuntimeError(f"minimax fit of order {order} failed: {result.message}")
    return result.x[:n], float(result.x[-1])


def _factorise(matrix: sp.spmatrix):
    """Sparse LU of a symmetric matrix with a fill-reducing ordering of ``A + A^T``."""
    return spla.splu(sp.csc_matrix(matrix), permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})


class _Interval:
    """The update over one interval of length ``h``: ``m`` solves with the factorisation of ``C + tau h G``."""

    def __init__(self, network: RCNetwork, h: float, order: int):
        pole = POLE_BY_ORDER[order]
        c, _ = rational_coefficients(order, pole)
        # 1 - R(w) = (1 - w) Q(w): q_k = cumulative sums of the coefficients of 1 - R
        q = np.cumsum(np.r_[1.0 - c[0], -c[1:]])[:order]
        self.theta_weight = c[1:]  # multiplies theta0 in the term of W^k, k = 1..m
        self.power_weight = pole * h * q  # multiplies C^-1 p in the term of W^k
        self.capacitance = network.capacitance_J_per_K
        self.lu = _factorise(sp.diags(self.capacitance) + (pole * h) * network.conductance_W_per_K)

    def run(self, theta: np.ndarray, node_power_W: np.ndarray) -> np.ndarray:
        """sum_k W^k (c_k theta + tau h q_{k-1} C^-1 p), by Horner's rule."""
        u = node_power_W / self.capacitance
        acc = self.theta_weight[-1] * theta + self.power_weight[-1] * u
        for k in range(len(self.theta_weight) - 2, -1, -1):
            acc = self.theta_weight[k] * theta + self.power_weight[k] * u + self.lu.solve(self.capacitance * acc)
        return self.lu.solve(self.capacitance * acc)


class SparseSolver(RCSolver):
    """Sparse-LU steady state and restricted-rational transient for grid-sized networks.

    Parameters
    ----------
    network : RCNetwork
    order : int
        Triangular solves per interval (2..8); uniform relative error of the exponential
        7.2e-5 (8), 6.6e-4 (6), 1.2e-3 (5, the default), 3.8e-3 (4), 2.5e-2 (2). Order 5 keeps every
        sample of the reference transients within 0.08 K of HotSpot (docs/thermal-grid.md).
    """

    def __init__(self, network: RCNetwork, *, order: int = DEFAULT_ORDER):
        super().__init__(network)
        if order not in POLE_BY_ORDER:
            raise ValueError(f"order must be one of {sorted(POLE_BY_ORDER)}, got {order}")
        self.order = order
        self._steady_lu = None
        self._spectral: GridSteadySolver | None = None
        self._intervals: OrderedDict[float, _Interval] = OrderedDict()

    def steady(self, node_power_W: np.ndarray) -> np.ndarray:
        power = np.asarray(node_power_W, dtype=float)
        if self._steady_lu is None:
            if self._spectral is None:
                self._spectral = self._spectral_solver()
            if self._spectral is not None:
                theta, _ = self._spectral.solve(power)
                if theta is not None:
                    return theta
            # no grid layout, or CG did not converge: the direct solve from now on
            self._steady_lu = _factorise(self.network.conductance_W_per_K)
        return self._steady_lu.solve(power)

    def _spectral_solver(self) -> GridSteadySolver | None:
        grid_shape = getattr(self.network, "grid_shape", None)
        if grid_shape is None:
            return None
        try:
            return GridSteadySolver(self.network.conductance_W_per_K, self.network.ambient_conductance_W_per_K,
                                    grid_shape)
        except (ValueError, np.linalg.LinAlgError):  # the uniform part is singular (no cell grounded)
            return None

    def advance(self, theta: np.ndarray, node_power_W: np.ndarray, dt_s: float) -> np.ndarray:
        if not dt_s > 0:
            raise ValueError(f"time step must be positive, got {dt_s}")
        key = float(dt_s)
        interval = self._intervals.get(key)
        if interval is None:
            interval = self._intervals[key] = _Interval(self.network, key, self.order)
            if len(self._intervals) > _CACHED_STEP_LENGTHS:
                self._intervals.popitem(last=False)
        else:
            self._intervals.move_to_end(key)
        return interval.run(np.asarray(theta, dtype=float), np.asarray(node_power_W, dtype=float))
