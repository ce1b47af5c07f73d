"""The solvers and the block model against closed forms; needs no reference data."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as la
import scipy.sparse as sp

from ailfm.thermal.block import C_FACTOR, build_block_circuit
from ailfm.thermal.formats.config import HotSpotConfig
from ailfm.thermal.formats.flp import Block, Floorplan
from ailfm.thermal.network import RCNetwork
from ailfm.thermal.solvers.eigen import EigenSolver


def _network(conductance: np.ndarray, capacitance: np.ndarray, ambient: np.ndarray) -> RCNetwork:
    n = len(capacitance)
    return RCNetwork(sp.csr_matrix(conductance), np.asarray(capacitance, float), np.asarray(ambient, float),
                     sp.identity(n, format="csr"))


def test_single_node_steady_is_power_times_resistance():
    r_K_per_W, c_J_per_K, p_W = 0.7, 3.0, 12.0
    solver = EigenSolver(_network(np.array([[1 / r_K_per_W]]), np.array([c_J_per_K]), np.array([1 / r_K_per_W])))
    assert solver.steady(np.array([p_W]))[0] == pytest.approx(p_W * r_K_per_W, rel=1e-12)


@pytest.mark.parametrize("dt_s", [1e-4, 0.5, 2.1, 40.0])
def test_single_node_transient_is_exponential(dt_s):
    r_K_per_W, c_J_per_K, p_W, theta0_K = 0.7, 3.0, 12.0, 5.0
    solver = EigenSolver(_network(np.array([[1 / r_K_per_W]]), np.array([c_J_per_K]), np.array([1 / r_K_per_W])))
    theta = np.array([theta0_K])
    for k in range(1, 6):
        theta = solver.advance(theta, np.array([p_W]), dt_s)
        decay = np.exp(-k * dt_s / (r_K_per_W * c_J_per_K))
        assert theta[0] == pytest.approx(p_W * r_K_per_W * (1 - decay) + theta0_K * decay, rel=1e-12, abs=1e-12)


def _chain(n: int, g_W_per_K: float):
    """n equal nodes in series, node 0 insulated, node n-1 tied to ambient through one more link."""
    conductance = g_W_per_K * (np.diag(np.r_[1.0, np.full(n - 1, 2.0)]) - np.eye(n, k=1) - np.eye(n, k=-1))
    ambient = np.zeros(n)
    ambient[-1] = g_W_per_K
    return conductance, ambient


def test_series_chain_steady_and_modes_match_closed_form():
    n, g_W_per_K, c_J_per_K, p_W = 25, 4.0, 0.2, 3.0
    conductance, ambient = _chain(n, g_W_per_K)
    solver = EigenSolver(_network(conductance, np.full(n, c_J_per_K), ambient))
    power = np.zeros(n)
    power[0] = p_W
    # All the heat crosses every link between node k and ambient: (n - k) links of 1/g.
    np.testing.assert_allclose(solver.steady(power), p_W * (n - np.arange(n)) / g_W_per_K, rtol=1e-10)
    # Discrete slab insulated at one end, held at ambient past the other: lam_k = 2 g/c (1 - cos((2k-1) pi / (2n+1))).
    k = np.arange(1, n + 1)
    expected = 2 * g_W_per_K / c_J_per_K * (1 - np.cos((2 * k - 1) * np.pi / (2 * n + 1)))
    np.testing.assert_allclose(solver.eigenvalues_per_s, np.sort(expected), rtol=1e-10)


def test_series_chain_transient_matches_matrix_exponential():
    n, dt_s = 12, 0.013
    rng = np.random.default_rng(4)
    conductance, ambient = _chain(n, 2.5)
    capacitance = rng.uniform(0.05, 0.5, n)
    solver = EigenSolver(_network(conductance, capacitance, ambient))
    theta0 = rng.uniform(0, 10, n)
    power = rng.uniform(0, 4, n)
    # theta(t) = theta_inf + expm(-C^-1 G t) (theta0 - theta_inf): independent of the eigen route.
    theta_inf = np.linalg.solve(conductance, power)
    exact = theta_inf + la.expm(-(conductance / capacitance[:, None]) * dt_s) @ (theta0 - theta_inf)
    np.testing.assert_allclose(solver.advance(theta0, power, dt_s), exact, rtol=1e-9, atol=1e-10)
    many = solver.advance_many(theta0, np.tile(power, (3, 1)), dt_s)
    np.testing.assert_allclose(many[0], exact, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(many[2], solver.advance(solver.advance(exact, power, dt_s), power, dt_s), rtol=1e-9)


def test_block_model_die_column_is_a_series_slab():
    """A one-block die: all its heat crosses the silicon and then the TIM, so each layer drops P t / (k A)."""
    config = HotSpotConfig()
    width_m, height_m, p_W = 0.012, 0.009, 40.0
    circuit = build_block_circuit(config, Floorplan((Block("die", width_m, height_m, 0.0, 0.0),)))
    theta = EigenSolver(circuit.network).steady(circuit.network.power_to_node @ np.array([p_W]))
    area_m2 = width_m * height_m
    assert theta[0] - theta[1] == pytest.approx(p_W * config.t_chip / (config.k_chip * area_m2), rel=1e-9)
    assert theta[1] - theta[2] == pytest.approx(p_W * config.t_interface / (config.k_interface * area_m2), rel=1e-9)
    # Heat capacities are the layers' volumes times HotSpot's C_FACTOR.
    assert circuit.network.capacitance_J_per_K[0] == pytest.approx(C_FACTOR * config.p_chip * config.t_chip * area_m2)


def test_block_model_transient_matches_matrix_exponential():
    """The eigen stepping of a real block circuit equals expm of the full system."""
    blocks = (Block("a", 0.004, 0.006, 0.0, 0.0), Block("b", 0.003, 0.006, 0.004, 0.0),
              Block("c", 0.007, 0.002, 0.0, 0.006))
    circuit = build_block_circuit(HotSpotConfig(), Floorplan(blocks))
    network = circuit.network
    solver = EigenSolver(network)
    g = network.conductance_W_per_K.toarray()
    c = network.capacitance_J_per_K
    q = network.power_to_node @ np.array([3.0, 9.0, 1.0])
    theta0 = np.linspace(0, 20, network.n_nodes)
    theta_inf = np.linalg.solve(g, q)
    for dt_s in (1e-5, 1e-3, 0.1):
        exact = theta_inf + la.expm(-(g / c[:, None]) * dt_s) @ (theta0 - theta_inf)
        np.testing.assert_allclose(solver.advance(theta0, q, dt_s), exact, rtol=1e-7, atol=1e-8)
