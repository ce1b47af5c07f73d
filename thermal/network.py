"""A linear thermal RC circuit and the solver seam over it.

Both of HotSpot's models (block and grid) reduce to the same linear system in the temperature
rise over ambient, theta = T - T_amb (K):

    C dtheta/dt = -G theta + B p

with ``C`` the node heat capacities (J/K, already scaled by HotSpot's C_FACTOR), ``G`` the
symmetric conductance matrix (W/K, the conductance to ambient on its diagonal) and ``B`` mapping
block powers ``p`` (W) onto nodes. The model builders (``block.py``, ``grid.py``) produce an
``RCNetwork``; the solvers (``solvers/``) advance it; neither knows about the other's internals.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True, eq=False)
class RCNetwork:
    """The circuit ``C dtheta/dt = -G theta + B p``.

    Attributes
    ----------
    conductance_W_per_K : scipy.sparse.csr_matrix, shape (n, n)
        Symmetric; off-diagonal ``-g_ij``, diagonal ``sum_j g_ij + g_ambient_i``.
    capacitance_J_per_K : ndarray, shape (n,)
        Node heat capacities, positive.
    ambient_conductance_W_per_K : ndarray, shape (n,)
        Each node's conductance to ambient (its share of the diagonal of ``G``); the heat leaving
        through convection is ``ambient_conductance_W_per_K @ theta``.
    power_to_node : scipy.sparse.csr_matrix, shape (n, n_power)
        Node power = ``power_to_node @ block_power``.
    """

    conductance_W_per_K: sp.csr_matrix
    capacitance_J_per_K: np.ndarray
    ambient_conductance_W_per_K: np.ndarray
    power_to_node: sp.csr_matrix

    def __post_init__(self):
        n = self.capacitance_J_per_K.shape[0]
        if self.conductance_W_per_K.shape != (n, n):
            raise ValueError(f"conductance is {self.conductance_W_per_K.shape}, expected ({n}, {n})")
        if self.ambient_conductance_W_per_K.shape != (n,):
            raise ValueError("ambient conductance must have one entry per node")
        if self.power_to_node.shape[0] != n:
            raise ValueError("power_to_node must have one row per node")
        if np.any(self.capacitance_J_per_K <= 0):
            raise ValueError("every node needs a positive heat capacity")

    @property
    def n_nodes(self) -> int:
        return self.capacitance_J_per_K.shape[0]


class RCSolver(ABC):
    """Advances an ``RCNetwork``; built once (factorisations, eigendecompositions cached), used every step."""

    def __init__(self, network: RCNetwork):
        self.network = network

    @abstractmethod
    def steady(self, node_power_W: np.ndarray) -> np.ndarray:
        """theta at steady state: solve ``G theta = node_power``."""

    @abstractmethod
    def advance(self, theta: np.ndarray, node_power_W: np.ndarray, dt_s: float) -> np.ndarray:
        """theta after ``dt_s`` with constant node power, starting from ``theta``."""


class ThermalCircuit(ABC):
    """An ``RCNetwork`` plus HotSpot's names for it: what a model builder (block or grid) hands to the model.

    The builder knows how nodes map to blocks (one silicon node per block in the block model; grid
    cells averaged/min/max/centre per block in the grid model); the solvers see only ``network``.
    """

    network: RCNetwork
    power_names: tuple[str, ...]  # ptrace columns, in order
    output_names: tuple[str, ...]  # ttrace columns, in order
    node_names: tuple[str, ...]  # .steady/.init names, in HotSpot's order

    @abstractmethod
    def outputs(self, theta: np.ndarray) -> np.ndarray:
        """Temperature rises of ``output_names`` from node rises ``theta``."""

    @abstractmethod
    def named_nodes(self, theta: np.ndarray) -> np.ndarray:
        """Temperature rises of ``node_names`` (what HotSpot writes to ``.steady`` files)."""

    @abstractmethod
    def theta_from_named(self, rise_by_name: dict[str, float]) -> np.ndarray:
        """Node rises from an init file's values (rises over ambient), keyed by ``node_names``; all must be present."""

    def has_grid_maps(self) -> bool:
        return False

    def grid_maps(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Per-layer rows x cols maps of temperature rise; grid circuits only."""
        raise NotImplementedError(f"{type(self).__name__} has no grid maps; check has_grid_maps() first")
