"""Governors run by an ONNX policy: any conforming file (``--governor path/to/policy.onnx``) and the shipped ``ail``.

Per epoch: the observation's per-core feature matrix (``ailfm.plugins.imitation.features``) goes through the model on
onnxruntime (one thread), and its two output columns become per-core V/f and thread moves
(``ailfm.plugins.imitation.actions``), the V/f capped by the model-predictive thermal shield
(``ailfm.plugins.governors.shielded``: the same path as the shielded ablation baselines). The file is checked against
the contract when the governor is built (``ailfm.plugins.imitation.contract``), so a wrong file fails before any
simulation starts. A policy whose file says ``ailfm.initial_placement = scores`` also places the threads at the start:
on the cores its placement scores rank highest in the starting state (``initial_scores``, ``scored_placement``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from ailfm.plugins.governors.base import GovernorContext, Observation, starting_observation
from ailfm.plugins.governors.placement import scored_placement
from ailfm.plugins.governors.shielded import ShieldedGovernor
from ailfm.plugins.imitation.actions import requested_from_outputs
from ailfm.plugins.imitation.contract import load_policy
from ailfm.plugins.imitation.features import FeatureExtractor

SHIPPED_POLICY = "ail-default.onnx"
#: the shipped policy per training objective (``ailfm ail train --objective``)
SHIPPED_POLICIES = {"throughput": SHIPPED_POLICY, "edp": "ail-edp.onnx"}


def shipped_policy_path(objective: str = "throughput") -> Path:
    return Path(str(resources.files("ailfm.plugins.policies") / SHIPPED_POLICIES[objective]))


class OnnxGovernor(ShieldedGovernor):
    name = "onnx"
    source = "an ONNX policy following the ailfm governor contract (docs/ail.md)"

    def __init__(self, path: str | Path):
        self.policy = load_policy(path)
        self.path = str(path)

    def setup(self, context: GovernorContext) -> None:
        super().setup(context)
        self.features = FeatureExtractor(context)

    def initial_placement(self, temperature_K: np.ndarray) -> np.ndarray:
        if not self.policy.scores_initial_placement:
            return super().initial_placement(temperature_K)
        return scored_placement(self.context, self.policy(initial_features(self.features, temperature_K))[:, 1])

    def request(self, obs: Observation) -> tuple[np.ndarray, np.ndarray | None]:
        return requested_from_outputs(self.context, self.policy(self.features(obs)), obs, self.policy.vf_rule)

    def state(self) -> dict[str, np.ndarray]:
        """The shield's state and the feature extractor's phase averages."""
        return {**super().state(), "features.phase": self.features.phase}


def initial_features(extractor: FeatureExtractor, temperature_K: np.ndarray) -> np.ndarray:
    """The feature matrix of the starting state (no thread placed yet), a copy; the extractor's phase averages are
    reset afterwards, so the run's first epoch sees what it would have without this call."""
    context = extractor.context
    obs = starting_observation(context.system, temperature_K, np.full(context.n_threads, -1))
    features = extractor(obs).copy()
    extractor.reset()
    return features


class AilGovernor(OnnxGovernor):
    name = "ail"
    source = "AILFM active-imitation-learned policy shipped in ailfm/plugins/policies (reproduce: ailfm ail train)"

    def __init__(self, path: str | Path | None = None):
        super().__init__(path or shipped_policy_path())


class AilEdpGovernor(AilGovernor):
    name = "ail-edp"
    source = "the AILFM policy trained for energy-delay product (reproduce: ailfm ail train --objective edp)"

    def __init__(self, path: str | Path | None = None):
        super().__init__(path or shipped_policy_path("edp"))
