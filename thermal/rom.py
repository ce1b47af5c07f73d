"""A reduced-order thermal model: the grid model's RC circuit projected onto a small Krylov subspace.

The grid model of a 4-layer stack has ~10^4 nodes; the co-simulator needs ~10^2 block temperatures every 1 ms. We
project ``C dtheta/dt = -G theta + B p`` (``ailfm.thermal.network``) onto the block Krylov space
``span{G^-1 B, (G^-1 C) G^-1 B, ...}`` (one-sided Galerkin moment matching at s = 0, as in PRIMA, Odabasioglu et al.,
IEEE TCAD 1998). The reduced matrices stay symmetric positive definite, so the model is stable and passive, and
because ``G^-1 B`` is in the basis the steady state is exact. The reduced system is diagonalised once (generalised
symmetric eigenproblem); a step of a fixed ``dt`` with piecewise-constant power is then exact for the reduced system:
``z <- e^{-lambda dt} z + (1 - e^{-lambda dt}) / lambda * (W p)`` and ``T = T_amb + H z``: two small matrix-vector
products per epoch. Its error against the full grid model is measured by ``bench/cosim_speed.py`` and the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numba import njit

from ailfm.thermal.base import LinearThermal, LinearView, ThermalModel
from ailfm.thermal.network import ThermalCircuit


class ReducedOrderThermalModel(ThermalModel, LinearThermal):
    """Krylov-reduced ``ThermalCircuit`` behind the ``ThermalModel`` seam (block temperatures only).

    Parameters
    ----------
    circuit : ThermalCircuit
        The full model's circuit (grid or block); its ``outputs`` must be linear (grid map mode ``avg``/``center``).
    ambient_K : float
        Ambient temperature.
    moments : int
        Krylov blocks kept: the order is ``moments x n_power`` (before deflation). 2 is enough for 1 ms epochs on the
        default stack (see the tests); more costs time per step quadratically.
    expansion_points_per_s : tuple of float
        Laplace points ``s`` of the Krylov blocks ``(G + s C)^-1 ...``; the first must be 0 (exact steady state).
    input_patterns : ndarray (n_power, k), optional
        Power maps the basis is built for (default: every block on its own). Any power vector is accepted; the
        transient is matched for vectors in the span of the patterns (the built-in engine's maps: any core powers,
        all banks equal), which keeps the order small.
    init_K : float, optional
        Uniform start temperature for ``reset()`` (default: ambient).
    """

    def __init__(self, circuit: ThermalCircuit, *, ambient_K: float, moments: int = 2,
                 expansion_points_per_s: tuple[float, ...] = (0.0,), input_patterns: np.ndarray | None = None,
                 init_K: float | None = None):
        if moments < 1 or not expansion_points_per_s or expansion_points_per_s[0] != 0.0:
            raise ValueError("moments must be at least 1 and the first expansion point 0 (exact steady state)")
        network = circuit.network
        self.power_names = tuple(circuit.power_names)
        self.output_names = tuple(circuit.output_names)
        self.ambient_K = float(ambient_K)
        self._init_K = self.ambient_K if init_K is None else float(init_K)
        n = network.n_nodes
        readout = circuit.outputs(sp.identity(n, format="csr"))
        readout = readout.toarray() if sp.issparse(readout) else np.asarray(readout)
        if readout.shape == (n, len(self.output_names)):  # circuits that read (samples, nodes) transpose it
            readout = readout.T
        if readout.shape != (len(self.output_names), n):
            raise ValueError(f"{type(circuit).__name__}.outputs is not a linear readout; use map mode avg or center")

        capacitance = network.capacitance_J_per_K
        inputs = network.power_to_node.toarray()
        if input_patterns is not None:
            inputs = inputs @ np.asarray(input_patterns, dtype=float)
        basis = None
        for point in expansion_points_per_s:
            factor = spla.splu(sp.csc_matrix(network.conductance_W_per_K + point * sp.diags(capacitance)))
            block = factor.solve(np.asfortranarray(inputs))  # SuperLU solves column-major right-hand sides ~3x faster
            for moment in range(moments):
                if moment:
                    block = factor.solve(np.asfortranarray(capacitance[:, None] * block))
                new = _orthonormal(block, basis)
                basis = new if basis is None else np.hstack([basis, new])
        g_reduced = basis.T @ (network.conductance_W_per_K @ basis)
        c_reduced = basis.T @ (capacitance[:, None] * basis)
        b_reduced = basis.T @ network.power_to_node
        rates, modes = scipy.linalg.eigh((g_reduced + g_reduced.T) / 2, (c_reduced + c_reduced.T) / 2)
        self.order = len(rates)
        self._rates_per_s = rates
        self._input = modes.T @ b_reduced  # modal forcing per watt
        self._output = np.ascontiguousarray(readout @ (basis @ modes))  # block rise per modal amplitude
        self._project = modes.T @ c_reduced @ basis.T  # full state -> modal amplitudes (C-orthogonal projection)
        self._steady_gain = self._output @ (self._input / rates[:, None])  # K per W, exact steady state
        self._views: dict[float, LinearView] = {}
        self._modes = np.zeros(self.order)
        self.reset()

    # -- persistence -------------------------------------------------------------------------------------------
    _ARRAYS = ("_rates_per_s", "_input", "_output", "_project", "_steady_gain")

    def save(self, path) -> None:
        """The reduced model as one ``.npz`` file (written atomically), for ``load``."""
        import io

        from ailfm.files import write_atomic

        buffer = io.BytesIO()
        np.savez(buffer, power_names=np.array(self.power_names), output_names=np.array(self.output_names),
                 temperatures_K=np.array([self.ambient_K, self._init_K]),
                 **{name.lstrip("_"): getattr(self, name) for name in self._ARRAYS})
        write_atomic(path, buffer.getvalue())

    @classmethod
    def load(cls, path) -> ReducedOrderThermalModel:
        """A model ``save`` wrote: the same matrices, so the same steps bit for bit."""
        with np.load(path) as data:
            model = cls.__new__(cls)
            model.power_names = tuple(str(n) for n in data["power_names"])
            model.output_names = tuple(str(n) for n in data["output_names"])
            model.ambient_K, model._init_K = (float(v) for v in data["temperatures_K"])
            for name in cls._ARRAYS:
                setattr(model, name, np.ascontiguousarray(data[name.lstrip("_")]))
        model.order = len(model._rates_per_s)
        model._views = {}
        model._modes = np.zeros(model.order)
        model.reset()
        return model

    # -- state ---------------------------------------------------------------------------------------------------
    def reset(self, init: float | Mapping[str, float] | None = None) -> None:
        if isinstance(init, Mapping):
            raise ValueError("the reduced-order model starts from a uniform temperature (it has no HotSpot nodes)")
        rise = (self._init_K if init is None else float(init)) - self.ambient_K
        self._modes[:] = self._project @ np.full(self._project.shape[1], rise)

    def state(self) -> np.ndarray:
        return self._modes.copy()

    def set_state(self, state: np.ndarray) -> None:
        self._modes[:] = self._checked_state(state, self._modes)

    def node_temperatures(self) -> dict[str, float]:
        """The reduced state has no HotSpot nodes: the block temperatures, by name."""
        return dict(zip(self.output_names, self.temperatures().tolist(), strict=True))

    def temperatures(self) -> np.ndarray:
        return self.ambient_K + self._output @ self._modes

    # -- solves --------------------------------------------------------------------------------------------------
    def steady(self, power_W: np.ndarray) -> np.ndarray:
        return self.ambient_K + self._steady_gain @ self.check_power(power_W)

    def steady_modes(self, power_W: np.ndarray) -> np.ndarray:
        """The modal state of the steady state under ``power_W`` (``set_state`` it to warm-start a transient)."""
        return self._input @ self.check_power(power_W) / self._rates_per_s

    @property
    def steady_gain_K_per_W(self) -> np.ndarray:
        """Steady rise of every output per watt of every input (n_output, n_power): the thermal resistance matrix."""
        return self._steady_gain.copy()

    def check_power(self, power_W: np.ndarray) -> np.ndarray:
        """The seam's validation, with a two-reduction fast path for the common valid vector."""
        power = np.asarray(power_W, dtype=float)
        if power.shape == (len(self.power_names),) and power.min() >= 0.0 and np.isfinite(power.sum()):
            return power
        return super().check_power(power)  # raises, naming the offending block

    def step(self, power_W: np.ndarray, dt_s: float) -> np.ndarray:
        power = self.check_power(power_W)
        view = self.linear_view(dt_s)
        out = np.empty(len(self.output_names))
        rom_step_kernel(view.decay, view.gain, view.output, self._modes, power, self.ambient_K, out)
        return out

    def linear_view(self, dt_s: float) -> LinearView:
        """The exact step of ``dt_s`` for the reduced system: decay ``e^{-lambda dt}``, gain
        ``(1 - e^{-lambda dt}) / lambda`` per modal input; computed once per step length."""
        view = self._views.get(dt_s)
        if view is None:
            decay = np.exp(-self._rates_per_s * dt_s)
            gain = np.ascontiguousarray(((1.0 - decay) / self._rates_per_s)[:, None] * self._input)
            view = self._views[dt_s] = LinearView(dt_s, self.ambient_K, decay, gain, self._output)
        return view

    @property
    def modes(self) -> np.ndarray:
        return self._modes

    @property
    def rates_per_s(self) -> np.ndarray:
        """The modes' decay rates lambda (1/s): a step of any ``dt`` is ``z <- e^{-lambda dt} z + (1 - e^{-lambda
        dt}) / lambda * (modal_input @ p)``, for callers that step many different lengths at once (``linear_view``
        caches one step length per call)."""
        return self._rates_per_s.copy()

    @property
    def modal_input(self) -> np.ndarray:
        """(order, n_power) modal forcing per watt of each input."""
        return self._input.copy()

    @property
    def modal_output(self) -> np.ndarray:
        """(n_output, order) temperature rise of each output per unit of each mode."""
        return self._output.copy()


def load_or_build(path: Path | None, build: Callable[[], ReducedOrderThermalModel]) -> ReducedOrderThermalModel:
    """The model saved at ``path`` when it reads back, else ``build()``, saved there; ``path`` None: always built.

    An unreadable file (an older format, a partial copy) is rebuilt and rewritten; a read-only cache only costs the
    rebuild."""
    if path is not None and path.is_file():
        try:
            return ReducedOrderThermalModel.load(path)
        except (OSError, KeyError, ValueError):
            pass
    model = build()
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            model.save(path)
        except OSError:
            pass
    return model


def _orthonormal(block: np.ndarray, basis: np.ndarray | None, tolerance: float = 1e-8) -> np.ndarray:
    """Columns spanning ``block`` orthogonal to ``basis`` (twice Gram-Schmidt, rank-revealing QR for deflation)."""
    for _ in range(2):
        if basis is not None:
            block = block - basis @ (basis.T @ block)
    q, r, _ = scipy.linalg.qr(block, mode="economic", pivoting=True)
    diagonal = np.abs(np.diag(r))
    keep = diagonal > tolerance * max(diagonal.max(initial=0.0), 1e-300)
    return q[:, keep]


@njit(cache=True)
def rom_step_kernel(decay, gain, output, modes, power_W, ambient_K, out_K):
    """``modes <- decay * modes + gain @ power`` in place; ``out_K = ambient + output @ modes``."""
    forced = np.dot(gain, power_W)
    for m in range(modes.shape[0]):
        modes[m] = decay[m] * modes[m] + forced[m]
    rise = np.dot(output, modes)
    for b in range(out_K.shape[0]):
        out_K[b] = ambient_K + rise[b]
