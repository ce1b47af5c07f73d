"""The grid model's fast steady state (cosine-transform preconditioned CG) equals the sparse LU's.

Checked on the HotSpot reference cases (the HotSpot parity itself is tests/thermal/test_grid.py, which goes
through the same SparseSolver.steady) and on random stacks: layer counts, materials over three decades,
layers without lateral flow, per-block materials with -detailed_3D, non-square grids and dies.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
from reference_data import HOTSPOT_REFERENCE, require_shared

from ailfm.thermal.block import stack_properties
from ailfm.thermal.formats import Block, Floorplan, HotSpotConfig, read_ptrace
from ailfm.thermal.grid import GridCircuit, build_grid_circuit, chip_layer
from ailfm.thermal.hotspot_cli import parse_command_line, read_model_inputs, resolve_config
from ailfm.thermal.network import RCNetwork
from ailfm.thermal.solvers import spectral
from ailfm.thermal.solvers.sparse import SparseSolver, _factorise
from ailfm.thermal.solvers.spectral import GridSolver

# The answer must equal the direct solve's far below the 0.05 K parity budget.
AGREEMENT_K = 1e-6


def _lu_steady(network, power: np.ndarray) -> np.ndarray:
    return _factorise(network.conductance_W_per_K).solve(power)


@pytest.mark.parametrize("case", ["ev6_grid", "example3_two_layers", "snuca_2x4x4"])
def test_reference_cases_agree_with_lu_in_few_iterations(case):
    case_dir = require_shared(HOTSPOT_REFERENCE / case)
    command = json.loads((case_dir / "case.json").read_text())["commands"][0]
    flags = parse_command_line(command[1:])
    config, materials = resolve_config(flags, cwd=case_dir)
    floorplan, layers = read_model_inputs(config, materials, cwd=case_dir)
    circuit = build_grid_circuit(config, floorplan=floorplan, layers=layers, materials=materials)
    network = circuit.network
    power = network.power_to_node @ read_ptrace(case_dir / flags["p"]).reordered(circuit.power_names).power_W.mean(0)
    theta, iterations = GridSolver(network.conductance_W_per_K, network.ambient_conductance_W_per_K,
                                         network.grid_shape).solve(power)
    assert theta is not None and iterations <= 30
    np.testing.assert_allclose(theta, _lu_steady(network, power), rtol=0, atol=AGREEMENT_K)
    solver = SparseSolver(network)
    np.testing.assert_allclose(solver.steady(power), theta, rtol=0, atol=1e-12)
    assert solver._steady_lu is None  # the fast path answered


def _random_floorplan(rng: np.random.Generator, width_m: float, height_m: float, tag: str) -> Floorplan:
    """A die tiled by a random (not cell-aligned) grid of blocks, some with their own material."""
    xs = np.r_[0.0, np.sort(rng.uniform(0, width_m, rng.integers(0, 3))), width_m]
    ys = np.r_[0.0, np.sort(rng.uniform(0, height_m, rng.integers(0, 3))), height_m]
    blocks = []
    for i in range(len(xs) - 1):
        for j in range(len(ys) - 1):
            own = (rng.uniform(1e6, 4e6), 10.0 ** rng.uniform(-2.7, 1)) if rng.random() < 0.5 else ()
            blocks.append(Block(f"{tag}_{i}_{j}", xs[i + 1] - xs[i], ys[j + 1] - ys[j], xs[i], ys[j], *own))
    return Floorplan(tuple(blocks))


def _random_circuit(seed: int) -> GridCircuit:
    rng = np.random.default_rng(seed)
    width_m, height_m = rng.uniform(2e-3, 2e-2, 2)
    n_layers = int(rng.integers(1, 6))
    layers = []
    for n in range(n_layers):
        layers.append(chip_layer(
            f"layer_{n}", f"layer_{n}_", _random_floorplan(rng, width_m, height_m, f"b{n}"),
            conductivity_W_per_mK=10.0 ** rng.uniform(-1, 2.7), specific_heat_J_per_m3K=rng.uniform(1e6, 4e6),
            thickness_m=10.0 ** rng.uniform(-5, -3), lateral=bool(rng.random() < 0.7),
            has_power=bool(n == 0 or rng.random() < 0.5)))
    config = HotSpotConfig().with_flags({"r_convec": str(rng.uniform(0.05, 2.0)),
                                         "k_spreader": str(rng.uniform(100, 400))})
    rows, cols = (int(v) for v in rng.integers(3, 25, 2))
    detailed = bool(rng.random() < 0.5)
    return GridCircuit(layers, stack_properties(config), rows, cols, 318.15, detailed=detailed)


@pytest.mark.parametrize("seed", range(12))
def test_random_stacks_agree_with_lu(seed):
    circuit = _random_circuit(seed)
    network = circuit.network
    rng = np.random.default_rng(seed + 100)
    power = network.power_to_node @ rng.uniform(0.0, 5.0, network.power_to_node.shape[1])
    theta, iterations = GridSolver(network.conductance_W_per_K, network.ambient_conductance_W_per_K,
                                         network.grid_shape).solve(power)
    assert theta is not None, f"no convergence in {iterations} iterations"
    exact = _lu_steady(network, power)
    assert np.abs(theta - exact).max() <= 1e-9 * np.abs(exact).max()
    # and it is the physical answer: all the power leaves through convection
    assert network.ambient_conductance_W_per_K @ theta == pytest.approx(power.sum(), rel=1e-9)


@pytest.mark.parametrize(("rows", "cols"), [(1, 1), (1, 5), (4, 1)])
def test_degenerate_grids_agree_with_lu(rows, cols):
    layers = _random_circuit(0)
    network = GridCircuit(layers.layers, layers.stack, rows, cols, 318.15, detailed=layers.detailed).network
    power = network.power_to_node @ np.ones(network.power_to_node.shape[1])
    theta, _ = GridSolver(network.conductance_W_per_K, network.ambient_conductance_W_per_K,
                                network.grid_shape).solve(power)
    exact = _lu_steady(network, power)
    assert np.abs(theta - exact).max() <= 1e-9 * np.abs(exact).max()


def _uniform_grid(shape: tuple[int, int, int], g_ns, g_we, g_z, g_ground) -> sp.csr_matrix:
    """The constant-coefficient layered operator with zero-flux edges, assembled by Kronecker products."""
    n_layers, rows, cols = shape

    def laplacian(n):
        return sp.diags([np.r_[1.0, np.full(n - 2, 2.0), 1.0], -np.ones(n - 1), -np.ones(n - 1)], [0, 1, -1])

    vertical = sp.diags([np.r_[g_z, 0.0] + np.r_[0.0, g_z], -np.asarray(g_z), -np.asarray(g_z)], [0, 1, -1])
    eye_r, eye_c = sp.identity(rows), sp.identity(cols)
    lateral = sp.kron(sp.diags(g_ns), sp.kron(laplacian(rows), eye_c)) + \
        sp.kron(sp.diags(g_we), sp.kron(eye_r, laplacian(cols)))
    return (lateral + sp.kron(vertical, sp.identity(rows * cols)) +
            sp.kron(sp.diags(g_ground), sp.identity(rows * cols))).tocsr()


def test_uniform_grid_is_solved_exactly_by_the_preconditioner():
    shape = (4, 6, 9)
    ground = np.array([0.0, 0.0, 0.0, 0.3])
    g = _uniform_grid(shape, [2.0, 0.0, 5.0, 9.0], [1.0, 0.0, 7.0, 9.0], [0.5, 3.0, 1.0], ground)
    power = np.random.default_rng(0).uniform(0, 1, g.shape[0])
    ambient = np.repeat(ground, 54)
    theta, iterations = GridSolver(g, ambient, shape).solve(power)
    assert iterations == 1
    np.testing.assert_allclose(g @ theta, power, rtol=0, atol=1e-12 * np.abs(power).max())


def test_falls_back_to_lu_without_a_grid_layout_or_without_convergence(monkeypatch):
    circuit = _random_circuit(3)
    network = circuit.network
    power = network.power_to_node @ np.ones(network.power_to_node.shape[1])
    exact = _lu_steady(network, power)
    plain = RCNetwork(network.conductance_W_per_K, network.capacitance_J_per_K,
                      network.ambient_conductance_W_per_K, network.power_to_node)
    solver = SparseSolver(plain)
    np.testing.assert_allclose(solver.steady(power), exact, rtol=1e-12)
    assert solver._spectral is None and solver._steady_lu is not None
    monkeypatch.setattr(spectral, "MAX_ITERATIONS", 1)
    solver = SparseSolver(network)
    np.testing.assert_allclose(solver.steady(power), exact, rtol=1e-12)
    assert solver._spectral is not None and solver._steady_lu is not None
    # a grid whose uniform part has no path to ambient cannot be preconditioned
    with pytest.raises(ValueError, match="positive definite"):
        GridSolver(_uniform_grid((2, 3, 3), [1.0, 1.0], [1.0, 1.0], [1.0], [0.0, 0.0]), np.zeros(18), (2, 3, 3))


@pytest.mark.parametrize("seed", range(12))
def test_step_matrix_in_the_cosine_basis_is_exact_or_refused(seed):
    """ModalGridSolver: the step matrix C + s G solved in the cosine basis equals a sparse LU; a grid that does not
    fit (per-cell materials) is refused at construction, never solved approximately."""
    circuit = _random_circuit(seed)
    network = circuit.network
    sigma = 1e-4
    capacitance = network.capacitance_J_per_K
    matrix = sp.csr_matrix(sp.diags(capacitance) + sigma * network.conductance_W_per_K)
    try:
        modal = spectral.ModalGridSolver(matrix, capacitance + sigma * network.ambient_conductance_W_per_K,
                                         network.grid_shape)
    except ValueError:
        assert circuit.detailed  # only per-cell materials break the per-layer uniformity
        return
    b = capacitance * np.random.default_rng(seed).uniform(0.0, 50.0, network.n_nodes)
    x_hat, _ = modal.solve_modes(modal.to_modes(b), relative_residual=1e-12)
    exact = _factorise(matrix).solve(b)
    assert np.abs(modal.from_modes(x_hat) - exact).max() <= 1e-8 * np.abs(exact).max()
    np.testing.assert_allclose(modal.from_modes(modal.to_modes(b)), b, rtol=0, atol=1e-9 * np.abs(b).max())


def test_transient_falls_back_to_node_space_when_cg_fails(monkeypatch):
    network = _random_circuit(0).network  # a plain grid: the cosine-basis path
    theta = np.random.default_rng(3).uniform(0.0, 30.0, network.n_nodes)
    power = network.power_to_node @ np.ones(network.power_to_node.shape[1])
    expected = SparseSolver(network).advance(theta, power, 1e-3)
    monkeypatch.setattr(spectral, "MAX_ITERATIONS", 1)  # CG gives up in both bases: the sparse LU answers
    solver = SparseSolver(network)
    got = solver.advance(theta, power, 1e-3)
    assert solver._intervals[1e-3].modal is None
    # the cosine basis stops CG at a relative residual of 1e-8: 2e-4 K on this stack (materials over three decades)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-3)
