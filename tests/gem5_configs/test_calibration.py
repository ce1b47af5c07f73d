"""NUCA calibration helpers: probe traffic, the fit recovers known constants, the per-core table (without gem5)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ailfm.gem5_configs.calibration import (
    calibration_table,
    fit_nuca,
    hop_features,
    probe_traffic,
    warm_traffic,
    workload_traffic,
)
from ailfm.gem5_configs.epoch import TICKS_PER_S, AddressMap, ThreadCursor, read_fractions
from ailfm.plugins.nuca import NucaModel
from ailfm.plugins.system import load_system
from ailfm.traces import load_model_config


@pytest.fixture(scope="module")
def system():
    return load_system("snuca-64")


def test_features_reproduce_the_builtin_latency(system):
    noc = system.noc
    coefficients = np.array([noc.router_latency_cycles + noc.link_latency_cycles,
                             noc.router_latency_cycles + noc.tsv_latency_cycles,
                             2 * noc.router_latency_cycles + system.llc.bank_latency_cycles + 3 - 1])
    np.testing.assert_allclose(hop_features(system) @ coefficients / noc.frequency_GHz,
                               NucaModel.build(system).mean_latency_ns)


def test_fit_recovers_constants_from_latencies(system):
    truth = dataclasses.replace(system, noc=dataclasses.replace(system.noc, link_latency_cycles=3.0,
                                                                tsv_latency_cycles=4.0),
                                llc=dataclasses.replace(system.llc, bank_latency_cycles=14.0))
    measured = NucaModel.build(truth).mean_latency_ns
    fit = fit_nuca(system, measured)
    assert fit.system.noc.link_latency_cycles == pytest.approx(3.0)
    assert fit.system.noc.tsv_latency_cycles == pytest.approx(4.0)
    assert fit.system.llc.bank_latency_cycles == pytest.approx(14.0) and fit.clipped == ()
    loaded = np.where(np.arange(system.n_cores) < 48, measured * 1.2, np.nan)  # 48 threads under load
    rates = np.where(np.isnan(loaded), 0.0, 5e7)
    table = calibration_table(system, measured, loaded, rates, fit)
    np.testing.assert_allclose(table["error_after"], 0.0, atol=1e-12)
    assert (table["error_before"] < 0).all() and np.allclose(table["load_over_idle"][:48], 1.2)
    contended = NucaModel.build(system).latency_ns(rates)
    np.testing.assert_allclose(table["builtin_load_ns"][:48], contended[:48])  # the model at gem5's access rates
    assert table["builtin_load_ns"][48:].isna().all() and (contended[:48] > table["builtin_ns"][:48]).all()


def test_fit_clips_impossible_constants(system):
    flat = np.full(system.n_cores, 2.0)  # no hop dependence at all and a tiny constant
    fit = fit_nuca(system, flat)
    assert set(fit.clipped) == {"noc.link_latency_cycles", "noc.tsv_latency_cycles", "llc.bank_latency_cycles"}
    assert fit.system.llc.bank_latency_cycles == 0.0 and fit.system.noc.link_latency_cycles == 0.0


def test_probe_traffic_loads_only_the_active_tiles(system):
    amap = AddressMap.for_system(system, system.n_cores)
    cursors = [ThreadCursor() for _ in range(system.n_cores)]
    active = np.zeros(system.n_cores, dtype=bool)
    active[5] = True
    traffic = probe_traffic(system, amap, cursors, active, requests_per_s=1e8, epoch_s=2e-5)
    sent = [sum(s.requests for s in t.resident) for t in traffic]
    assert sent[5] == 2000 and sum(sent) == 2000
    lo, hi = amap.resident(5)
    assert all(lo <= s.min_addr < s.max_addr <= hi for s in traffic[5].resident if s.kind == "linear")
    assert all(s.read_percent == 100 for s in traffic[5].resident)
    for t in traffic:
        assert sum(s.duration_ticks for s in t.resident) == 2e-5 * TICKS_PER_S


def test_workload_traffic_replays_each_thread_on_its_tile(system, workload):
    amap = AddressMap.for_system(system, system.n_cores)
    cursors = [ThreadCursor() for _ in range(system.n_cores)]
    fractions = read_fractions(load_model_config("gpt2-xl"), workload.kernel_type_names)
    window_s = 2e-4
    traffic = workload_traffic(system, workload, amap, cursors, fractions, 4.0, window_s)
    for tile, t in enumerate(traffic):
        resident = sum(s.duration_ticks for s in t.resident)
        assert resident == sum(s.duration_ticks for s in t.streamed) >= window_s * TICKS_PER_S  # in step, long enough
        sent = sum(s.requests for s in t.resident + t.streamed)
        assert (sent > 0) == (tile < workload.n_threads)
        for s in t.resident + t.streamed:
            if s.kind == "linear":
                lo, hi = amap.resident(tile)
                slo, shi = amap.streamed(tile)
                assert lo <= s.min_addr < hi or slo <= s.min_addr < shi  # the thread's own data only
    # threads of one instance replay the same kernels in step (the barrier): same durations kernel by kernel
    first, second = traffic[0], traffic[1]
    assert sum(s.duration_ticks for s in first.resident) == sum(s.duration_ticks for s in second.resident)


def test_warm_traffic_reads_each_loaded_tiles_whole_resident_region_once(system):
    amap = AddressMap.for_system(system, system.n_cores)
    epoch_s = 1e-4
    traffic = warm_traffic(system, amap, np.arange(3), epoch_s)
    lines = amap.resident_bytes // amap.line_bytes
    for tile, t in enumerate(traffic):
        assert sum(s.duration_ticks for s in t.resident) == sum(s.duration_ticks for s in t.streamed) \
            == epoch_s * TICKS_PER_S
        assert sum(s.requests for s in t.resident) == (lines if tile < 3 else 0)
        assert sum(s.requests for s in t.streamed) == 0
    sweep = traffic[2].resident[0]
    assert (sweep.min_addr, sweep.max_addr) == amap.resident(2)


def test_workload_traffic_uses_the_tiles_there_are_when_threads_outnumber_them():
    from reference_data import REPO

    from ailfm.plugins.workload import workload_from_trace
    from ailfm.traces import Scenario, generate_trace

    small = load_system(str(REPO / "tests" / "gem5_configs" / "gem5-smoke-2x2x2.yaml"))
    trace = generate_trace("gpt2-xl", Scenario(instances=1, threads_per_instance=16, requests=1, lengths="fixed:16,3"))
    many = workload_from_trace(trace)
    assert many.n_threads == 16 > small.n_cores == 8
    amap = AddressMap.for_system(small, small.n_cores)
    fractions = read_fractions(load_model_config("gpt2-xl"), many.kernel_type_names)
    traffic = workload_traffic(small, many, amap, [ThreadCursor() for _ in range(8)], fractions, 4.0, 5e-5)
    assert len(traffic) == 8 and all(sum(s.requests for s in t.resident + t.streamed) > 0 for t in traffic)
