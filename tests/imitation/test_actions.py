"""From policy outputs to decisions: nearest V/f level, score-driven thread moves (the shield: test_shield.py)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from ailfm.plugins.imitation.actions import MAX_MOVES, MOVE_MARGIN, frequencies_from_fractions, moved_placement
from ailfm.plugins.system.description import load_system


@pytest.fixture(scope="module")
def context():
    return SimpleNamespace(system=load_system())


def _obs(t_max_K, headroom_K, f_request, f_effective, placement=None, kernel=None):
    return SimpleNamespace(temperature_K=t_max_K - np.asarray(headroom_K, dtype=float),
                           f_GHz=np.asarray(f_request, dtype=float),
                           f_effective_GHz=np.asarray(f_effective, dtype=float),
                           thread_core=placement, thread_kernel_type=kernel)


def test_fractions_go_to_the_nearest_level(context):
    n = context.system.n_cores
    fraction = np.linspace(-0.2, 1.2, n)
    f = frequencies_from_fractions(context, fraction)
    levels = context.system.dvfs.levels_GHz
    wanted = levels[np.argmin(np.abs(levels[None, :] - (1.0 + 3.0 * np.clip(fraction, 0, 1))[:, None]), axis=1)]
    assert np.allclose(f, wanted)
    assert np.isclose(frequencies_from_fractions(context, np.array([0.51]))[0], 2.5)  # 0.51 of 1-4 GHz = 2.53


def test_threads_move_from_low_to_high_scores_to_cores_that_run_no_hotter(context):
    system = context.system
    n = system.n_cores
    placement = np.array([0, 1, 2, 3])
    kernel = np.array([0, 0, -1, 0])  # thread 2 has finished: it never moves
    score = np.full(n, 0.2)
    score[[0, 1, 2, 3]] = [0.1, 0.9, 0.0, 0.5]
    score[[4, 6]] = [0.95, 0.6]
    heating = np.ones(n)
    obs = _obs(system.thermal.t_max_K, np.full(n, 10.0), np.zeros(n), np.zeros(n), placement, kernel)
    # worst running threads: 0 (0.1), then 3 (0.5); best free cores: 4 (0.95), then 6 (0.6)
    assert moved_placement(score, obs, system, heating).tolist() == [4, 1, 2, 3]  # 0.6 - 0.5 < margin: 3 stays
    assert moved_placement(np.full(n, 0.5), obs, system, heating) is None
    hotter = heating.copy()
    hotter[4] = 2.0  # core 4 heats up more per watt than core 0: no move there
    assert moved_placement(score, obs, system, hotter) is None
    near_limit = _obs(system.thermal.t_max_K, np.where(np.arange(n) == 8, 1.0, 10.0), np.zeros(n), np.zeros(n),
                      placement, kernel)  # core 8 neighbours core 4
    assert moved_placement(score, near_limit, system, heating) is None
    many = np.arange(8)
    crowd = _obs(system.thermal.t_max_K, np.full(n, 10.0), np.zeros(n), np.zeros(n), many, np.zeros(8, dtype=int))
    ranked = np.r_[np.zeros(8), np.ones(n - 8)]
    assert np.sum(moved_placement(ranked, crowd, system, heating) != many) == MAX_MOVES
    assert MOVE_MARGIN > 0


def test_a_moved_thread_keeps_the_frequency_of_the_core_it_leaves(context):
    from ailfm.plugins.imitation.actions import requested_from_outputs

    system = context.system
    n = system.n_cores
    outputs = np.zeros((n, 2))
    outputs[:, 0] = 1.0  # f_max everywhere...
    outputs[0, 0] = 0.0  # ...except the core of thread 0, at f_min
    outputs[:, 1] = 0.5
    outputs[0, 1], outputs[40, 1] = 0.0, 1.0  # thread 0 moves from core 0 to core 40
    context = SimpleNamespace(system=system, thermal_resistance_K_per_W=(np.eye(n), None))
    obs = _obs(system.thermal.t_max_K, np.full(n, 10.0), np.full(n, 4.0), np.full(n, 4.0), np.array([0, 1]),
               np.array([0, 0]))
    f_GHz, placement = requested_from_outputs(context, outputs, obs)
    assert placement.tolist() == [40, 1]
    assert np.isclose(f_GHz[40], 1.0, atol=1e-6) and np.isclose(f_GHz[1], 4.0, atol=1e-6)


def test_the_per_instance_rule_gives_each_instances_running_cores_their_mean(context):
    """Threads 0-1 are instance 0, threads 2-4 instance 1 (thread 4 has finished: its core keeps its own output);
    free cores keep theirs; the per-core rule is each core's own output."""
    from ailfm.plugins.imitation.actions import instance_fractions, requested_from_outputs

    system = context.system
    n = system.n_cores
    outputs = np.zeros((n, 2))
    outputs[:, 0] = np.linspace(0.0, 1.0, n)
    placement = np.array([10, 20, 30, 40, 50])
    kernel = np.array([0, 0, 0, 0, -1])
    instances = SimpleNamespace(system=system, thread_instance=np.array([0, 0, 1, 1, 1]),
                                thermal_resistance_K_per_W=(np.eye(n), None))
    obs = _obs(system.thermal.t_max_K, np.full(n, 10.0), np.full(n, 4.0), np.full(n, 4.0), placement, kernel)
    fraction = instance_fractions(instances, outputs[:, 0], obs)
    own = outputs[:, 0]
    assert fraction[10] == fraction[20] == pytest.approx((own[10] + own[20]) / 2)
    assert fraction[30] == fraction[40] == pytest.approx((own[30] + own[40]) / 2)
    untouched = np.setdiff1d(np.arange(n), [10, 20, 30, 40])
    assert np.array_equal(fraction[untouched], own[untouched])
    shared, _ = requested_from_outputs(instances, outputs, obs, "per-instance")
    assert shared[10] == shared[20] and shared[30] == shared[40] and shared[10] != shared[30]
    single, _ = requested_from_outputs(instances, outputs, obs, "per-core")
    assert np.array_equal(single, frequencies_from_fractions(instances, own))
