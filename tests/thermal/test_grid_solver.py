"""SparseSolver: exact steady state, and a transient within its documented bound of the exact exponential."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp

from ailfm.thermal.network import RCNetwork
from ailfm.thermal.solvers import sparse
from ailfm.thermal.solvers.sparse import DEFAULT_ORDER, POLE_BY_ORDER, SparseSolver, rational_coefficients

# The uniform errors of the fits (docs/thermal-grid.md); each order's is checked below.
UNIFORM_ERROR = {4: 8.8e-3, 5: 2.9e-3, 6: 1.03e-3, 7: 3.5e-4, 8: 1.2e-4}


def _network(conductance: np.ndarray, capacitance: np.ndarray, ambient: np.ndarray) -> RCNetwork:
    n = len(capacitance)
    return RCNetwork(sp.csr_matrix(conductance), capacitance, ambient, sp.csr_matrix(np.eye(n)))


def _random_network(n: int, seed: int) -> RCNetwork:
    """A connected chain plus random links, stiff: capacitances over six decades."""
    rng = np.random.default_rng(seed)
    g = np.zeros((n, n))
    for i in range(n - 1):
        g[i, i + 1] = rng.uniform(0.01, 1.0)
    for _ in range(n):
        i, j = rng.choice(n, 2, replace=False)
        g[i, j] = rng.uniform(0.001, 0.1)
    g = g + g.T
    ambient = np.zeros(n)
    ambient[rng.choice(n, 3, replace=False)] = rng.uniform(0.01, 0.1, 3)
    conductance = np.diag(g.sum(axis=1) + ambient) - g
    capacitance = 10.0 ** rng.uniform(-6, 0, n)
    return _network(conductance, capacitance, ambient)


def _exact(network: RCNetwork, theta: np.ndarray, power: np.ndarray, dt: float) -> np.ndarray:
    """theta_ss + expm(-C^-1 G dt) (theta - theta_ss), densely."""
    g = network.conductance_W_per_K.toarray()
    a = g / network.capacitance_J_per_K[:, None]
    steady = np.linalg.solve(g, power)
    return steady + sla.expm(-a * dt) @ (theta - steady)


@pytest.mark.parametrize("order", sorted(POLE_BY_ORDER))
def test_fit_is_l_stable_exact_at_steady_state_and_within_its_uniform_error(order):
    c, error = rational_coefficients(order, POLE_BY_ORDER[order])
    assert c[0] == pytest.approx(0.0, abs=1e-12) and c.sum() == pytest.approx(1.0, abs=1e-12)
    assert error <= UNIFORM_ERROR[order]
    z = np.concatenate([np.linspace(0, 5, 2001), np.geomspace(5, 1e9, 2001)])  # off the fit's own sample points
    w = 1.0 / (1.0 + POLE_BY_ORDER[order] * z)
    assert np.abs(np.polyval(c[::-1], w) - np.exp(-z)).max() <= 1.01 * UNIFORM_ERROR[order]
    # second-order consistent: R'(0) = -1 and R''(0) = 1, so slow modes decay at the right rate
    tau, k = POLE_BY_ORDER[order], np.arange(order + 1)
    assert -tau * np.sum(k * c) == pytest.approx(-1.0, abs=1e-9)
    assert tau ** 2 * np.sum(k * (k + 1) * c) == pytest.approx(1.0, abs=1e-9)


def test_stored_default_fit_is_the_linear_programme_s():
    for (order, pole), (c, error) in sparse._KNOWN_FITS.items():
        assert POLE_BY_ORDER[order] == pole
        fitted, fitted_error = rational_coefficients(order, pole)
        np.testing.assert_allclose(c, fitted, atol=1e-9)
        assert error == pytest.approx(fitted_error, rel=1e-6)


def test_slow_mode_error_does_not_compound_over_many_intervals():
    # a slow node (z = h / tau = 0.01 per interval) over 300 intervals: the decay rate per interval is exact to
    # O(z^3), so it drifts microkelvins from the exact 95 K (the fit without R'(0) = -1, R''(0) = 1 drifted 0.25 K)
    network = _network(np.array([[1.0]]), np.array([100.0]), np.array([1.0]))
    solver = SparseSolver(network)
    theta = np.array([0.0])
    for _ in range(300):
        theta = solver.advance(theta, np.array([100.0]), 1.0)
    assert theta[0] == pytest.approx(100.0 * (1 - np.exp(-3.0)), abs=1e-4)


def test_single_rc_node_follows_its_exponential():
    # one node, C = 2 J/K, to ambient through 0.5 W/K: tau = 4 s
    network = _network(np.array([[0.5]]), np.array([2.0]), np.array([0.5]))
    solver = SparseSolver(network)
    theta = np.array([0.0])
    for k in range(1, 6):
        theta = solver.advance(theta, np.array([5.0]), 1.0)
        # each step errs by at most the uniform error times the distance to steady state (<= 10 K); errors add up
        bound = UNIFORM_ERROR[DEFAULT_ORDER] * 10.0 * k
        assert theta[0] == pytest.approx(10.0 * (1 - np.exp(-k / 4.0)), abs=bound)
    assert solver.steady(np.array([5.0]))[0] == pytest.approx(10.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("dt", [1e-5, 1e-3, 0.1, 10.0])
def test_stiff_network_step_within_bound_of_matrix_exponential(seed, dt):
    network = _random_network(40, seed)
    rng = np.random.default_rng(seed + 10)
    theta, power = rng.uniform(0, 30, 40), rng.uniform(0, 2, 40)
    exact = _exact(network, theta, power, dt)
    got = SparseSolver(network).advance(theta, power, dt)
    # the C-norm error is bounded by the uniform error times the C-norm distance from the steady state
    c = network.capacitance_J_per_K
    steady = np.linalg.solve(network.conductance_W_per_K.toarray(), power)
    c_norm = lambda v: np.sqrt(np.sum(c * v * v))  # noqa: E731
    assert c_norm(got - exact) <= 1.001 * UNIFORM_ERROR[DEFAULT_ORDER] * c_norm(theta - steady) + 1e-12


def test_steady_is_the_exact_solve_and_the_step_keeps_it():
    network = _random_network(30, 5)
    power = np.linspace(0.1, 1.0, 30)
    solver = SparseSolver(network)
    steady = solver.steady(power)
    np.testing.assert_allclose(network.conductance_W_per_K @ steady, power, rtol=1e-10)
    np.testing.assert_allclose(solver.advance(steady, power, 0.01), steady, rtol=1e-10)


def test_factorisations_are_cached_per_step_length():
    solver = SparseSolver(_random_network(10, 3))
    theta, power = np.zeros(10), np.ones(10)
    for _ in range(3):
        theta = solver.advance(theta, power, 1e-3)
    solver.advance(theta, power, 2e-3)
    assert sorted(solver._intervals) == [1e-3, 2e-3]
    with pytest.raises(ValueError, match="positive"):
        solver.advance(theta, power, 0.0)
    with pytest.raises(ValueError, match="order"):
        SparseSolver(_random_network(10, 3), order=11)
