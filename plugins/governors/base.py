"""The governor seam: each epoch a governor reads an ``Observation`` and returns a ``Decision``.

A decision sets every core's requested V/f level and, optionally, a new thread -> core placement. The loop applies
DTM on top (a throttled core runs at f_min whatever the governor asked), so every governor runs "with DTM".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from ailfm.plugins.system.description import SystemDescription
from ailfm.plugins.system.nuca import NucaModel
from ailfm.plugins.system.power import PowerModel

if TYPE_CHECKING:
    from ailfm.plugins.epoch.chip_thermal import ThermalTwin
    from ailfm.plugins.epoch.lookahead import Lookahead


@dataclass(frozen=True, eq=False)
class Observation:
    """What a governor sees at the start of an epoch (counters of the epoch just finished; read-only: the arrays may
    be the loop's records).

    Per core (n_cores): ``temperature_K``, ``power_W`` (core + router), ``f_GHz`` (last request), ``f_effective_GHz``
    (after DTM; 0 when clock-gated), ``utilisation`` (OS-visible load: issuing, stalled or spinning), ``ips``,
    ``activity`` (switching activity), ``dtm_throttled``; means over the epoch's sub-steps, temperatures and DTM flags
    at its end.
    Per thread (n_threads): ``thread_core`` (-1 = not placed), ``thread_kernel_type`` (-1 = finished),
    ``thread_ips``, ``thread_llc_apki``, ``thread_dram_mpki``.
    """

    epoch: int
    time_s: float
    temperature_K: np.ndarray
    power_W: np.ndarray
    f_GHz: np.ndarray
    f_effective_GHz: np.ndarray
    utilisation: np.ndarray
    ips: np.ndarray
    activity: np.ndarray
    dtm_throttled: np.ndarray
    thread_core: np.ndarray
    thread_kernel_type: np.ndarray
    thread_ips: np.ndarray
    thread_llc_apki: np.ndarray
    thread_dram_mpki: np.ndarray
    uncore_power_W: float


def starting_observation(system: SystemDescription, temperature_K: np.ndarray, thread_core: np.ndarray,
                         throttled: np.ndarray | None = None) -> Observation:
    """What a governor sees before the first epoch: the chip at ``temperature_K``, nothing run yet, every core
    requested at f_max; ``thread_core`` -1 where a thread is not placed yet (the state an initial placement is
    decided in)."""
    n_cores, n_threads = system.n_cores, len(thread_core)
    f_max = np.full(n_cores, system.dvfs.f_max_GHz)
    zeros_c, zeros_t = np.zeros(n_cores), np.zeros(n_threads)
    throttled = np.zeros(n_cores, dtype=bool) if throttled is None else throttled
    return Observation(0, 0.0, np.array(temperature_K, dtype=float), zeros_c, f_max, f_max, zeros_c, zeros_c, zeros_c,
                       throttled, np.array(thread_core, dtype=np.int64), np.zeros(n_threads, dtype=np.int64), zeros_t,
                       zeros_t, zeros_t, 0.0)


@dataclass(frozen=True, eq=False)
class Decision:
    """Requested frequency per core (snapped to the V/f grid by the loop) and, optionally, a new placement."""

    f_GHz: np.ndarray
    thread_core: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class GovernorContext:
    """What a governor may know about the machine (static for the run), plus, for look-ahead governors (the
    Oracle), a handle that simulates candidate actions from the loop's current state (``lookahead``; None when the
    thermal model is not linear)."""

    system: SystemDescription
    nuca: NucaModel
    power: PowerModel
    n_threads: int
    thread_instance: np.ndarray
    kernel_type_names: tuple[str, ...]
    resistance: Callable[[], tuple[np.ndarray, np.ndarray]]  # steady (core <- core, core <- bank) K/W, lazily
    twin: Callable[[], ThermalTwin] | None = None  # linear thermal model, lazily (model-predictive governors)
    lookahead: Lookahead | None = None

    @cached_property
    def thermal_resistance_K_per_W(self) -> tuple[np.ndarray, np.ndarray]:
        """Steady-state core temperature rise per watt (core <- core, core <- bank), from the thermal model."""
        return self.resistance()

    @cached_property
    def thermal_twin(self) -> ThermalTwin:
        """The governor's own linear model of the chip's thermal response (``ThermalTwin``)."""
        if self.twin is None:
            raise ValueError("this governor context has no thermal model (GovernorContext.twin)")
        return self.twin()

    @property
    def n_cores(self) -> int:
        return self.system.n_cores

    @property
    def levels_GHz(self) -> np.ndarray:
        return self.system.dvfs.levels_GHz


class Governor(ABC):
    """A DVFS and/or migration policy; ``decide`` is called once per epoch.

    Subclasses set ``name`` (the registry key) and ``source`` (where the algorithm comes from), implement ``decide``
    and may override ``initial_placement`` (default: HotSniper's ``mapFirstUnused``: thread i on core i).
    """

    name: ClassVar[str]
    source: ClassVar[str]

    def setup(self, context: GovernorContext) -> None:
        """Called once before the run; keep what you need from the context."""
        self.context = context

    def initial_placement(self, temperature_K: np.ndarray) -> np.ndarray:
        """Thread -> core map at time 0."""
        return np.arange(self.context.n_threads)

    @abstractmethod
    def decide(self, obs: Observation) -> Decision:
        """The decision for the coming epoch."""

    def state(self) -> dict[str, np.ndarray]:
        """What the governor carries from one epoch to the next, as named arrays (a run's checkpoint saves it);
        empty for a governor that decides from the observation alone. A governor with memory returns its arrays
        by attribute path (``"shield.modes"``), which the default ``restore`` fills in place."""
        return {}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        """Continue from ``state`` (after ``setup``)."""
        for name, value in self.state().items():
            *owners, attribute = name.split(".")
            holder = self
            for owner in owners:
                holder = getattr(holder, owner)
            getattr(holder, attribute)[...] = _checked(state, name, value)


def _checked(state: dict[str, np.ndarray], name: str, like: np.ndarray) -> np.ndarray:
    if name not in state or np.shape(state[name]) != np.shape(like):
        raise ValueError(f"governor state {name!r} missing or of another shape than {np.shape(like)}")
    return state[name]

