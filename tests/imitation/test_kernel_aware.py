"""Kernel-aware V/f in the Oracle (``OracleConfig.kernel_aware``): each instance's progress against its frequency is
fitted from two look-ahead runs, and the linear-model search lowers first the instance that loses least per kelvin."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ailfm.plugins.governors.base import Decision
from ailfm.plugins.imitation.oracle import InstanceProgress, Oracle, OracleConfig, OracleGovernor
from ailfm.plugins.imitation.rollout import simulation


def test_the_interval_model_is_recovered_from_two_runs():
    """Time per instruction c / f + s at two frequencies gives c and s back; an instance that gains nothing from
    frequency (c = 0) and one that retired nothing are told apart from a compute-bound one."""
    compute, stall = np.array([2.0, 0.0, 1.0, 0.7]), np.array([0.5, 1.5, 0.0, 0.0])
    f = np.array([[4.0, 4.0, 4.0, 3.0], [3.0, 3.0, 3.0, 2.0]])
    instructions = 1.0 / (compute / f + stall)
    instructions[:, 3] = 0.0  # retired nothing
    fitted = InstanceProgress.fit(np.arange(4), f, instructions)
    np.testing.assert_allclose(fitted.compute[:3], compute[:3], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fitted.stall[:3], stall[:3], rtol=1e-9, atol=1e-12)
    rate = fitted.rate(np.array([3.5, 3.5, 3.5, 3.5]), np.arange(4))
    np.testing.assert_allclose(rate[:3], 1.0 / (compute[:3] / 3.5 + stall[:3]))
    assert rate[3] == 0.0
    assert fitted.rate(np.array([1.0]), np.array([1]))[0] == pytest.approx(1 / 1.5)  # memory-bound: f-independent


class _Hold(OracleGovernor):
    """f_max on every core; keeps the last observation."""

    def decide(self, obs):
        self.last = obs
        return Decision(np.full(self.context.n_cores, self.context.system.dvfs.f_max_GHz))


@pytest.fixture(scope="module")
def two_instance_state(tiny_scenario):
    """The tiny chip after 20 epochs at f_max with two single-thread instances: the kernel-aware Oracle, the
    look-ahead, the last observation."""
    scenario = replace(tiny_scenario, instances=2, threads=1, requests=2, warmup_epochs=0, epochs=20)
    governor = _Hold(OracleConfig(kernel_aware=True))
    sim = simulation(scenario, governor)
    sim.run(20 * sim.system.thermal.epoch_s)
    return governor.oracle, sim.context.lookahead, governor.last


@pytest.mark.parametrize("memory_bound", [0, 1])
def test_the_instance_that_loses_least_is_lowered_first(two_instance_state, memory_bound):
    """With T_max binding, the instance that gains nothing from frequency gives up its levels before the
    compute-bound one does; which instance that is decides which core ends lower."""
    oracle, lookahead, _ = two_instance_state
    placement = lookahead.engine.snapshot().thread_core[0]
    compute = np.array([1.0, 1.0])
    compute[memory_bound] = 0.0
    progress = InstanceProgress(np.array([0, 1]), compute, 1.0 - compute)
    # the chip sits near T_max after the warm-up: a margin of -3 K lets it keep some levels, not all
    args = (lookahead.twin, lookahead.modes, placement[None], np.ones(2), np.ones(2, dtype=bool), 0.0, -3.0)
    thermal = oracle.linear_levels(*args)[0]
    aware = oracle.linear_levels(*args, progress=progress)[0]
    top = len(oracle.levels) - 1
    assert (thermal[placement] < top).any()  # the limit binds on this chip
    compute_bound = 1 - memory_bound
    assert aware[placement[memory_bound]] < aware[placement[compute_bound]]
    assert aware[placement[compute_bound]] >= thermal[placement[compute_bound]]


def test_a_kernel_aware_label_adds_candidates_and_never_scores_lower(two_instance_state):
    """The kernel-aware candidates come on top of the thermal ones (two more look-ahead runs measure the
    instances), so the label's look-ahead score cannot drop."""
    oracle, lookahead, obs = two_instance_state
    aware = oracle.label(lookahead, obs)
    thermal = Oracle(oracle.system, oracle.power, oracle.nuca, OracleConfig()).label(lookahead, obs)
    assert aware.evaluated > thermal.evaluated
    assert aware.safe >= thermal.safe
    if aware.safe == thermal.safe:
        assert aware.score >= thermal.score
