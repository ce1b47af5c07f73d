"""NUCA calibration helpers: probe traffic, the fit recovers known constants, the per-core table (without gem5)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ailfm.gem5_configs.calibration import calibration_table, fit_nuca, hop_features, probe_traffic
from ailfm.gem5_configs.epoch import TICKS_PER_S, AddressMap, ThreadCursor
from ailfm.plugins.nuca import NucaModel
from ailfm.plugins.system import load_system


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
    table = calibration_table(system, measured, measured * 1.2, fit)
    np.testing.assert_allclose(table["error_after"], 0.0, atol=1e-12)
    assert (table["error_before"] < 0).all() and np.allclose(table["load_over_idle"], 1.2)


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
