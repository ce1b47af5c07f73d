"""The 3D mesh as data: link counts, degrees, Garnet weights, XYZ routes under table routing, latencies."""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pytest

from ailfm.errors import ConfigError
from ailfm.gem5_configs.params import RUBY_SET_BITS
from ailfm.gem5_configs.system_params import cache_params_of, mesh_of
from ailfm.plugins.system.description import load_system


@pytest.fixture(scope="module")
def system():
    return load_system("snuca-64")


@pytest.fixture(scope="module")
def mesh(system):
    return mesh_of(system)


def test_link_counts_and_degrees(mesh):
    # 4 x 4 x 4: per layer 2 * (4*3 + 4*3) planar directed links, 2 * 16 * 3 vertical ones
    axes = Counter(link.axis for link in mesh.links)
    assert axes == {0: 4 * 2 * 4 * 3, 1: 4 * 2 * 4 * 3, 2: 2 * 16 * 3}
    assert len(mesh.links) == 288 and [link.link_id for link in mesh.links] == list(range(288))
    degree = mesh.degree()
    xyz = mesh.coordinates
    inner = np.all((xyz > 0) & (xyz < 3), axis=1)
    corner = np.all((xyz == 0) | (xyz == 3), axis=1)
    assert np.all(degree[inner] == 6) and np.all(degree[corner] == 3)
    # every directed link has its reverse, with mirrored port names
    pairs = {(link.src, link.dst): link for link in mesh.links}
    for link in mesh.links:
        back = pairs[(link.dst, link.src)]
        assert (back.src_outport, back.dst_inport) == (link.dst_inport, link.src_outport)


def test_weights_and_latencies_by_axis(mesh, system):
    noc = system.noc
    for link in mesh.links:
        assert link.weight == link.axis + 1
        expected = noc.tsv_latency_cycles if link.axis == 2 else noc.link_latency_cycles
        assert link.latency_cycles == expected
        assert np.abs(mesh.coordinates[link.src] - mesh.coordinates[link.dst]).sum() == 1
        assert mesh.coordinates[link.src][link.axis] != mesh.coordinates[link.dst][link.axis]


def _xyz_route(src, dst):
    here, path = list(src), [tuple(src)]
    for axis in range(3):
        while here[axis] != dst[axis]:
            here[axis] += 1 if dst[axis] > here[axis] else -1
            path.append(tuple(here))
    return path


def test_table_routing_is_dimension_order_and_minimal(mesh):
    xyz = [tuple(c) for c in mesh.coordinates]
    rng = np.random.default_rng(0)
    for src, dst in rng.integers(0, mesh.n_routers, size=(200, 2)):
        path = mesh.route(int(src), int(dst))
        assert [xyz[r] for r in path] == _xyz_route(xyz[src], xyz[dst])
        assert len(path) - 1 == np.abs(mesh.coordinates[src] - mesh.coordinates[dst]).sum()


def test_route_latency_matches_the_builtin_nuca_geometry(mesh, system):
    """The one-way latency of every route equals the built-in model's (hops + 1) routers + planar + TSV links."""
    noc = system.noc
    rng = np.random.default_rng(1)
    for src, dst in rng.integers(0, mesh.n_routers, size=(100, 2)):
        delta = np.abs(mesh.coordinates[src] - mesh.coordinates[dst])
        planar, vertical = delta[0] + delta[1], delta[2]
        expected = ((planar + vertical + 1) * noc.router_latency_cycles + planar * noc.link_latency_cycles
                    + vertical * noc.tsv_latency_cycles)
        assert mesh.route_latency_cycles(mesh.route(int(src), int(dst))) == expected


def test_vertical_latency_is_its_own_parameter(system):
    slow_tsv = dataclasses.replace(system, noc=dataclasses.replace(system.noc, tsv_latency_cycles=5.0))
    fast, slow = mesh_of(system), mesh_of(slow_tsv)
    up = fast.route(0, 16)  # one layer straight up
    assert slow.route_latency_cycles(up) - fast.route_latency_cycles(up) == 5 - system.noc.tsv_latency_cycles
    across = fast.route(0, 1)
    assert slow.route_latency_cycles(across) == fast.route_latency_cycles(across)


def test_controller_placement(mesh, system):
    assert np.array_equal(mesh.l1_router, np.arange(64))
    assert len(mesh.bank_router) == system.n_banks == 128
    assert np.array_equal(np.bincount(mesh.bank_router), np.full(64, 2))
    dirs = mesh.coordinates[mesh.directory_router]
    assert len(dirs) == system.memory.controllers and np.all(dirs[:, 2] == 0)
    on_edge = (dirs[:, 0] == 0) | (dirs[:, 0] == 3) | (dirs[:, 1] == 0) | (dirs[:, 1] == 3)
    assert on_edge.all()
    assert mesh.flit_bytes * 8 == system.noc.link_width_bits


def test_two_layer_system_and_latency_floor(system):
    two = mesh_of(load_system("snuca-64-2l"))
    assert (two.tiles_x, two.tiles_y, two.layers) == (8, 4, 2)
    assert Counter(link.axis for link in two.links)[2] == 2 * 32
    zero_tsv = dataclasses.replace(system, noc=dataclasses.replace(system.noc, tsv_latency_cycles=0.0))
    floored = mesh_of(zero_tsv)
    assert floored.latency_floor_applied and min(link.latency_cycles for link in floored.links) == 1


def test_ruby_merges_a_tiles_banks_only_beyond_its_set_size(system, mesh):
    cache = cache_params_of(system)
    assert cache.n_banks == system.n_banks == 128 > RUBY_SET_BITS
    merged, per_controller = cache.for_ruby()
    assert per_controller == 2 and merged.n_banks == 64
    assert merged.bank_bytes * merged.n_banks == system.llc.bank_kib * 1024 * system.n_banks  # same capacity
    assert merged.bank_latency_cycles == system.llc.bank_latency_cycles
    np.testing.assert_array_equal(mesh.with_banks_per_tile(1).bank_router, np.arange(64))  # one controller per tile
    same, one = cache.for_ruby(max_controllers=128)
    assert same is cache and one == 1
    with pytest.raises(ConfigError, match="64 tiles"):
        cache.for_ruby(max_controllers=32)
