"""Governors behind the model-predictive thermal shield, with the coolest-cores initial placement.

Every ONNX policy (``onnx``, ``ail``) runs this way: its requested V/f passes ``PredictiveShield``
(``ailfm.plugins.imitation.shield``, docs/ail.md) and its threads start on the cores of lowest steady self-heating
(``coolest_placement``), or, if its file says so, where its own placement scores put them
(``OnnxGovernor.initial_placement``; a constant score is the coolest placement). The ablation baselines run the same
path with requests that learned nothing, so a table shows what the learning adds beyond the shield and the coolest
start:

* ``shielded-performance``: f_max on every core, threads never move (what an ONNX file that outputs V/f fraction 1
  and placement score 0 everywhere does);
* ``shielded-ondemand``: Linux ondemand's requests (``cpufreq.Ondemand``), threads never move.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import numpy as np

from ailfm.plugins.governors.base import Decision, Governor, GovernorContext, Observation
from ailfm.plugins.governors.cpufreq import Ondemand, Performance
from ailfm.plugins.governors.placement import coolest_placement
from ailfm.plugins.imitation.shield import SHIELD_GUARD_K, PredictiveShield


class ShieldedGovernor(Governor):
    """Coolest-cores initial placement; every epoch, ``request`` (V/f and optional moves) through the shield, which
    keeps the predicted temperatures ``guard_K`` below T_max (``spin_floor``: see ``PredictiveShield``)."""

    guard_K: float = SHIELD_GUARD_K
    spin_floor: bool = False

    def setup(self, context: GovernorContext) -> None:
        super().setup(context)
        self.shield = PredictiveShield(context, self.guard_K, self.spin_floor)

    def initial_placement(self, temperature_K: np.ndarray) -> np.ndarray:
        return coolest_placement(self.context)

    def state(self) -> dict[str, np.ndarray]:
        """The shield's thermal twin and activity peaks (what a run's checkpoint saves)."""
        return {"shield.modes": self.shield.modes, "shield.free_K": self.shield.free_K,
                "shield.thread_activity": self.shield.thread_activity}

    def decide(self, obs: Observation) -> Decision:
        self.shield.observe(obs)  # every epoch: keeps the shield's thermal twin in step with the chip
        f_GHz, placement = self.request(obs)
        return self.shield.decision(f_GHz, placement, obs)

    @abstractmethod
    def request(self, obs: Observation) -> tuple[np.ndarray, np.ndarray | None]:
        """Requested per-core V/f and the new placement (None: threads stay), before the shield."""


class ShieldedCpufreq(ShieldedGovernor):
    """A Linux cpufreq governor's requests through the shield; threads stay where the placement put them."""

    requests: ClassVar[type[Governor]]

    def __init__(self, guard_K: float = SHIELD_GUARD_K, spin_floor: bool = False):
        self.guard_K = guard_K
        self.spin_floor = spin_floor

    def setup(self, context: GovernorContext) -> None:
        super().setup(context)
        self.cpufreq = self.requests()
        self.cpufreq.setup(context)

    def state(self) -> dict[str, np.ndarray]:
        return {**super().state(), **{f"cpufreq.{k}": v for k, v in self.cpufreq.state().items()}}

    def request(self, obs: Observation) -> tuple[np.ndarray, np.ndarray | None]:
        return self.cpufreq.decide(obs).f_GHz, None


class ShieldedPerformance(ShieldedCpufreq):
    name = "shielded-performance"
    source = "ablation: f_max requests, coolest-cores placement, the ail governor's PredictiveShield (docs/ail.md)"
    requests = Performance


class ShieldedOndemand(ShieldedCpufreq):
    name = "shielded-ondemand"
    source = "ablation: Linux ondemand requests, coolest-cores placement, the ail governor's PredictiveShield"
    requests = Ondemand
