"""The thermal seam: what the co-simulator asks of any thermal model (built-in or real HotSpot).

A model is built once from a floorplan stack and parameters; then, once per control epoch,
``step(power_W, dt_s)`` advances it with the power held constant over the epoch (HotSpot's
semantics for one ptrace row) and returns the block temperatures. No file I/O happens per step
in the built-in models.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


class ThermalModel(ABC):
    """Block-level thermal model of a chip, stepped epoch by epoch.

    Attributes
    ----------
    power_names : tuple[str, ...]
        Names of the power inputs, in the order of ``power_W`` vectors (a ptrace's columns).
    output_names : tuple[str, ...]
        Names of the reported temperatures, in the order of returned vectors (a ttrace's columns).
    ambient_K : float
        Ambient temperature.
    """

    power_names: tuple[str, ...]
    output_names: tuple[str, ...]
    ambient_K: float

    @abstractmethod
    def steady(self, power_W: np.ndarray) -> np.ndarray:
        """Steady-state temperatures (K) of ``output_names`` under constant ``power_W``; the state is unchanged."""

    @abstractmethod
    def step(self, power_W: np.ndarray, dt_s: float) -> np.ndarray:
        """Advance the state by ``dt_s`` with ``power_W`` held constant; return temperatures (K) of ``output_names``."""

    @abstractmethod
    def reset(self, init: float | Mapping[str, float] | None = None) -> None:
        """Set the state: ``None`` -> the configured init temperature, a float -> uniform (K),
        a mapping -> HotSpot init-file values by node name (as read from a ``.init``/``.steady`` file)."""

    @abstractmethod
    def node_temperatures(self) -> dict[str, float]:
        """The current state as HotSpot names it in ``.steady``/``.init`` files (K), in HotSpot's order."""

    def state(self) -> np.ndarray:
        """A copy of the whole mutable state (for a checkpoint); ``set_state`` puts it back exactly."""
        raise NotImplementedError(f"{type(self).__name__} cannot save its state")

    def set_state(self, state: np.ndarray) -> None:
        """Continue from a ``state`` this model returned."""
        raise NotImplementedError(f"{type(self).__name__} cannot restore a state")

    @staticmethod
    def _checked_state(state: np.ndarray, like: np.ndarray) -> np.ndarray:
        state = np.asarray(state, dtype=float)
        if state.shape != like.shape:
            raise ValueError(f"a thermal state of shape {state.shape} does not fit this model's {like.shape}")
        return state

    def temperatures(self) -> np.ndarray:
        """Current temperatures (K) of ``output_names``."""
        raise NotImplementedError(f"{type(self).__name__} does not report temperatures without a step")

    def has_grid_maps(self) -> bool:
        """Whether ``grid_maps`` is available (grid models only)."""
        return False

    def grid_maps(self) -> dict[str, np.ndarray]:
        """Current per-layer temperature maps (K), rows x cols, keyed by layer name; grid models only."""
        raise NotImplementedError(f"{type(self).__name__} has no grid maps; check has_grid_maps() first")

    def check_power(self, power_W: np.ndarray) -> np.ndarray:
        """Validate a power vector once, at the seam: right length, finite, non-negative."""
        power = np.asarray(power_W, dtype=float)
        if power.shape != (len(self.power_names),):
            raise ValueError(f"power vector has shape {power.shape}, expected ({len(self.power_names)},)")
        if not np.all(np.isfinite(power)) or np.any(power < 0):
            bad = int(np.flatnonzero(~np.isfinite(power) | (power < 0))[0])
            raise ValueError(f"power of {self.power_names[bad]!r} is {power[bad]}: must be finite and >= 0")
        return power


@dataclass(frozen=True, eq=False)
class LinearView:
    """One step of ``dt_s`` of a linear thermal model in modal form, with the power held over the step:

    ``z <- decay * z + gain @ p`` and ``T = ambient_K + output @ z`` (``z`` the model's ``modes``).
    """

    dt_s: float
    ambient_K: float
    decay: np.ndarray  # (order,)
    gain: np.ndarray  # (order, n_power) modal forcing of one step per watt of each input
    output: np.ndarray  # (n_output, order)


class LinearThermal(ABC):
    """Capability of a thermal model that is linear in power with a modal state (the reduced-order model).

    Callers that predict many candidate futures at once (the Oracle's look-ahead, the shield) use the algebra
    directly: ``linear_view(dt_s)`` and copies of ``modes``.
    """

    @abstractmethod
    def linear_view(self, dt_s: float) -> LinearView:
        """The step of ``dt_s`` (computed once per step length)."""

    @property
    @abstractmethod
    def modes(self) -> np.ndarray:
        """The live modal state (``z``), which ``step`` advances in place."""
