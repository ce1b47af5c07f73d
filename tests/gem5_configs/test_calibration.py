"""NUCA calibration helpers: probe traffic, the fit recovers known constants, the per-core table (without gem5)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from ailfm.errors import ConfigError
from ailfm.gem5_configs.calibration import (
    calibration_table,
    fit_bank_service,
    fit_nuca,
    hop_features,
    idle_latencies,
    jittered,
    load_errors,
    probe_traffic,
    warm_traffic,
    with_bank_service,
    workload_traffic,
)
from ailfm.gem5_configs.epoch import TICKS_PER_S, AddressMap, ThreadCursor, read_fractions
from ailfm.plugins.engine.gem5 import Gem5Backend, JitteredBackend
from ailfm.plugins.system.description import load_system
from ailfm.plugins.system.nuca import NucaModel
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

    from ailfm.plugins.engine.workload import workload_from_trace
    from ailfm.traces import Scenario, generate_trace

    small = load_system(str(REPO / "tests" / "gem5_configs" / "gem5-smoke-2x2x2.yaml"))
    trace = generate_trace("gpt2-xl", Scenario(instances=1, threads_per_instance=16, requests=1, lengths="fixed:16,3"))
    many = workload_from_trace(trace)
    assert many.n_threads == 16 > small.n_cores == 8
    amap = AddressMap.for_system(small, small.n_cores)
    fractions = read_fractions(load_model_config("gpt2-xl"), many.kernel_type_names)
    traffic = workload_traffic(small, many, amap, [ThreadCursor() for _ in range(8)], fractions, 4.0, 5e-5)
    assert len(traffic) == 8 and all(sum(s.requests for s in t.resident + t.streamed) > 0 for t in traffic)


def _loaded_rates(system, per_tile=6e7, threads=48):
    return np.where(np.arange(system.n_cores) < threads, per_tile, 0.0)


def test_bank_fit_recovers_the_service_time_and_validates_at_other_loads(system):
    truth = with_bank_service(system, 18.0)
    rates = _loaded_rates(system)
    measured = np.where(rates > 0, NucaModel.build(truth).latency_ns(rates), np.nan)
    service = fit_bank_service(system, measured, rates)
    assert service == pytest.approx(18.0, rel=1e-9)
    idle = NucaModel.build(system).mean_latency_ns
    fit = fit_nuca(system, idle)
    table = calibration_table(system, idle, measured, rates, fit, with_bank_service(fit.system, service))
    np.testing.assert_allclose(table["banked_load_ns"][:48], measured[:48])
    other = _loaded_rates(system, per_tile=1e8)  # another load level: the fitted term predicts it exactly here
    held_out = table.assign(load_accesses_per_s=other,
                            gem5_load_ns=np.where(other > 0, NucaModel.build(truth).latency_ns(other), np.nan))
    errors = load_errors(held_out, {"links only": system, "banked": with_bank_service(system, service)})
    assert errors["banked"] == pytest.approx(0.0, abs=1e-12) and errors["links only"] > 0.01


def test_bank_fit_is_off_when_gem5_is_not_slower(system):
    rates = _loaded_rates(system)
    model = NucaModel.build(system).latency_ns(rates)
    assert fit_bank_service(system, np.where(rates > 0, model - 0.5, np.nan), rates) is None
    assert fit_bank_service(system, np.full(system.n_cores, np.nan), np.zeros(system.n_cores)) is None


def test_jitter_keeps_the_mean_period_and_rejects_bad_values(system, workload):
    amap = AddressMap.for_system(system, system.n_cores)
    fractions = read_fractions(load_model_config("gpt2-xl"), workload.kernel_type_names)
    traffic = workload_traffic(system, workload, amap, [ThreadCursor() for _ in range(system.n_cores)], fractions,
                               4.0, 5e-5)
    assert jittered(traffic, 0.0) == traffic
    spread = jittered(traffic, 0.5)
    for before, after in zip(traffic, spread, strict=True):
        for a, b in zip(before.resident + before.streamed, after.resident + after.streamed, strict=True):
            assert a.duration_ticks == b.duration_ticks
            if a.kind == "linear":
                assert b.period_ticks + b.max_period_ticks == 2 * a.period_ticks  # same mean gap
                assert b.period_ticks <= a.period_ticks <= b.max_period_ticks
    for bad in (-0.1, 1.0):
        with pytest.raises(ConfigError, match="--load-jitter"):
            jittered(traffic, bad)


def test_jittered_backend_hands_gem5_the_jittered_traffic(system, workload):
    amap = AddressMap.for_system(system, system.n_cores)
    fractions = read_fractions(load_model_config("gpt2-xl"), workload.kernel_type_names)
    traffic = workload_traffic(system, workload, amap, [ThreadCursor() for _ in range(system.n_cores)], fractions,
                               4.0, 5e-5)

    class Recording(Gem5Backend):
        def run_epoch(self, traffic, epoch_ticks):
            self.seen = (traffic, epoch_ticks)
            return "counters"

    inner = Recording()
    assert JitteredBackend(inner, 0.5).run_epoch(traffic, 123) == "counters"
    assert inner.seen == (jittered(traffic, 0.5), 123)
    with pytest.raises(ConfigError, match="--traffic-jitter"):
        JitteredBackend(inner, 1.0).run_epoch(traffic, 123)


def test_llc_only_load_sends_every_access_as_a_hit(system, workload):
    amap = AddressMap.for_system(system, system.n_cores)
    fractions = read_fractions(load_model_config("gpt2-xl"), workload.kernel_type_names)

    def load(dram):
        return workload_traffic(system, workload, amap, [ThreadCursor() for _ in range(system.n_cores)], fractions,
                                4.0, 5e-5, dram=dram)

    full, llc_only = load(True), load(False)
    for a, b in zip(full, llc_only, strict=True):
        assert sum(s.requests for s in b.streamed) == 0
        assert sum(s.duration_ticks for s in a.resident) == sum(s.duration_ticks for s in b.resident)
        sent = sum(s.requests for s in a.resident + a.streamed)
        assert abs(sum(s.requests for s in b.resident) - sent) <= 0.01 * sent + 8  # the same LLC accesses


def test_idle_latencies_come_from_a_previous_table(system, tmp_path):
    good = tmp_path / "calibration.csv"
    idle = NucaModel.build(system).mean_latency_ns
    pd.DataFrame({"core": np.arange(system.n_cores)[::-1], "gem5_idle_ns": idle[::-1]}).to_csv(good, index=False)
    np.testing.assert_array_equal(idle_latencies(good, system.n_cores), idle)
    short = tmp_path / "short.csv"
    pd.DataFrame({"core": [0, 1], "gem5_idle_ns": [30.0, 31.0]}).to_csv(short, index=False)
    for bad in (short, tmp_path / "missing.csv"):
        with pytest.raises(ConfigError, match="--idle-csv"):
            idle_latencies(bad, system.n_cores)
