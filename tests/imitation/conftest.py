"""Fixtures of the imitation-learning tests: the tiny 2x2x2 system, a short scenario, a small fitted policy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

TINY_SYSTEM = str(Path(__file__).with_name("tiny-2x2x2.yaml"))


@pytest.fixture(scope="session")
def tiny_system_path():
    return TINY_SYSTEM


@pytest.fixture(scope="session")
def tiny_scenario():
    from ailfm.plugins.imitation.rollout import RolloutScenario

    return RolloutScenario(system=TINY_SYSTEM, workload="llama-2-7b", lengths="fixed:4,2", requests=1, instances=1,
                           threads=2, warmup_epochs=20, epochs=4, grid_cells=8)


@pytest.fixture(scope="session")
def oracle_rollout(tiny_scenario):
    from ailfm.plugins.imitation.rollout import RolloutTask, rollout

    return rollout(RolloutTask(tiny_scenario, "oracle"))


@pytest.fixture(scope="session")
def small_policy(oracle_rollout):
    """A pipeline fitted on the tiny roll-out's labels (few iterations: the tests check plumbing, not quality)."""
    from ailfm.plugins.imitation.policy import Ensemble

    x = oracle_rollout.features.reshape(-1, oracle_rollout.features.shape[-1])
    y = oracle_rollout.targets.reshape(-1, 2).astype(np.float64)
    return Ensemble.fit(x, y, seed=0, members=2)


@pytest.fixture(scope="session")
def policy_file(small_policy, tmp_path_factory):
    from ailfm.plugins.imitation.policy import to_onnx

    path = tmp_path_factory.mktemp("policy") / "policy.onnx"
    path.write_bytes(to_onnx(small_policy.policy, "test fixture"))
    return path
