"""From policy outputs to decisions: nearest V/f level, the thermal shield, score-driven thread moves."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from ailfm.plugins.imitation.actions import MAX_MOVES, MOVE_MARGIN, frequencies_from_fractions, moved_placement
from ailfm.plugins.system import load_system


@pytest.fixture(scope="module")
def context():
    return SimpleNamespace(system=load_system())


def _obs(t_max_K, headroom_K, f_request, f_effective, placement=None, kernel=None):
    return SimpleNamespace(temperature_K=t_max_K - np.asarray(headroom_K, dtype=float),
                           f_GHz=np.asarray(f_request, dtype=float),
                           f_effective_GHz=np.asarray(f_effective, dtype=float),
                           thread_core=placement, thread_kernel_type=kernel)


def test_levels_and_the_thermal_shield(context):
    t_max = context.system.thermal.t_max_K
    #              cool   slew band (throttled core)  down band   stop band   cool, fraction between levels
    obs = _obs(t_max, [10.0, 2.0, 1.0, 0.2, 10.0], [4.0, 4.0, 3.0, 4.0, 4.0], [4.0, 1.0, 3.5, 4.0, 4.0])
    f = frequencies_from_fractions(context, np.array([1.0, 1.0, 1.0, 1.0, 0.51]), obs)
    assert np.allclose(f, [4.0, 1.2, 2.8, 1.0, 2.5], atol=1e-6)  # 0.51 of 1-4 GHz = 2.53 GHz -> nearest level 2.5
    assert np.all(f <= 4.0 + 1e-6) and np.all(f >= 1.0)


def test_threads_move_from_low_to_high_scores(context):
    placement = np.array([0, 1, 2, 3])
    kernel = np.array([0, 0, -1, 0])  # thread 2 has finished: it never moves
    score = np.array([0.1, 0.9, 0.0, 0.5, 0.95, 0.2, 0.6, 0.3])
    obs = _obs(350.0, np.zeros(8), np.zeros(8), np.zeros(8), placement, kernel)
    moved = moved_placement(score, obs)
    # worst running threads: 0 (0.1), then 3 (0.5); best free cores: 4 (0.95), then 6 (0.6)
    assert moved.tolist() == [4, 1, 2, 3]  # 0.6 - 0.5 < margin: thread 3 stays
    assert moved_placement(np.full(8, 0.5), obs) is None
    many = np.arange(8)
    assert np.sum(moved_placement(np.r_[np.zeros(8), np.ones(8)], _obs(350.0, np.zeros(16), np.zeros(16),
                                  np.zeros(16), many, np.zeros(8, dtype=int))) != many) == MAX_MOVES
    assert MOVE_MARGIN > 0
