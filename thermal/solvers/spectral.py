"""Fast solves on HotSpot's grid: a cosine-transform preconditioner for conjugate gradients.

Used for the steady state (``G theta = p``) and for the transient's step matrices (``(C + s G) x = b``,
``ailfm.thermal.solvers.sparse``): both are a layered grid operator plus a per-node diagonal.
In the grid model every layer without per-cell materials joins its cells by the same two lateral
conductances (north-south and east-west), with no flux through the die's edges, joins each cell
to the one below by the same vertical conductance, and gives every cell of a layer the same diagonal term
(the sink's link to ambient; the heat capacity in a step matrix). That operator is the sum of Kronecker
products of 1D Neumann Laplacians, which the type-II discrete cosine transform diagonalises (Strang 1999,
"The discrete cosine transform", SIAM Review 41): in the cosine basis of the rows x cols cells the
problem falls apart into rows x cols independent tridiagonal systems across the L layers, solved
directly in O(N log N) (the "fast Poisson solver" of Buzbee, Golub and Nielson 1970, with a
tridiagonal solve across layers).

The real network deviates from that uniform operator in two places, handled as follows:

* the few extra nodes (HotSpot's twelve package nodes) and their links to the spreader's and sink's edge
  cells are kept exactly, through a small dense system in the span of those links (one batch of fast
  solves at set-up), except that each extra node's links are lumped into a single link from the
  conductance-weighted mean of its cells: ``b b^T / sum(b)`` in place of the diagonal ``diag(b)`` the
  links add to their cells, which no cosine basis diagonalises. The lumped term is smaller
  (Cauchy-Schwarz), so the preconditioner stays positive definite, and exact for a uniform edge;
* per-cell materials (``-detailed_3D on``): the preconditioner takes each layer's mean conductances and
  mean diagonal.

What remains is a symmetric positive definite preconditioner ``P`` close to the matrix: preconditioned
conjugate gradients on ``G theta = p`` reach a relative residual of 1e-12 in 13-19 iterations on the
reference cases, and on a step matrix ``C + s G`` of 0.1-2 ms in 2-5 (the capacities dominate). The caller
falls back to a sparse LU when the structure does not fit (the constructor raises ValueError) or CG does not
converge (``GridSolver.solve`` returns None).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import scipy.sparse as sp

# Stop when ||G theta - p|| <= RELATIVE_RESIDUAL ||p||; the answer then matches a direct solve to
# far below a millikelvin (tests/thermal/test_spectral.py compares every reference case).
RELATIVE_RESIDUAL = 1e-12
# Give up (the caller falls back to LU) beyond this many CG iterations; the reference cases need 13-19.
MAX_ITERATIONS = 300


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product without BLAS: multithreaded OpenBLAS dot products of this size cost milliseconds each on
    a loaded machine (threads spin-waiting for a core), einsum's own loop microseconds."""
    return float(np.einsum("i,i->", a, b))


@cache
def dct_matrix(n: int) -> np.ndarray:
    """The orthonormal type-II DCT of length ``n`` as a matrix ``D`` (``scipy.fft.dct(x, norm="ortho") == D @ x``).

    On HotSpot's grids (tens of cells a side) two small matrix products transform a whole layer as fast as an FFT,
    and numpy alone does it: importing ``scipy.fft`` (which loads ``scipy.special``) costs 0.05-0.2 s of every
    ``ailfm-hotspot`` run. The angle is reduced exactly in integers before the cosine.
    """
    k, j = np.arange(n)[:, None], np.arange(n)[None, :]
    matrix = np.sqrt(2.0 / n) * np.cos(np.pi * ((k * (2 * j + 1)) % (4 * n)) / (2 * n))
    matrix[0] /= np.sqrt(2.0)
    return matrix


def _dct2(cube: np.ndarray) -> np.ndarray:
    """Orthonormal 2D DCT-II over the last two axes (rows, columns)."""
    return dct_matrix(cube.shape[-2]) @ cube @ dct_matrix(cube.shape[-1]).T


def _idct2(cube: np.ndarray) -> np.ndarray:
    """Inverse of ``_dct2``."""
    return dct_matrix(cube.shape[-2]).T @ cube @ dct_matrix(cube.shape[-1])


class GridSolver:
    """Preconditioned CG for ``M x = b`` on a layered ``n_layers x rows x cols`` grid plus extra nodes.

    Parameters
    ----------
    conductance_W_per_K : sparse matrix, shape (n, n)
        ``M``: ``G``, or a step matrix ``C + s G``. Symmetric positive definite; the first
        ``n_layers * rows * cols`` nodes are the cells, layer-major, row-major inside a layer; the remaining
        nodes (HotSpot's package nodes) are few.
    ambient_conductance_W_per_K : ndarray, shape (n,)
        The part of M's diagonal that is not a link between nodes: each node's conductance to ambient
        (for ``C + s G``: ``C + s`` times it).
    grid_shape : (n_layers, rows, cols)
    """

    def __init__(self, conductance_W_per_K, ambient_conductance_W_per_K: np.ndarray,
                 grid_shape: tuple[int, int, int]):
        n_layers, rows, cols = grid_shape
        g = sp.csr_matrix(conductance_W_per_K)
        self.shape = (n_layers, rows, cols)
        self.conductance = g
        n_cells = n_layers * rows * cols
        self.n_cells = n_cells
        per_layer = rows * cols
        layer_of = np.arange(n_cells) // per_layer
        row_of = (np.arange(n_cells) // cols) % rows
        col_of = np.arange(n_cells) % cols

        def layer_mean(values, mask):
            return np.bincount(layer_of[: len(values)][mask], weights=values[mask], minlength=n_layers) / \
                np.maximum(np.bincount(layer_of[: len(values)][mask], minlength=n_layers), 1)

        # mean lateral and vertical link conductances per layer, read off G's off-diagonals
        g_ns = layer_mean(-g.diagonal(cols)[: n_cells - cols], row_of[: n_cells - cols] < rows - 1) \
            if rows > 1 else np.zeros(n_layers)
        g_we = layer_mean(-g.diagonal(1)[: n_cells - 1], col_of[: n_cells - 1] < cols - 1) \
            if cols > 1 else np.zeros(n_layers)
        g_z = -g.diagonal(per_layer)[: n_cells - per_layer].reshape(n_layers - 1, per_layer).mean(axis=1) \
            if n_layers > 1 else np.zeros(0)
        g_ground = ambient_conductance_W_per_K[:n_cells].reshape(n_layers, per_layer).mean(axis=1)

        # eigenvalues of the 1D Neumann Laplacians under the orthonormal DCT-II
        lam_rows = 4.0 * np.sin(np.pi * np.arange(rows) / (2 * rows)) ** 2
        lam_cols = 4.0 * np.sin(np.pi * np.arange(cols) / (2 * cols)) ** 2
        lateral = g_ns[:, None, None] * lam_rows[None, :, None] + g_we[:, None, None] * lam_cols[None, None, :]
        diagonal = lateral + g_ground[:, None, None]
        diagonal[:-1] += g_z[:, None, None]
        diagonal[1:] += g_z[:, None, None]
        # Thomas algorithm across layers, factorised once for every mode: pivots d_l and multipliers
        pivots = np.empty_like(diagonal)
        pivots[0] = diagonal[0]
        for layer in range(1, n_layers):
            pivots[layer] = diagonal[layer] - g_z[layer - 1] ** 2 / pivots[layer - 1]
        if np.any(pivots <= 0):
            raise ValueError("the uniform part of the grid is not positive definite")
        self._g_z = g_z
        self._inverse_pivots = 1.0 / pivots
        self._forward_multipliers = g_z[:, None, None] / pivots[:-1]
        self._mode_diagonal = diagonal

        # The extra nodes and their links to cells, kept exactly except for the diagonal the links add to
        # their cells: each extra node's links are lumped into one link from the conductance-weighted mean
        # of its cells, b b^T / sum(b) in place of diag(b), which is smaller (Cauchy-Schwarz), so P stays
        # positive definite, and exact for a uniform temperature along the edge.
        n_extra = g.shape[0] - n_cells
        self._extra = n_extra
        if n_extra:
            coupling_T = g[n_cells:, :n_cells]  # B^T, the extra nodes' links to cells (G is symmetric)
            link_sums = -np.asarray(coupling_T.sum(axis=1)).ravel()
            linked = np.flatnonzero(link_sums > 0)
            n_linked = len(linked)
            self._linked = linked
            self._link_weight = 1.0 / link_sums[linked]
            self._linked_coupling_T = sp.csr_matrix(coupling_T[linked])
            # the uniform part's response to each linked node's links, one row per linked node
            self._response = self._fast_solve(self._linked_coupling_T.toarray()) if n_linked else \
                np.zeros((0, n_cells))
            h = np.asarray(self._linked_coupling_T @ self._response.T)
            select = np.eye(n_extra)[linked]
            small = np.block([[np.eye(n_linked) + h * self._link_weight[None, :], h @ select],
                              [select.T, g[n_cells:, n_cells:].toarray()]])
            self._small = small

    def _fast_solve(self, residual: np.ndarray) -> np.ndarray:
        """The uniform operator's inverse on the cells (``residual`` one vector or a stack of them): DCT, a
        tridiagonal solve across layers per mode, inverse DCT."""
        cube = _dct2(residual.reshape(residual.shape[:-1] + self.shape))
        self._solve_modes(cube)
        return _idct2(cube).reshape(residual.shape)

    def _solve_modes(self, cube: np.ndarray) -> None:
        """In place: the tridiagonal solve across layers of every cosine mode (the factorised Thomas algorithm)."""
        forward, inverse, g_z = self._forward_multipliers, self._inverse_pivots, self._g_z
        for layer in range(1, len(inverse)):
            cube[..., layer, :, :] += forward[layer - 1] * cube[..., layer - 1, :, :]
        cube[..., -1, :, :] *= inverse[-1]
        for layer in range(len(inverse) - 2, -1, -1):
            cube[..., layer, :, :] += g_z[layer] * cube[..., layer + 1, :, :]
            cube[..., layer, :, :] *= inverse[layer]

    def _precondition(self, residual: np.ndarray) -> np.ndarray:
        """P^-1 residual: the fast solve on the cells, corrected in the span of the extra nodes' links."""
        cells = self._fast_solve(residual[: self.n_cells])
        if not self._extra:
            return cells
        n_linked = len(self._linked)
        small = np.linalg.solve(self._small, np.concatenate([self._linked_coupling_T @ cells, residual[self.n_cells:]]))
        lumped, extra = small[:n_linked], small[n_linked:]
        correction = np.einsum("ki,k->i", self._response, self._link_weight * lumped + extra[self._linked])
        return np.concatenate([cells - correction, extra])

    def solve(self, power_W: np.ndarray, *, relative_residual: float = RELATIVE_RESIDUAL,
              initial: np.ndarray | None = None) -> tuple[np.ndarray | None, int]:
        """x with ``M x = power_W`` to ``relative_residual`` (of ``||power_W||``) from ``initial`` (default 0),
        and the iterations; (None, n) if CG stalls."""
        return conjugate_gradients(self.conductance.__matmul__, self._precondition, np.asarray(power_W, dtype=float),
                                   relative_residual=relative_residual, initial=initial)


def conjugate_gradients(matvec, precondition, b: np.ndarray, *, relative_residual: float,
                        initial: np.ndarray | None = None) -> tuple[np.ndarray | None, int]:
    """Preconditioned CG for a symmetric positive definite ``matvec``: x with ``||b - M x|| <= relative_residual
    ||b||`` and the iterations, or (None, n) on breakdown or after MAX_ITERATIONS."""
    target = relative_residual * np.sqrt(_dot(b, b))
    if initial is None:
        x, r = np.zeros_like(b), b.copy()
    else:
        x = np.array(initial, dtype=float)
        r = b - matvec(x)
    if np.sqrt(_dot(r, r)) <= target:
        return x, 0
    z = precondition(r)
    d = z
    rz = _dot(r, z)
    for iteration in range(1, MAX_ITERATIONS + 1):
        q = matvec(d)
        alpha = rz / _dot(d, q)
        if not (np.isfinite(alpha) and alpha > 0):  # breakdown: M or the preconditioner is not definite
            break
        x += alpha * d
        r -= alpha * q
        if np.sqrt(_dot(r, r)) <= target:
            return x, iteration
        z = precondition(r)
        rz, rz_old = _dot(r, z), rz
        d = z + (rz / rz_old) * d
    return None, iteration


class ModalGridSolver(GridSolver):
    """The same CG, run in the cosine basis: vectors hold the cells' cosine coefficients, then the extra nodes.

    Exact only for a grid whose cells are uniform per layer apart from the extra nodes' links, and whose linked
    cells lie on the layer's boundary rows and columns (HotSpot's plain grid model: the spreader's and sink's edge
    cells): then ``M`` in that basis is the uniform operator's per-mode tridiagonal systems, plus the links' diagonal
    on the boundary cells, reached by a separable transform of the boundary rows and columns alone. A CG iteration
    then costs O(N) with no transform of the whole grid; a caller converts a state once per interval
    (``to_modes``/``from_modes``). The constructor checks the modal operator against ``M`` on a random vector
    and raises ValueError if the grid does not fit (``-detailed_3D``: use GridSolver).
    """

    def __init__(self, conductance_W_per_K, ambient_conductance_W_per_K: np.ndarray,
                 grid_shape: tuple[int, int, int]):
        super().__init__(conductance_W_per_K, ambient_conductance_W_per_K, grid_shape)
        n_layers, rows, cols = grid_shape
        g, n_cells = self.conductance, self.n_cells
        # physical <- modal along rows and columns: x = phi @ x_hat @ psi.T
        self._phi = dct_matrix(rows).T
        self._psi = dct_matrix(cols).T
        self._edge_rows = np.unique([0, rows - 1])
        self._edge_cols = np.unique([0, cols - 1])
        self._inner_rows = np.setdiff1d(np.arange(rows), self._edge_rows)
        coupling = sp.csr_matrix(g[:n_cells, n_cells:])
        linked_cells = np.unique(coupling.nonzero()[0])
        layer, row, col = np.unravel_index(linked_cells, grid_shape)
        if not np.all(np.isin(row, self._edge_rows) | np.isin(col, self._edge_cols)):
            raise ValueError("cells away from the grid's boundary link to extra nodes")
        self._edge_layers = np.unique(layer)
        # the linked cells as (edge-layer plane, row, col), and the transforms' rows and columns they need, indexed
        # once here rather than in every CG iteration
        self._linked_plane = (np.searchsorted(self._edge_layers, layer), row, col)
        self._phi_edge_rows, self._psi_t = self._phi[self._edge_rows], self._psi.T
        self._psi_edge_cols = self._psi[self._edge_cols]
        self._psi_edge_cols_t = self._psi_edge_cols.T
        self._phi_t_edge_rows = self._phi.T[:, self._edge_rows]
        self._phi_t_inner_rows = self._phi.T[:, self._inner_rows]
        # dense: a few hundred linked cells by a dozen extra nodes; a scipy.sparse product costs ~30 us of dispatch,
        # three per CG iteration
        self._cell_coupling = coupling[linked_cells].toarray()                          # M[S, extra]
        self._coupling_to_cells = g[n_cells:, :n_cells][:, linked_cells].toarray()      # M[extra, S]
        self._extra_block = g[n_cells:, n_cells:].toarray()
        self._link_diagonal = -self._cell_coupling.sum(axis=1)
        if self._extra:
            linked_rows = sp.csr_matrix(self._linked_coupling_T[:, linked_cells]).toarray()
            links = np.zeros((len(linked_rows),) + self.shape)
            for k, row in enumerate(linked_rows):
                links[k, self._edge_layers] = self._edge_to_modes(row)
            response = links.copy()
            self._solve_modes(response)
            links, response = links.reshape(len(linked_rows), -1), response.reshape(len(linked_rows), -1)
            # each link lives on a few cosine modes (a uniform edge row: one column of modes): keep only those
            scale = np.abs(response).max(initial=0.0)
            self._support = np.flatnonzero(np.abs(response).max(axis=0, initial=0.0) > 1e-15 * scale)
            self._modal_links = links[:, self._support]
            self._modal_response = response[:, self._support]
        x = np.random.default_rng(0).standard_normal(g.shape[0])
        expected = g @ x
        got = self.from_modes(self.matvec(self.to_modes(x)))
        if not np.abs(got - expected).max() <= 1e-9 * np.abs(expected).max():
            raise ValueError("the grid is not uniform per layer outside its boundary links")

    def to_modes(self, x: np.ndarray) -> np.ndarray:
        cube = _dct2(x[: self.n_cells].reshape(self.shape))
        return np.concatenate([cube.ravel(), x[self.n_cells:]])

    def from_modes(self, x_hat: np.ndarray) -> np.ndarray:
        cube = _idct2(x_hat[: self.n_cells].reshape(self.shape))
        return np.concatenate([cube.ravel(), x_hat[self.n_cells:]])

    def _edge_values(self, cube: np.ndarray) -> np.ndarray:
        """Physical values of the linked cells from the modal cube (boundary rows and columns only)."""
        boundary = np.zeros((len(self._edge_layers),) + self.shape[1:])
        for k, lay in enumerate(self._edge_layers):
            modes = cube[lay]
            boundary[k, self._edge_rows, :] = (self._phi_edge_rows @ modes) @ self._psi_t
            boundary[k, :, self._edge_cols] = (self._phi @ (modes @ self._psi_edge_cols_t)).T
        return boundary[self._linked_plane]

    def _edge_to_modes(self, values: np.ndarray) -> np.ndarray:
        """The modal planes of the linked layers (``_edge_layers``) of a field that is ``values`` on the linked
        cells and zero elsewhere."""
        field = np.zeros((len(self._edge_layers),) + self.shape[1:])
        field[self._linked_plane] = values
        planes = np.einsum("pi,kiq->kpq", self._phi_t_edge_rows, field[:, self._edge_rows] @ self._psi)
        if len(self._inner_rows):
            planes += np.einsum("pi,kij->kpj", self._phi_t_inner_rows,
                                field[:, self._inner_rows][:, :, self._edge_cols]) @ self._psi_edge_cols
        return planes

    def matvec(self, x_hat: np.ndarray) -> np.ndarray:
        """M x in the cosine basis."""
        cube = x_hat[: self.n_cells].reshape(self.shape)
        extra = x_hat[self.n_cells:]
        out = self._mode_diagonal * cube
        out[1:] -= self._g_z[:, None, None] * cube[:-1]
        out[:-1] -= self._g_z[:, None, None] * cube[1:]
        edge = self._edge_values(cube)
        out[self._edge_layers] += self._edge_to_modes(self._link_diagonal * edge + self._cell_coupling @ extra)
        return np.concatenate([out.ravel(), self._coupling_to_cells @ edge + self._extra_block @ extra])

    def precondition(self, residual_hat: np.ndarray) -> np.ndarray:
        """P^-1 residual in the cosine basis (GridSolver's preconditioner, without transforms)."""
        cells = residual_hat[: self.n_cells].copy()
        self._solve_modes(cells.reshape(self.shape))
        if not self._extra:
            return cells
        n_linked = len(self._linked)
        small = np.linalg.solve(self._small, np.concatenate([self._modal_links @ cells[self._support],
                                                             residual_hat[self.n_cells:]]))
        lumped, extra = small[:n_linked], small[n_linked:]
        cells[self._support] -= np.einsum("ki,k->i", self._modal_response,
                                          self._link_weight * lumped + extra[self._linked])
        return np.concatenate([cells, extra])

    def solve_modes(self, b_hat: np.ndarray, *, relative_residual: float,
                    initial: np.ndarray | None = None) -> tuple[np.ndarray | None, int]:
        """``solve`` with right-hand side and answer in the cosine basis."""
        return conjugate_gradients(self.matvec, self.precondition, b_hat, relative_residual=relative_residual,
                                   initial=initial)
