"""Shared fixtures of the co-simulator tests: the default system, a small (8 x 8 cells) thermal stack, workloads."""

from __future__ import annotations

import pytest

from ailfm.plugins.epoch.chip_thermal import build_thermal
from ailfm.plugins.system.description import load_system
from ailfm.plugins.system.nuca import NucaModel

SMALL_CELLS = 8  # 8 x 8 cells per layer: 652 nodes, fast to build, same stack


@pytest.fixture(scope="session")
def system():
    return load_system()


@pytest.fixture(scope="session")
def nuca(system):
    return NucaModel.build(system)


@pytest.fixture(scope="session")
def fast_thermal(system):
    return build_thermal(system, "fast", cells=SMALL_CELLS, moments=4)


@pytest.fixture(scope="session")
def small_grid_thermal(system):
    """The exact grid model of the same small stack (the reference the fast model is checked against)."""
    return build_thermal(system, "grid", cells=SMALL_CELLS)


@pytest.fixture(scope="session")
def gemm_like():
    """A compute-bound kernel share per thread (GEMM-like: few LLC accesses, almost no DRAM misses)."""
    return {"instructions": 2e5, "llc_accesses": 1e3, "dram_misses": 20.0, "base_cpi": 0.4, "activity": 0.8,
            "kernel_type": "gemm"}


@pytest.fixture(scope="session")
def gemv_like():
    """A memory-bound kernel share per thread (decode GEMV-like: streams weights from DRAM)."""
    return {"instructions": 5e4, "llc_accesses": 3e3, "dram_misses": 2.5e3, "base_cpi": 0.6, "activity": 0.55,
            "kernel_type": "gemv"}


@pytest.fixture(scope="session")
def tiny_trace_workload():
    from ailfm.plugins.engine.workload import workload_from_trace
    from ailfm.traces import Scenario, generate_trace

    return workload_from_trace(generate_trace("llama-2-7b", Scenario(lengths="fixed:8,2", requests=3), seed=0))
