"""Exact stepping of a small RC circuit by its symmetric eigendecomposition (the MatEx idea).

With ``s = C^{1/2} theta`` the circuit ``C dtheta/dt = -G theta + q`` becomes ``ds/dt = -A s + C^{-1/2} q``
with ``A = C^{-1/2} G C^{-1/2}`` symmetric positive definite. Writing ``A = U diag(lam) U^T`` once, a step
of length ``dt`` under constant ``q`` is exact:

    z = U^T s,   z(dt) = e^{-lam dt} z + (1 - e^{-lam dt}) / lam * (U^T C^{-1/2} q)

Folding the change of variables in, ``theta(dt) = K_dt theta + F_dt q`` with ``K_dt = C^{-1/2} U
diag(e^{-lam dt}) U^T C^{1/2}`` and ``F_dt = C^{-1/2} U diag((1 - e^{-lam dt}) / lam) U^T C^{-1/2}``,
built once per distinct ``dt``: each step is two dense n x n matrix-vector products. Unlike HotSpot's
adaptive RK4 this has no step-size error however long ``dt`` is.
Memory and set-up are O(n^2) and O(n^3): meant for block models (4 n_blocks + 12 nodes), not grids.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as la
from threadpoolctl import threadpool_limits

from ailfm.thermal.network import RCNetwork, RCSolver

# Distinct step lengths whose (K_dt, F_dt) pair is kept; a caller cycling through more rebuilds them.
MAX_CACHED_STEPS = 8
# Largest circuit the eigen solver accepts: a dense n x n eigenbasis beyond this costs too much memory
# and set-up time (n = 4000 is 128 MB and ~1 min of eigh on one core); use the sparse solver instead.
MAX_EIGEN_NODES = 4000


class EigenSolver(RCSolver):
    """Exact for piecewise-constant power; one eigendecomposition (on first use), two mat-vecs per step.

    ``steady`` needs only a Cholesky factor of ``G``, so a steady-state-only run never pays for the
    eigendecomposition.
    """

    def __init__(self, network: RCNetwork):
        super().__init__(network)
        if network.n_nodes > MAX_EIGEN_NODES:
            raise ValueError(f"{network.n_nodes} nodes is too many for the dense eigen solver "
                             f"(limit {MAX_EIGEN_NODES}); use the sparse solver")
        self._g = network.conductance_W_per_K.toarray()
        self._sqrt_c = np.sqrt(network.capacitance_J_per_K)
        self._inv_sqrt_c = 1.0 / self._sqrt_c
        # One BLAS thread: for these sizes threading only adds overhead, and on a loaded machine OpenBLAS's
        # spinning threads made eigh of a 268-node circuit 100x slower (2.7 s instead of 25 ms).
        with threadpool_limits(limits=1, user_api="blas"):
            try:
                self._steady_factor = la.cho_factor(self._g)
            except la.LinAlgError:
                raise ValueError("the conductance matrix is not positive definite: "
                                 "some node has no path to ambient") from None
        self._eigen: tuple[np.ndarray, np.ndarray] | None = None
        self._per_dt: dict[float, tuple[np.ndarray, np.ndarray]] = {}

    def _decomposition(self) -> tuple[np.ndarray, np.ndarray]:
        """(eigenvalues 1/s ascending, orthonormal eigenvectors) of ``C^-1/2 G C^-1/2``, computed once."""
        if self._eigen is None:
            a = self._inv_sqrt_c[:, None] * self._g * self._inv_sqrt_c[None, :]
            with threadpool_limits(limits=1, user_api="blas"):
                self._eigen = la.eigh(0.5 * (a + a.T))
        return self._eigen

    @property
    def eigenvalues_per_s(self) -> np.ndarray:
        """Decay rates of the circuit's modes, ascending."""
        return self._decomposition()[0]

    @property
    def time_constants_s(self) -> np.ndarray:
        """The circuit's thermal time constants, longest first."""
        return 1.0 / self.eigenvalues_per_s[::-1]

    def _modal_factors(self, dt_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Per-mode decay ``e^{-lam dt}`` and gain ``(1 - e^{-lam dt}) / lam`` over one step."""
        lam = self.eigenvalues_per_s
        return np.exp(-lam * dt_s), -np.expm1(-lam * dt_s) / lam

    def _step_matrices(self, dt_s: float) -> tuple[np.ndarray, np.ndarray]:
        """``(K_dt, F_dt)`` with ``theta(dt) = K_dt theta + F_dt q``, cached per ``dt``."""
        matrices = self._per_dt.get(dt_s)
        if matrices is None:
            _, basis = self._decomposition()
            decay, gain = self._modal_factors(dt_s)
            left = self._inv_sqrt_c[:, None] * basis
            with threadpool_limits(limits=1, user_api="blas"):
                k = (left * decay) @ (basis.T * self._sqrt_c[None, :])
                f = (left * gain) @ (basis.T * self._inv_sqrt_c[None, :])
            if len(self._per_dt) >= MAX_CACHED_STEPS:
                self._per_dt.pop(next(iter(self._per_dt)))
            matrices = self._per_dt[dt_s] = (k, f)
        return matrices

    def steady(self, node_power_W: np.ndarray) -> np.ndarray:
        return la.cho_solve(self._steady_factor, node_power_W)

    def advance(self, theta: np.ndarray, node_power_W: np.ndarray, dt_s: float) -> np.ndarray:
        k, f = self._step_matrices(float(dt_s))
        return k @ theta + f @ node_power_W

    def advance_many(self, theta: np.ndarray, node_power_W: np.ndarray, dt_s: float) -> np.ndarray:
        """States after each of ``k`` consecutive steps with rows of ``node_power_W`` (k, n); returns (k, n).

        The projections of all the powers and of all the states are single matrix products; only the
        per-mode recurrence (elementwise, O(n) per step) runs in a loop.
        """
        _, basis = self._decomposition()
        decay, gain = self._modal_factors(float(dt_s))
        with threadpool_limits(limits=1, user_api="blas"):  # see __init__: threads only slow these sizes down
            forcing = (gain[:, None] * (basis.T @ (self._inv_sqrt_c[:, None] * node_power_W.T))).T  # (k, n)
            modes = np.empty_like(forcing)
            z = basis.T @ (self._sqrt_c * theta)
            for row in range(forcing.shape[0]):
                z = decay * z + forcing[row]
                modes[row] = z
            return (modes @ basis.T) * self._inv_sqrt_c[None, :]
