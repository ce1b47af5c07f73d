"""Shared pieces of the gem5-backend tests: a system, a small workload, a fast thermal model and a stand-in backend.

The stand-in answers each epoch with latencies of its own (the analytic NUCA latency of the tile plus a fixed
offset) so tests can see that measured values, not the analytic ones, drive the next epoch. It is never reported as
a gem5 result.
"""

from __future__ import annotations

import numpy as np
import pytest

from ailfm.gem5_configs.epoch import TICKS_PER_S, EpochCounters, read_fractions
from ailfm.plugins.engine.gem5 import Gem5Backend, Gem5Engine
from ailfm.plugins.engine.workload import workload_from_trace
from ailfm.plugins.epoch.chip_thermal import build_thermal
from ailfm.plugins.system.description import load_system
from ailfm.plugins.system.nuca import NucaModel
from ailfm.traces import Scenario, generate_trace, load_model_config

HIT_OFFSET_NS, MISS_EXTRA_NS = 3.0, 70.0


class StandInBackend(Gem5Backend):
    """Counts the requests of the states it is given and answers with made-up, deterministic latencies."""

    miss_extra_ns = MISS_EXTRA_NS

    def __init__(self, system):
        self.hit_ns = NucaModel.build(system).mean_latency_ns + HIT_OFFSET_NS
        self.n_banks = system.n_banks
        self.traffic = []

    def run_epoch(self, traffic, epoch_ticks):
        self.traffic.append(traffic)
        hits = np.array([sum(s.requests for s in t.resident) for t in traffic], dtype=float)
        misses = np.array([sum(s.requests for s in t.streamed) for t in traffic], dtype=float)
        for t in traffic:
            assert sum(s.duration_ticks for s in t.resident) == sum(s.duration_ticks for s in t.streamed) == epoch_ticks
        to_ticks = TICKS_PER_S * 1e-9
        total = hits.sum() + misses.sum()
        return EpochCounters(hits, hits * self.hit_ns * to_ticks, misses,
                             misses * (self.hit_ns + MISS_EXTRA_NS) * to_ticks,
                             np.full(self.n_banks, total / self.n_banks), np.full(self.n_banks, misses.sum() / 128),
                             2 * (hits + misses), 1000.0)


@pytest.fixture(scope="session")
def system():
    return load_system("snuca-64")


@pytest.fixture(scope="session")
def thermal(system):
    return build_thermal(system, "fast", cells=8)


@pytest.fixture(scope="session")
def workload():
    trace = generate_trace("gpt2-xl", Scenario(instances=2, threads_per_instance=4, requests=2, lengths="fixed:16,3"))
    return workload_from_trace(trace)


@pytest.fixture(scope="session")
def stand_in_backend():
    """The stand-in backend's class."""
    return StandInBackend


@pytest.fixture(scope="session")
def stand_in_engine():
    """A factory: a fresh Gem5Engine on the stand-in backend."""

    def make(system, workload):
        fractions = read_fractions(load_model_config("gpt2-xl"), workload.kernel_type_names)
        return Gem5Engine(system, workload, StandInBackend(system), fractions)

    return make
