"""The Oracle as a governor, ``--governor oracle`` (slow: a look-ahead search every epoch; for evaluation).

The search itself is ``ailfm.plugins.imitation.oracle``; imported lazily so that the governor registry does not pull
in the imitation package at import time.
"""

from __future__ import annotations

import numpy as np

from ailfm.plugins.governors.base import Decision, Governor, Observation


class OracleGovernor(Governor):
    """The Oracle as a governor (slow: a look-ahead search every epoch; for evaluation and demonstrations).

    It needs the loop's engine and thermal state: ``CoSimulation`` hands itself to ``bind_simulation``.
    """

    name = "oracle"
    source = "look-ahead search over placements and per-core V/f (ailfm.plugins.imitation.oracle, docs/ail.md)"

    def __init__(self, config=None):
        from ailfm.plugins.imitation.oracle import OracleConfig

        self.config = config or OracleConfig()
        self.simulation = None

    def bind_simulation(self, simulation) -> None:
        self.simulation = simulation

    def setup(self, context) -> None:
        super().setup(context)
        if self.simulation is None:
            raise RuntimeError("the oracle governor needs the co-simulation (CoSimulation.bind_simulation)")
        from ailfm.plugins.imitation.oracle import Oracle

        sim = self.simulation
        self.oracle = Oracle(context.system, sim.chip, context.power, context.nuca, self.config)

    def initial_placement(self, temperature_K: np.ndarray) -> np.ndarray:
        from ailfm.plugins.imitation.actions import coolest_placement

        return coolest_placement(self.context)

    def query(self, obs: Observation):
        """The Oracle's ``OracleLabel`` at the loop's current state."""
        from ailfm.plugins.imitation.lookahead import LoopState

        sim = self.simulation
        gated = (obs.f_effective_GHz <= 0)
        state = LoopState(obs.temperature_K, obs.dtm_throttled, gated)
        return self.oracle.label(sim.engine, sim.thermal, state, obs)

    def decide(self, obs: Observation) -> Decision:
        label = self.query(obs)
        return Decision(label.f_GHz, label.placement)
