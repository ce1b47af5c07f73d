"""Exact stepping of a small RC circuit by its symmetric eigendecomposition (the MatEx idea).

With ``s = C^{1/2} theta`` the circuit ``C dtheta/dt = -G theta + q`` becomes ``ds/dt = -A s + C^{-1/2} q``
with ``A = C^{-1/2} G C^{-1/2}`` symmetric positive definite. Writing ``A = U diag(lam) U^T`` once, a step
of length ``dt`` under constant ``q`` is exact:

    z = U^T s,   z(dt) = e^{-lam dt} z + (1 - e^{-lam dt}) / lam * (U^T C^{-1/2} q)

so each step costs two dense matrix-vector products with ``U`` (n x n); the decay and gain factors are
cached per ``dt``. Unlike HotSpot's adaptive RK4 this has no step-size error however long ``dt`` is.
Memory and set-up are O(n^2) and O(n^3): meant for block models (4 n_blocks + 12 nodes), not grids.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as la
from threadpoolctl import threadpool_limits

from ailfm.thermal.network import RCNetwork, RCSolver

# Largest circuit the eigen solver accepts: a dense n x n eigenbasis beyond this costs too much memory
# and set-up time (n = 4000 is 128 MB and ~1 min of eigh on one core); use the sparse solver instead.
MAX_EIGEN_NODES = 4000


class EigenSolver(RCSolver):
    """Exact for piecewise-constant power; one eigendecomposition at construction, two mat-vecs per step."""

    def __init__(self, network: RCNetwork):
        super().__init__(network)
        if network.n_nodes > MAX_EIGEN_NODES:
            raise ValueError(f"{network.n_nodes} nodes is too many for the dense eigen solver "
                             f"(limit {MAX_EIGEN_NODES}); use the sparse solver")
        g = network.conductance_W_per_K.toarray()
        self._sqrt_c = np.sqrt(network.capacitance_J_per_K)
        self._inv_sqrt_c = 1.0 / self._sqrt_c
        a = self._inv_sqrt_c[:, None] * g * self._inv_sqrt_c[None, :]
        # One BLAS thread: for these sizes threading only adds overhead, and on a loaded machine OpenBLAS's
        # spinning threads made eigh of a 268-node circuit 100x slower (2.7 s instead of 25 ms).
        with threadpool_limits(limits=1, user_api="blas"):
            self.eigenvalues_per_s, self._basis = la.eigh(0.5 * (a + a.T))
            if self.eigenvalues_per_s[0] <= 0:
                raise ValueError("the circuit has no path to ambient (a zero or negative eigenvalue)")
            self._steady_factor = la.cho_factor(g)
        self._per_dt: dict[float, tuple[np.ndarray, np.ndarray]] = {}

    @property
    def time_constants_s(self) -> np.ndarray:
        """The circuit's thermal time constants, longest first."""
        return 1.0 / self.eigenvalues_per_s[::-1]

    def _factors(self, dt_s: float) -> tuple[np.ndarray, np.ndarray]:
        factors = self._per_dt.get(dt_s)
        if factors is None:
            decay = np.exp(-self.eigenvalues_per_s * dt_s)
            factors = (decay, -np.expm1(-self.eigenvalues_per_s * dt_s) / self.eigenvalues_per_s)
            if len(self._per_dt) > 64:  # a caller with ever-changing dt: keep the cache bounded
                self._per_dt.clear()
            self._per_dt[dt_s] = factors
        return factors

    def steady(self, node_power_W: np.ndarray) -> np.ndarray:
        return la.cho_solve(self._steady_factor, node_power_W)

    def advance(self, theta: np.ndarray, node_power_W: np.ndarray, dt_s: float) -> np.ndarray:
        decay, gain = self._factors(float(dt_s))
        both = self._basis.T @ np.stack([self._sqrt_c * theta, self._inv_sqrt_c * node_power_W], axis=1)
        return self._inv_sqrt_c * (self._basis @ (decay * both[:, 0] + gain * both[:, 1]))

    def advance_many(self, theta: np.ndarray, node_power_W: np.ndarray, dt_s: float) -> np.ndarray:
        """States after each of ``k`` consecutive steps with rows of ``node_power_W`` (k, n); returns (k, n).

        The projections of all the powers and of all the states are single matrix products; only the
        per-mode recurrence (elementwise, O(n) per step) runs in a loop.
        """
        decay, gain = self._factors(float(dt_s))
        forcing = (gain[:, None] * (self._basis.T @ (self._inv_sqrt_c[:, None] * node_power_W.T))).T  # (k, n)
        modes = np.empty_like(forcing)
        z = self._basis.T @ (self._sqrt_c * theta)
        for row in range(forcing.shape[0]):
            z = decay * z + forcing[row]
            modes[row] = z
        return (modes @ self._basis.T) * self._inv_sqrt_c[None, :]
