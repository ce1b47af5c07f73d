"""The Gymnasium environment passes Gymnasium's own checker and steps the same loop."""

from __future__ import annotations

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")


@pytest.fixture(scope="module")
def env():
    from ailfm.plugins.run.config import RunConfig
    from ailfm.plugins.run.gym_env import CoSimEnv

    return CoSimEnv(RunConfig(duration_s=0.02, lengths="fixed:4,2", grid_cells=8))


def test_env_passes_the_gymnasium_checker(env):
    from gymnasium.utils.env_checker import check_env

    check_env(env, skip_render_check=True)


def test_max_frequency_earns_more_throughput_than_min(env):
    totals = {}
    for level in (0, len(env.levels_GHz) - 1):
        env.reset(seed=0)
        totals[level] = sum(env.step(np.full(env.action_space.shape, level))[1] for _ in range(5))
    assert totals[len(env.levels_GHz) - 1] > totals[0]


def test_episode_ends_at_the_duration(env):
    env.reset(seed=0)
    steps, truncated = 0, False
    while not truncated:
        *_, terminated, truncated, _ = env.step(env.action_space.sample())
        steps += 1
        assert not terminated
    assert steps == 20
