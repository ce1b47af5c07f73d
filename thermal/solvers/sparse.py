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

so that ``R(A h)`` is a polynomial in ``W = (C + tau h G)^-1 C``: ``m`` solves with one step matrix per
interval. The coefficients are the minimax fit of ``exp(-z)`` over all ``z >= 0`` (a small linear
programme), constrained to ``R(0) = 1`` (the steady state is reproduced exactly, the power term being
``tau h W Q(W) C^-1 p`` with ``1 - R = (1 - w) Q``), ``R(inf) = 0`` (L-stable: the microsecond modes of
thin silicon/TIM cells are damped, not left ringing) and ``R'(0) = -1, R''(0) = 1`` (second-order
consistent: a mode with ``z << 1`` decays at the right rate, with an error O(z^3) per interval). Without
the last two conditions the fit spends its error near z = 0 too, where an absolute error ``e`` is a
relative error ``e / z`` of a slow mode's decay per interval that compounds over the intervals: the 0.1-0.6 K
drift from HotSpot on deep stacks (docs/thermal-grid.md). Because ``A`` is self-adjoint in the ``C`` inner
product, one interval's error in that norm is at most the uniform error of the fit times the distance
from the interval's steady state, whatever ``h``: 1.0e-3 for the default ``m = 6``.

The step matrix ``C + tau h G`` of a grid network is solved by conjugate gradients preconditioned by the
grid's cosine-transform solve (``ailfm.thermal.solvers.spectral``), started from the right-hand side's
own state (``W x ~ x`` for the slow modes): 2-5 iterations and no factorisation, 0.01 s of set-up against
2-3 s for a sparse LU of a 64x64 four-die stack. Other networks (and a grid where CG fails) use a sparse LU.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from functools import cache

import numpy as np
import scipy.sparse as sp

from ailfm.thermal.network import RCNetwork, RCSolver
from ailfm.thermal.solvers.spectral import GridSolver, ModalGridSolver

# Pole tau (in units of the step) minimising the uniform error of the constrained fit for each order m, found by
# a scan of log(tau) over [0.05, 2] and a bounded refinement around the linear programme of
# ``rational_coefficients`` (docs/thermal-grid.md, "Transient scheme"); the uniform errors are checked by the tests.
POLE_BY_ORDER = {4: 0.3429, 5: 0.228, 6: 0.1671, 7: 0.2318, 8: 0.1737}
DEFAULT_ORDER = 6
# Step lengths whose step matrices are kept (a co-simulation uses one or two epoch lengths).
_CACHED_STEP_LENGTHS = 4
# Where the minimax fit samples z: dense near 0 where exp(-z) bends, geometric up to 1e6 (w ~ 1e-6 tau^-1).
_FIT_Z = np.concatenate([np.linspace(0.0, 2.0, 400), np.geomspace(2.0, 1e6, 1500)])
# The default order's fit, rational_coefficients(6, 0.1671) (tests/thermal/test_grid_solver.py recomputes it), so
# that a run does not import scipy.optimize and solve the linear programme at start-up.
_KNOWN_FITS = {(6, 0.1671): (np.array([0.0, 0.06149341205737124, -1.1509105622396638, 6.883953232353538,
                                       -17.361209394473246, 18.382293825740188, -5.815620513438188]),
                             0.0010249135496620543)}
# Conjugate gradients on a step matrix stop at this residual relative to the right-hand side (C times a state in
# K). In the cosine basis the preconditioner is nearly exact: 1e-8 left 1e-5 K (every node after 40 intervals of a
# 64x64 four-die stack, against 1e-13) in 2-3 iterations, 2e-4 K on a random stack with materials over three decades
# (tests/thermal/test_spectral.py); in node space
# (-detailed_3D, per-cell materials) the preconditioned matrix is worse conditioned: 1e-8 there was 0.05 K off
# HotSpot on a 6-die stack (bench/thermal_deep_stacks.py seed 8), 1e-10 and below 0.01 K (its print precision).
_MODAL_RELATIVE_RESIDUAL = 1e-8
_NODE_RELATIVE_RESIDUAL = 1e-12


@cache
def rational_coefficients(order: int, pole: float) -> tuple[np.ndarray, float]:
    """Minimax coefficients ``c_0..c_m`` of ``exp(-z) ~ sum c_k (1 + pole z)^-k`` on z >= 0, and the error.

    Constraints: ``c_0 = 0`` (L-stability), ``sum c_k = 1`` (exact steady state), and the first two
    derivatives of exp(-z) at 0, ``d^r R / dz^r (0) = (-pole)^r sum c_k k (k+1) .. (k+r-1) = (-1)^r``.
    """
    from scipy.optimize import linprog  # only for an order/pole not in _KNOWN_FITS

    w = 1.0 / (1.0 + pole * _FIT_Z)
    target = np.exp(-_FIT_Z)
    powers = np.vander(w, order + 1, increasing=True)
    ones = np.ones((len(w), 1))
    n = order + 1
    k = np.arange(n, dtype=float)
    constraints = np.zeros((4, n + 1))
    constraints[0, :n] = 1.0
    constraints[1, 0] = 1.0
    constraints[2, :n] = pole * k
    constraints[3, :n] = pole ** 2 * k * (k + 1)
    result = linprog(np.r_[np.zeros(n), 1.0],
                     A_ub=np.block([[powers, -ones], [-powers, -ones]]), b_ub=np.r_[target, -target],
                     A_eq=constraints, b_eq=[1.0, 0.0, 1.0, 1.0], bounds=[(None, None)] * n + [(0.0, None)],
                     method="highs")
    if not result.success:
        raise RuntimeError(f"minimax fit of order {order} failed: {result.message}")
    return result.x[:n], float(result.x[-1])


def _factorise(matrix: sp.spmatrix):
    """Sparse LU of a symmetric matrix with a fill-reducing ordering of ``A + A^T``."""
    import scipy.sparse.linalg as spla  # only a fall-back: grid runs do not load it (or scipy.linalg)

    return spla.splu(sp.csc_matrix(matrix), permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})


def _on_grid(solver_class: type[GridSolver], network: RCNetwork, matrix, grounded: np.ndarray) -> GridSolver | None:
    """``solver_class`` for ``matrix`` (diagonal part ``grounded``) if ``network`` is a grid that fits it, else None
    (no grid layout, or a structure the cosine basis does not take: the constructor raises)."""
    grid_shape = getattr(network, "grid_shape", None)
    if grid_shape is None:
        return None
    try:
        return solver_class(matrix, grounded, grid_shape)
    except (ValueError, np.linalg.LinAlgError):  # e.g. the uniform part is singular (no cell grounded)
        return None


def _step_matrix(network: RCNetwork, sigma: float) -> tuple[sp.csr_matrix, np.ndarray]:
    """``C + sigma G`` and its part that is not a link between nodes, ``C + sigma`` times the ambient links."""
    capacitance = network.capacitance_J_per_K
    return (sp.csr_matrix(sp.diags(capacitance) + sigma * network.conductance_W_per_K),
            capacitance + sigma * network.ambient_conductance_W_per_K)


def _step_matrix_solver(network: RCNetwork, sigma: float) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``solve(b, guess)`` for ``(C + sigma G) x = b``: CG with the grid's cosine-transform preconditioner when the
    network is a grid, else (or when CG fails) a sparse LU of the step matrix."""
    matrix, grounded = _step_matrix(network, sigma)
    lu = None
    pcg = _on_grid(GridSolver, network, matrix, grounded)

    def solve(b: np.ndarray, guess: np.ndarray) -> np.ndarray:
        nonlocal lu, pcg
        if pcg is not None:
            x, _ = pcg.solve(b, relative_residual=_NODE_RELATIVE_RESIDUAL, initial=guess)
            if x is not None:
                return x
            pcg = None
        if lu is None:
            lu = _factorise(matrix)
        return lu.solve(b)

    return solve


def _modal_step_solver(network: RCNetwork, sigma: float) -> ModalGridSolver | None:
    """The step matrix in the cosine basis (``ModalGridSolver``), if the network is a grid whose cells have the same
    heat capacity in every layer and whose links fit it (HotSpot's plain grid model); else None."""
    grid_shape = getattr(network, "grid_shape", None)
    if grid_shape is None:
        return None
    cells = network.capacitance_J_per_K[: int(np.prod(grid_shape))].reshape(grid_shape[0], -1)
    if np.ptp(cells, axis=1).max() > 1e-12 * cells.max():
        return None
    return _on_grid(ModalGridSolver, network, *_step_matrix(network, sigma))


class _Interval:
    """The update over one interval of length ``h``: ``m`` solves with the step matrix ``C + tau h G``.

    On HotSpot's plain grid the whole interval runs in the cosine basis (two transforms per interval, CG
    iterations of O(N)); otherwise in node space, each solve a preconditioned CG or a sparse LU.
    """

    def __init__(self, network: RCNetwork, h: float, order: int):
        pole = POLE_BY_ORDER[order]
        c, _ = _KNOWN_FITS.get((order, pole)) or rational_coefficients(order, pole)
        # 1 - R(w) = (1 - w) Q(w): q_k = cumulative sums of the coefficients of 1 - R
        q = np.cumsum(np.r_[1.0 - c[0], -c[1:]])[:order]
        self.theta_weight = c[1:]  # multiplies theta0 in the term of W^k, k = 1..m
        self.power_weight = pole * h * q  # multiplies C^-1 p in the term of W^k
        self.capacitance = network.capacitance_J_per_K
        self.modal = _modal_step_solver(network, pole * h)
        # node space: built only if there is no cosine basis, or if CG there ever fails (then used from that interval)
        self._node_space = (network, pole * h)
        self.solve = _step_matrix_solver(network, pole * h) if self.modal is None else None

    def run(self, theta: np.ndarray, node_power_W: np.ndarray) -> np.ndarray:
        """sum_k W^k (c_k theta + tau h q_{k-1} C^-1 p), by Horner's rule; each solve starts from its input."""
        u = node_power_W / self.capacitance
        if self.modal is not None:
            # C is the same in the cosine basis: one capacity per layer for the cells, the extra nodes untouched
            out = self._horner(self.modal.to_modes(theta), self.modal.to_modes(u), self._solve_modes)
            if out is not None:
                return self.modal.from_modes(out)
            self.modal, self.solve = None, _step_matrix_solver(*self._node_space)
        return self._horner(theta, u, self.solve)

    def _horner(self, theta: np.ndarray, u: np.ndarray, solve) -> np.ndarray | None:
        acc = self.theta_weight[-1] * theta + self.power_weight[-1] * u
        for k in range(len(self.theta_weight) - 2, -1, -1):
            x = solve(self.capacitance * acc, acc)
            if x is None:
                return None
            acc = self.theta_weight[k] * theta + self.power_weight[k] * u + x
        return solve(self.capacitance * acc, acc)

    def _solve_modes(self, b_hat: np.ndarray, guess: np.ndarray) -> np.ndarray | None:
        x, _ = self.modal.solve_modes(b_hat, relative_residual=_MODAL_RELATIVE_RESIDUAL, initial=guess)
        return x


class SparseSolver(RCSolver):
    """Steady state (preconditioned CG, else sparse LU) and restricted-rational transient for grid-sized networks.

    Parameters
    ----------
    network : RCNetwork
    order : int
        Solves per interval (4..8); uniform error of the exponential 1.2e-4 (8), 3.4e-4 (7),
        1.0e-3 (6, the default), 2.8e-3 (5), 8.8e-3 (4). Order 6 keeps every sample of the reference
        transients and of 40 generated deep stacks within 0.02 K of HotSpot (docs/thermal-grid.md).
    """

    def __init__(self, network: RCNetwork, *, order: int = DEFAULT_ORDER):
        super().__init__(network)
        if order not in POLE_BY_ORDER:
            raise ValueError(f"order must be one of {sorted(POLE_BY_ORDER)}, got {order}")
        self.order = order
        self._steady_lu = None
        self._spectral: GridSolver | None = None
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

    def _spectral_solver(self) -> GridSolver | None:
        return _on_grid(GridSolver, self.network, self.network.conductance_W_per_K,
                        self.network.ambient_conductance_W_per_K)

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
