"""Gem5Engine's book-keeping through the co-simulation loop, against the stand-in backend of conftest.py."""

from __future__ import annotations

import numpy as np
import pytest

from ailfm.errors import ConfigError, ToolError
from ailfm.plugins.engine.gem5 import Gem5Engine
from ailfm.plugins.epoch.cosim import CoSimulation
from ailfm.plugins.governors.registry import BUILTIN_GOVERNORS, make_governor


def _run(stand_in_engine, system, thermal, workload, governor="performance", epochs=4):
    engine = stand_in_engine(system, workload)
    sim = CoSimulation(system, engine, thermal, make_governor(governor), thread_instance=workload.thread_instance,
                       kernel_type_names=workload.kernel_type_names, request_arrival_s=workload.request_arrival_s)
    return engine, sim.run(duration_s=epochs * system.thermal.epoch_s)


def test_measured_latencies_drive_the_next_epoch(system, thermal, workload, stand_in_engine):
    engine, result = _run(stand_in_engine, system, thermal, workload)
    assert len(engine.counters) == len(result.epochs) * system.thermal.substeps == 4 * system.thermal.substeps
    tiles = engine.thread_core
    expected = engine.backend.hit_ns[tiles]
    llc_latency_ns = engine.state.llc_latency_ns[0]
    np.testing.assert_allclose(llc_latency_ns[tiles], expected)  # measured, not the analytic NUCA value
    assert engine.state.dram_latency_ns[0] == pytest.approx(engine.backend.miss_extra_ns)
    idle = np.setdiff1d(np.arange(system.n_cores), tiles)
    np.testing.assert_allclose(llc_latency_ns[idle], engine.nuca.mean_latency_ns[idle])
    assert set(result.summary) >= {"energy_j", "peak_temp_c", "tokens_per_s"}
    timeline = result.timeline()
    assert len(timeline) == 4 * system.n_cores and timeline["instructions"].sum() > 0


def test_traffic_replays_each_threads_epoch_on_its_tile(system, workload, stand_in_engine):
    engine = stand_in_engine(system, workload)
    placement = np.arange(workload.n_threads) * 3  # spread out: tiles 0, 3, 6, ...
    engine.actuate(np.full(system.n_cores, 2.0), placement)
    activity = engine.advance(1e-3)
    traffic = engine.backend.traffic[-1]
    for thread, tile in enumerate(placement):
        sent = sum(s.requests for s in traffic[tile].resident + traffic[tile].streamed)
        assert sent == pytest.approx(activity.thread_llc_accesses[thread], abs=1)
        assert sum(s.requests for s in traffic[tile].streamed) == pytest.approx(activity.thread_dram_misses[thread],
                                                                                abs=1)
    empty = [t for t in range(system.n_cores) if t not in set(placement)]
    assert all(traffic[t].resident[0].kind == "idle" and len(traffic[t].resident) == 1 for t in empty)
    np.testing.assert_array_equal(activity.router_flits, engine.counters[-1].router_flits)  # gem5's, for power


def test_frequency_scales_the_offered_rate(system, workload, stand_in_engine):
    rates = []
    for f in (1.0, 4.0):
        engine = stand_in_engine(system, workload)
        engine.actuate(np.full(system.n_cores, f), np.arange(workload.n_threads))
        engine.advance(1e-3)
        traffic = engine.backend.traffic[-1]
        rates.append(sum(s.requests for t in traffic for s in t.resident + t.streamed))
    assert rates[1] > 1.5 * rates[0]


def test_migration_replays_the_private_working_set_on_the_new_tile(system, workload, stand_in_engine):
    engine = stand_in_engine(system, workload)
    f = np.full(system.n_cores, 3.0)
    placement = np.arange(workload.n_threads)
    engine.actuate(f, placement)
    engine.advance(1e-3)
    moved = placement.copy()
    moved[0] = 40  # thread 0: tile 0 -> tile 40
    engine.actuate(f, moved)
    assert engine.migrations == 1
    engine.advance(1e-3)
    first = engine.backend.traffic[-1][40].resident[0]
    lo, hi = engine.address_map.resident(0)
    assert first.kind == "linear" and first.read_percent == 100 and lo <= first.min_addr < hi
    refill_lines = engine.interval.private_working_set_bytes(np.array([0]))[0] // 64
    assert 0 < first.requests <= refill_lines
    assert engine.backend.traffic[-1][0].resident[0].kind == "idle"  # the old tile went quiet
    engine.actuate(f, moved)
    engine.advance(1e-3)
    assert engine.backend.traffic[-1][40].resident[0].min_addr != first.min_addr or \
        engine.backend.traffic[-1][40].resident[0].requests != first.requests  # no second refill


def test_gem5_cannot_rewind(system, workload, stand_in_engine):
    engine = stand_in_engine(system, workload)
    engine.actuate(np.full(system.n_cores, 2.0), np.arange(workload.n_threads))
    engine.advance(1e-3)
    with pytest.raises(ToolError, match="rewind"):
        engine.reset()
    with pytest.raises(ValueError, match="read_fraction"):
        Gem5Engine(system, workload, engine.backend, np.ones(3))
    no_mix = np.full(len(workload.kernel_type_names), np.nan)
    with pytest.raises(ConfigError, match="gemm"):
        Gem5Engine(system, workload, engine.backend, no_mix)


@pytest.mark.parametrize("name", sorted(BUILTIN_GOVERNORS))
def test_every_builtin_governor_runs_on_the_gem5_engine(name, system, thermal, workload, stand_in_engine):
    """The same governor plugins as ``ailfm simulate`` (look-ahead ones need a rewindable engine: not on gem5)."""
    engine, result = _run(stand_in_engine, system, thermal, workload, governor=name, epochs=3)
    assert len(engine.counters) == len(result.epochs) * system.thermal.substeps  # gem5 advanced every sub-step
    assert np.isfinite(result.summary["energy_j"]) and result.summary["energy_j"] > 0


def test_a_sampled_window_carries_the_epochs_rates_and_scales_the_counters_back(system, workload, stand_in_engine):
    whole = stand_in_engine(system, workload)
    sampled = stand_in_engine(system, workload)
    sampled.window_s = 1e-4  # a tenth of the 1 ms epoch
    placement = np.arange(workload.n_threads)
    activities = []
    for engine in (whole, sampled):
        engine.actuate(np.full(system.n_cores, 3.0), placement)
        activities.append(engine.advance(1e-3))
    for engine, ticks in ((whole, 10**9), (sampled, 10**8)):
        assert all(sum(s.duration_ticks for s in t.resident) == ticks for t in engine.backend.traffic[-1])
    sent = [np.array([sum(s.requests for s in t.resident + t.streamed) for t in e.backend.traffic[-1]])
            for e in (whole, sampled)]
    busy = sent[0] > 100
    np.testing.assert_allclose(sent[1][busy], sent[0][busy] / 10, rtol=0.02, atol=1)  # same rate, a tenth of the time
    # the power model sees whole-epoch counts: the stand-in's flits are 2 per request, scaled back by 10
    np.testing.assert_allclose(activities[1].router_flits, sampled.counters[-1].router_flits * 10)
    np.testing.assert_allclose(activities[1].router_flits.sum(), activities[0].router_flits.sum(), rtol=0.02)
    with pytest.raises(ConfigError, match="window"):
        Gem5Engine(system, workload, whole.backend, sampled.read_fraction, window_s=0.0)
