"""The 3D-mesh topology and the S-NUCA cache hierarchy as a gem5 user's parts: plain parameters, checked without gem5;
``gem5_configs/examples/user_config.py`` (which imports only those two from ailfm) run on gem5 when gem5.opt exists."""

from __future__ import annotations

import ast
import dataclasses
import os
import re
import shutil
import subprocess
import sysconfig

import numpy as np
import pytest
from reference_data import REPO

from ailfm.errors import ConfigError
from ailfm.gem5_configs.epoch import last_stats_block, parse_stats_block
from ailfm.gem5_configs.params import EdgeMemoryParams, SnucaCacheParams
from ailfm.gem5_configs.system_params import cache_params_of, memory_params_of, mesh_of
from ailfm.gem5_configs.topologies.mesh3d import mesh3d
from ailfm.plugins.system.description import load_system

USER_CONFIG = REPO / "gem5_configs" / "examples" / "user_config.py"
GEM5 = os.environ.get("GEM5") or shutil.which("gem5.opt")


def test_the_example_imports_only_the_topology_and_the_cache_hierarchy_from_ailfm():
    modules = {node.module for node in ast.walk(ast.parse(USER_CONFIG.read_text()))
               if isinstance(node, ast.ImportFrom) and node.module}
    ours = {m for m in modules if m.startswith("ailfm")}
    assert ours == {"ailfm.gem5_configs.topologies.mesh3d", "ailfm.gem5_configs.components.snuca_hierarchy"}
    assert all(m.split(".")[0] in ("ailfm", "gem5") for m in modules)  # the rest is gem5's stdlib


def test_a_mesh_from_plain_numbers():
    mesh = mesh3d(2, 2, 2, directory_tiles=[(0, 0, 0), (1, 1, 0)], banks_per_tile=2, tsv_latency_cycles=3)
    assert mesh.n_routers == 8 and len(mesh.links) == 2 * (2 * 4 + 4)  # 8 planar and 4 vertical pairs
    np.testing.assert_array_equal(mesh.bank_router, np.repeat(np.arange(8), 2))
    np.testing.assert_array_equal(mesh.directory_router, [0, 3])  # (1, 1, 0) is router 1 + 1 * 2
    assert {link.latency_cycles for link in mesh.links if link.axis == 2} == {3}
    assert mesh.route(0, 7) == [0, 1, 3, 7]  # X, then Y, then Z


def test_the_system_adapter_is_the_plain_builder_on_the_yaml_values():
    system = load_system("snuca-64")
    noc = system.noc
    from_system = mesh_of(system)
    plain = mesh3d(4, 4, 4, directory_tiles=from_system.coordinates[from_system.directory_router], banks_per_tile=2,
                   router_latency_cycles=noc.router_latency_cycles, link_latency_cycles=noc.link_latency_cycles,
                   tsv_latency_cycles=noc.tsv_latency_cycles, link_width_bits=noc.link_width_bits,
                   frequency_GHz=noc.frequency_GHz)
    assert plain.links == from_system.links
    for name in ("coordinates", "l1_router", "bank_router", "directory_router"):
        np.testing.assert_array_equal(getattr(plain, name), getattr(from_system, name))
    cache = cache_params_of(system)
    assert (cache.tiles, cache.n_banks, cache.bank_bytes) == (64, 128, int(system.llc.bank_kib * 1024))
    assert cache.l1d_bytes == int(system.core.private_working_set_bytes)  # L1D + private L2, folded
    assert memory_params_of(system) == EdgeMemoryParams(4, system.memory.latency_ns,
                                                        system.memory.bandwidth_GBps_per_controller)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"tiles_x": 0}, "tiles_x"), ({"layers": 1.5}, "layers"), ({"banks_per_tile": 0}, "banks_per_tile"),
    ({"link_width_bits": 100}, "link_width_bits"), ({"tsv_latency_cycles": -1}, "tsv_latency_cycles"),
    ({"frequency_GHz": float("nan")}, "frequency_GHz"), ({"directory_tiles": [(2, 0, 0)]}, "directory_tiles"),
    ({"directory_tiles": [0, 1]}, "directory_tiles"), ({"directory_tiles": []}, "directory_tiles")])
def test_bad_mesh_parameters_name_themselves(kwargs, field):
    good = {"tiles_x": 2, "tiles_y": 2, "layers": 2, "directory_tiles": [(0, 0, 0)]}
    with pytest.raises(ConfigError, match=f"^{field}: "):
        mesh3d(**{**good, **kwargs})


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"tiles": 3}, "banks_per_tile"), ({"banks_per_tile": 3}, "banks_per_tile"), ({"line_bytes": 48}, "line_bytes"),
    ({"l1d_bytes": 0}, "l1d_bytes"), ({"l2_assoc": 2.0}, "l2_assoc"), ({"bank_latency_cycles": -1},
                                                                        "bank_latency_cycles")])
def test_bad_cache_parameters_name_themselves(kwargs, field):
    good = {"tiles": 8, "l1i_bytes": 16384, "l1d_bytes": 32768, "bank_bytes": 65536, "banks_per_tile": 2}
    SnucaCacheParams(**good)
    with pytest.raises(ConfigError, match=f"^{field}: "):
        SnucaCacheParams(**{**good, **kwargs})


def test_bad_memory_parameters_name_themselves():
    with pytest.raises(ConfigError, match="^channels: 3 is not a power of two"):
        EdgeMemoryParams(3, 80.0, 32.0)
    with pytest.raises(ConfigError, match="^bandwidth_GBps: "):
        EdgeMemoryParams(2, 80.0, 0.0)


def test_a_system_gem5_cannot_build_is_named_with_its_file():
    system = load_system("snuca-64")
    odd = dataclasses.replace(system, llc=dataclasses.replace(system.llc, banks_per_tile=3))
    with pytest.raises(ConfigError, match=r"snuca-64\.yaml: gem5 cache hierarchy: banks_per_tile: 192 is not"):
        cache_params_of(odd)


@pytest.mark.skipif(GEM5 is None, reason="gem5.opt is not on PATH and GEM5 is unset")
def test_real_gem5_runs_the_user_config(tmp_path):
    env = {**os.environ, "AILFM_SITE_PACKAGES": sysconfig.get_path("purelib")}
    done = subprocess.run([GEM5, "-d", str(tmp_path / "m5out"), str(USER_CONFIG)], capture_output=True, text=True,
                          env=env, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "exit cause: " in done.stdout and "exit state" in done.stdout  # a generator finished its 20 us
    stats = parse_stats_block(last_stats_block((tmp_path / "m5out" / "stats.txt").read_text()))
    reads = sum(v for k, v in stats.items() if re.search(r"generator\.totalReads$", k))
    bank_accesses = sum(v for k, v in stats.items() if re.search(r"L2cache\.m_demand_(hits|misses)$", k))
    assert reads > 0 and bank_accesses > 0


def test_run_ailfm_refuses_a_system_gem5_cannot_build_before_gem5_starts(tmp_path):
    from ailfm.gem5_configs.recipe import prepare_run

    system = tmp_path / "three-banks.yaml"
    system.write_text("base: snuca-64\nllc:\n  banks_per_tile: 3\n")
    with pytest.raises(ConfigError, match=r"three-banks\.yaml: gem5 cache hierarchy: banks_per_tile"):
        prepare_run(["--system", str(system), "--epochs", "1", "--out", str(tmp_path / "out")])
