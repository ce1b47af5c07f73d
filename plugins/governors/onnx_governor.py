"""Governors run by an ONNX policy: any conforming file (``--governor path/to/policy.onnx``) and the shipped ``ail``.

Per epoch: the observation's per-core feature matrix (``ailfm.plugins.imitation.features``) goes through the model on
onnxruntime (one thread), and its two output columns become per-core V/f and thread moves
(``ailfm.plugins.imitation.actions``), the V/f capped by the model-predictive thermal shield
(``ailfm.plugins.imitation.shield``). The file is checked against the contract when the governor is built
(``ailfm.plugins.imitation.contract``), so a wrong file fails before any simulation starts.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from ailfm.plugins.governors.base import Decision, Governor, GovernorContext, Observation
from ailfm.plugins.imitation.actions import coolest_placement, decision_from_outputs
from ailfm.plugins.imitation.contract import load_policy
from ailfm.plugins.imitation.features import FeatureExtractor
from ailfm.plugins.imitation.shield import PredictiveShield

SHIPPED_POLICY = "ail-default.onnx"


def shipped_policy_path() -> Path:
    return Path(str(resources.files("ailfm.plugins.policies") / SHIPPED_POLICY))


class OnnxGovernor(Governor):
    name = "onnx"
    source = "an ONNX policy following the ailfm governor contract (docs/ail.md)"

    def __init__(self, path: str | Path):
        self.policy = load_policy(path)
        self.path = str(path)

    def setup(self, context: GovernorContext) -> None:
        super().setup(context)
        self.features = FeatureExtractor(context)
        self.shield = PredictiveShield(context)

    def initial_placement(self, temperature_K: np.ndarray) -> np.ndarray:
        return coolest_placement(self.context)

    def state(self) -> dict[str, np.ndarray]:
        """The feature extractor's phase averages and the shield's thermal twin and activity peaks."""
        return {"features.phase": self.features.phase, "shield.modes": self.shield.modes,
                "shield.free_K": self.shield.free_K, "shield.thread_activity": self.shield.thread_activity}

    def decide(self, obs: Observation) -> Decision:
        self.shield.observe(obs)
        return decision_from_outputs(self.context, self.policy(self.features(obs)), obs, self.shield)


class AilGovernor(OnnxGovernor):
    name = "ail"
    source = "AILFM active-imitation-learned policy shipped in ailfm/plugins/policies (reproduce: ailfm ail train)"

    def __init__(self, path: str | Path | None = None):
        super().__init__(path or shipped_policy_path())
