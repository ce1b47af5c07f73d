"""Time sampling per control epoch, the spread migration refill, recording and open-loop replay, and the error table
(without gem5: the stand-in backend of conftest.py; the real replay runs under gem5.opt and skips without it)."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from reference_data import REPO

from ailfm.errors import ConfigError, FormatError
from ailfm.gem5_configs.epoch import (
    TICKS_PER_S,
    AddressMap,
    EpochCounters,
    StepTraffic,
    ThreadCursor,
    measure_step,
    read_fractions,
)
from ailfm.gem5_configs.recipe import parse_args, prepare_run, recording_info, run_config
from ailfm.gem5_configs.sampling import (
    TrafficRecorder,
    fed_back_latencies,
    next_epoch_instructions,
    prepare_replay,
    read_recording,
    read_replay,
    replay,
    replay_source,
    sampling_errors,
    write_recording,
    write_replay,
)
from ailfm.plugins.engine.gem5 import Gem5Engine, interval_model, refill_share
from ailfm.plugins.epoch.cosim import CoSimulation
from ailfm.plugins.governors.registry import make_governor
from ailfm.plugins.system.description import load_system
from ailfm.traces import load_model_config

SMOKE_SYSTEM = Path(__file__).with_name("gem5-smoke-2x2x2.yaml")
BENCH = REPO / "bench" / "gem5_sampling.py"


@pytest.fixture(autouse=True)
def _stand_in(stand_in_backend):
    global StandInBackend
    StandInBackend = stand_in_backend


def drifting(stand_in_backend):
    """The stand-in, with a hit latency that grows by 1 ns per window: latencies that differ between the windows of
    an epoch, so the request weighting shows."""

    class DriftingBackend(stand_in_backend):
        def run_epoch(self, traffic, epoch_ticks):
            counters = super().run_epoch(traffic, epoch_ticks)
            extra = len(self.traffic) * TICKS_PER_S * 1e-9
            return dataclasses.replace(counters,
                                       hit_latency_ticks=counters.hit_latency_ticks + counters.hit_requests * extra)

    return DriftingBackend


def _engine(system, workload, backend=None, **kwargs):
    fractions = read_fractions(load_model_config("gpt2-xl"), workload.kernel_type_names)
    return Gem5Engine(system, workload, backend or StandInBackend(system), fractions, **kwargs)


def _closed_loop(system, thermal, workload, epochs=3, **kwargs):
    engine = _engine(system, workload, **kwargs)
    sim = CoSimulation(system, engine, thermal, make_governor("ondemand"), thread_instance=workload.thread_instance,
                       kernel_type_names=workload.kernel_type_names, request_arrival_s=workload.request_arrival_s)
    return engine, sim.run(duration_s=epochs * system.thermal.epoch_s)


def _info(system, window_s=None, lead_in_us=0):
    args = parse_args(["--epochs", "3", "--out", "o", "--workload", "gpt2-xl", "--instances", "2", "--threads", "4",
                       "--requests", "2", "--lengths", "fixed:16,3", "--lead-in-us", str(lead_in_us)]
                      + (["--window-us", str(window_s * 1e6)] if window_s else []))
    return recording_info(args, run_config(args, system.thermal.epoch_s), system, window_s)


def test_the_window_is_per_control_epoch_and_spread_over_its_sub_steps(system, thermal, workload):
    window_s = 1e-4  # a tenth of the 1 ms epoch: 5 us of each 50 us sub-step
    engine, result = _closed_loop(system, thermal, workload, epochs=2, window_s=window_s)
    substeps = system.thermal.substeps
    ticks = [sum(s.duration_ticks for s in t[0].resident) for t in engine.backend.traffic]
    assert len(ticks) == 2 * substeps and set(ticks) == {round(window_s / substeps * TICKS_PER_S)}
    assert engine.window_share() == pytest.approx(0.1)
    full = _engine(system, workload, window_s=system.thermal.epoch_s)
    assert full.window_share() == _engine(system, workload, window_s=1.0).window_share() == 1.0  # whole epoch


def test_latencies_are_set_once_per_epoch_request_weighted_over_its_windows(system, workload, stand_in_backend):
    engine = _engine(system, workload, drifting(stand_in_backend)(system), window_s=2e-4)
    tiles = np.arange(workload.n_threads)
    engine.actuate(np.full(system.n_cores, 3.0), tiles)
    before = engine.state.llc_latency_ns[0].copy()
    dt = system.thermal.epoch_s / 4
    for _ in range(3):
        engine.advance(dt, update_timing=False)
        np.testing.assert_array_equal(engine.state.llc_latency_ns[0], before)  # nothing fed back mid-epoch
    engine.advance(dt, update_timing=True)
    hits = np.array([[sum(s.requests for s in t[tile].resident) for tile in tiles] for t in engine.backend.traffic])
    drift = np.arange(1, 5)[:, None] * np.ones((1, len(tiles)))
    expected = engine.backend.hit_ns[tiles] + (hits * drift).sum(axis=0) / hits.sum(axis=0)
    np.testing.assert_allclose(engine.state.llc_latency_ns[0][tiles], expected)
    assert not np.allclose(expected, engine.backend.hit_ns[tiles] + drift.mean(axis=0))  # weighting matters


def _ticks(window):
    return sum(s.duration_ticks for s in window[0].resident)


def _requests(window):
    return sum(s.requests for t in window for s in (*t.resident, *t.streamed))


def lead_in_marked(stand_in_backend, lead_in_ticks):
    """The stand-in, with a lead-in (a window of ``lead_in_ticks``) answering absurd latencies and counts: any of
    them that reached the loop would show."""

    class LeadInMarked(stand_in_backend):
        def run_epoch(self, traffic, epoch_ticks):
            counters = super().run_epoch(traffic, epoch_ticks)
            if epoch_ticks != lead_in_ticks:
                return counters
            return EpochCounters(*(getattr(counters, f) * 1000 for f in
                                   ("hit_requests", "hit_latency_ticks", "miss_requests", "miss_latency_ticks",
                                    "bank_accesses", "bank_misses", "router_flits")), 1e9)

    return LeadInMarked


def test_a_lead_in_runs_before_each_epochs_first_window_at_its_rates(system, thermal, workload):
    window_s, lead_in_s = 1e-4, 3e-5  # 5 us per 50 us sub-step, 30 us of lead-in
    engine, _ = _closed_loop(system, thermal, workload, epochs=2, window_s=window_s, lead_in_s=lead_in_s)
    plain, _ = _closed_loop(system, thermal, workload, epochs=2, window_s=window_s)
    substeps = system.thermal.substeps
    sent = engine.backend.traffic
    assert len(sent) == 2 * substeps + 2 and len(engine.counters) == 2 * substeps  # lead-ins are not counters
    lead_ins = [0, substeps + 1]
    step_ticks = round(window_s / substeps * TICKS_PER_S)
    assert [_ticks(w) for w in sent] == [round(lead_in_s * TICKS_PER_S) if i in lead_ins else step_ticks
                                         for i in range(len(sent))]
    windows = [w for i, w in enumerate(sent) if i not in lead_ins]
    assert [_ticks(w) for w in windows] == [_ticks(w) for w in plain.backend.traffic]  # the windows keep their length
    for lead_in, first in zip((sent[0], sent[substeps + 1]), (windows[0], windows[substeps]), strict=True):
        # the first sub-step's rates, for lead_in / window as long (up to rounding of the request counts)
        assert _requests(lead_in) == pytest.approx(_requests(first) * lead_in_s * substeps / window_s, rel=0.02)
    assert _requests(sent[0]) > 0


def test_a_lead_ins_counters_are_discarded(system, workload, stand_in_backend):
    lead_in_s, window_s = 4e-5, 2e-4
    results = []
    for lead_in in (0.0, lead_in_s):
        backend = lead_in_marked(stand_in_backend, round(lead_in_s * TICKS_PER_S))(system)
        engine = _engine(system, workload, backend, window_s=window_s, lead_in_s=lead_in)
        engine.actuate(np.full(system.n_cores, 3.0), np.arange(workload.n_threads))
        activity = [engine.advance(system.thermal.epoch_s / 2, update_timing=last) for last in (False, True)]
        results.append((engine.state.llc_latency_ns[0].copy(), float(engine.state.dram_latency_ns[0]),
                        activity[0].bank_accesses, engine.counters))
        assert len(backend.traffic) == 2 + (lead_in > 0)
    (llc0, dram0, banks0, counters0), (llc1, dram1, banks1, counters1) = results
    np.testing.assert_allclose(llc1, llc0)  # fed back from the windows alone
    assert dram1 == pytest.approx(dram0)
    np.testing.assert_allclose(banks1, banks0)  # the power model's counts too
    assert len(counters1) == len(counters0) == 2


def test_a_lead_in_replays_the_steps_without_their_refill():
    smoke = load_system(SMOKE_SYSTEM)
    amap = AddressMap.for_system(smoke, 2)
    # a 50 us step: thread 0 on tile 0 makes 4000 LLC accesses (1000 DRAM misses) and owes a 200-line refill
    step = StepTraffic(5e-5, np.array([0, 1]), np.array([4000.0, 2000.0]), np.array([1000.0, 500.0]),
                       np.array([4e-5, 2e-5]), np.array([0.7, 1.0]), np.array([amap.line_bytes * 200.0, 0.0]))
    backend = StandInBackend(smoke)
    counters = measure_step(backend, step, amap, [ThreadCursor(), ThreadCursor()], smoke.n_cores, 1e-5, 2e-5)
    lead_in, window = backend.traffic
    assert _ticks(lead_in) == 2 * _ticks(window) == round(2e-5 * TICKS_PER_S)
    resident, streamed = ([sum(s.requests for s in w[0].resident) for w in (lead_in, window)],
                          [sum(s.requests for s in w[0].streamed) for w in (lead_in, window)])
    assert streamed == [400, 200]  # the step's DRAM-miss rate over 20 us and 10 us
    assert resident == [1200, 600 + 40]  # its LLC-hit rate; the window's share of the refill, the lead-in none
    np.testing.assert_array_equal(counters.hit_requests[:2], [640, 300])  # the window's, not the lead-in's


def test_the_replay_sends_the_closed_loops_lead_ins(tmp_path, system, thermal, workload):
    recorder = TrafficRecorder(_info(system, 1e-4, lead_in_us=20))
    engine, _ = _closed_loop(system, thermal, workload, epochs=2, window_s=1e-4, lead_in_s=2e-5, recorder=recorder)
    recording = read_recording(write_recording(tmp_path / "rec.parquet", recorder))
    assert recording.info["lead_in_s"] == pytest.approx(2e-5)
    backend = StandInBackend(system)
    counters = replay(recording, backend, engine.address_map, system.n_cores, 1e-4, lead_in_s=2e-5)
    assert backend.traffic == engine.backend.traffic  # lead-ins included, in the same places
    assert len(counters) == len(engine.counters) == 2 * system.thermal.substeps
    cold = StandInBackend(system)
    replay(recording, cold, engine.address_map, system.n_cores, 1e-4)
    assert len(cold.traffic) == len(backend.traffic) - 2


def test_lead_in_options(system, workload):
    with pytest.raises(ConfigError, match="lead-in-us.*--window-us"):
        parse_args(["--epochs", "1", "--out", "o", "--lead-in-us", "50"])
    assert parse_args(["--epochs", "1", "--out", "o", "--window-us", "50", "--lead-in-us", "50"]).lead_in_us == 50
    with pytest.raises(SystemExit):
        parse_args(["--epochs", "1", "--out", "o", "--window-us", "50", "--lead-in-us", "-1"])
    with pytest.raises(ConfigError, match="lead-in"):
        _engine(system, workload, window_s=1e-4, lead_in_s=-1e-6)


def test_refill_share_follows_the_penalty_paid():
    owed = np.array([4e-6, 4e-6, 0.0, 0.0, 2e-6])
    left = np.array([3e-6, 0.0, 0.0, 0.0, 2e-6])
    busy = np.array([1e-6, 5e-6, 1e-6, 0.0, 0.0])
    np.testing.assert_allclose(refill_share(owed, left, busy), [0.25, 1.0, 1.0, 0.0, 0.0])


def test_a_migration_refill_is_replayed_as_its_penalty_is_paid(system, workload):
    engine = _engine(system, workload)  # whole steps: full-scale refill
    f = np.full(system.n_cores, 3.0)
    placement = np.arange(workload.n_threads)
    engine.actuate(f, placement)
    engine.advance(1e-4)
    moved = placement.copy()
    moved[0] = 40
    engine.actuate(f, moved)
    owed_s = engine.state.penalty_s[0].reshape(-1)[0]
    dt = owed_s / 3.5  # the penalty spans four steps
    refill_lines = engine.interval.private_working_set_bytes(np.array([0]))[0] / 64
    sent, paid = [], []
    for _ in range(5):
        before = engine.state.penalty_s[0].reshape(-1)[0]
        engine.advance(dt, update_timing=False)
        paid.append(before - engine.state.penalty_s[0].reshape(-1)[0])
        first = engine.backend.traffic[-1][40].resident[0]
        lo, _ = engine.address_map.resident(0)
        sent.append(first.requests if first.read_percent == 100 and first.min_addr >= lo and paid[-1] > 0 else 0)
        engine.actuate(f, moved)
    assert sum(sent) == pytest.approx(refill_lines, abs=4)  # all of it, once
    assert sent[0] < 0.4 * refill_lines and sent[4] == 0  # not whole in the first step
    np.testing.assert_allclose(np.array(sent[:4]) / refill_lines, np.array(paid[:4]) / owed_s, atol=0.01)


def test_a_recording_replays_exactly_what_the_closed_loop_sent(tmp_path, system, thermal, workload):
    recorder = TrafficRecorder(_info(system, 1e-4))
    engine, result = _closed_loop(system, thermal, workload, epochs=3, window_s=1e-4, recorder=recorder)
    path = write_recording(tmp_path / "rec.parquet", recorder)
    recording = read_recording(path)
    assert recording.n_epochs == 3 and len(recording.steps) == 3 * system.thermal.substeps
    assert recording.info["config"]["workload"] == "gpt2-xl" and recording.info["window_s"] == 1e-4
    backend = StandInBackend(system)
    counters = replay(recording, backend, engine.address_map, system.n_cores, 1e-4)
    assert backend.traffic == engine.backend.traffic  # same states, tile by tile, step by step
    for replayed, measured in zip(counters, engine.counters, strict=True):
        np.testing.assert_array_equal(replayed.hit_requests, measured.hit_requests)
    streamed = []
    one = replay(recording, StandInBackend(system), engine.address_map, system.n_cores, 1e-3, epochs=2,
                 on_epoch=lambda counters, done: streamed.append((len(counters), done)))
    substeps = system.thermal.substeps
    assert len(one) == 2 * substeps and streamed == [(substeps, 1), (2 * substeps, 2)]


def test_the_interval_model_rerun_reproduces_the_closed_loops_instructions(tmp_path, system, thermal, workload):
    recorder = TrafficRecorder(_info(system))
    engine, result = _closed_loop(system, thermal, workload, epochs=3, recorder=recorder, backend=None)
    recording = read_recording(write_recording(tmp_path / "rec.parquet", recorder))
    counters = replay(recording, StandInBackend(system), engine.address_map, system.n_cores, 1e-3)
    measured = write_replay(tmp_path / "r.parquet", counters, recording, 1e-3, {"window_s": 1e-3})
    full = read_replay(measured)
    interval = interval_model(system, workload)
    instructions = result.timeline().groupby("epoch")["instructions"].sum().to_numpy()
    for epoch in (1, 2):
        llc, dram, _ = fed_back_latencies(full, epoch - 1, interval.nuca.mean_latency_ns, 0.0)
        rerun = next_epoch_instructions(interval, recording, epoch, llc, dram)
        assert rerun.sum() == pytest.approx(instructions[epoch], rel=1e-9)
        slower = next_epoch_instructions(interval, recording, epoch, llc * 2, dram * 2)
        assert slower.sum() < 0.99 * rerun.sum()  # the latencies matter to what it retires


def test_the_error_table_is_zero_against_itself_and_sees_each_error(tmp_path, system, thermal, workload):
    recorder = TrafficRecorder(_info(system))
    engine, _ = _closed_loop(system, thermal, workload, epochs=3, recorder=recorder)
    recording = read_recording(write_recording(tmp_path / "rec.parquet", recorder))
    interval = interval_model(system, workload)
    full_counters = replay(recording, StandInBackend(system), engine.address_map, system.n_cores, 1e-3)
    full = read_replay(write_replay(tmp_path / "full.parquet", full_counters, recording, 1e-3, {}))
    same = sampling_errors(full, full, recording, interval).set_index("quantity")
    assert (same["mean_rel_error"] == 0).all() and (same["worst_rel_error"] == 0).all()
    assert len(same) == 9 and (same["n"] > 0).all()
    off = [dataclasses.replace(c, hit_latency_ticks=c.hit_latency_ticks * 1.1, bank_accesses=c.bank_accesses * 1.2,
                               router_flits=c.router_flits * 0.5) for c in full_counters]
    wrong = read_replay(write_replay(tmp_path / "off.parquet", off, recording, 1e-3, {}))
    table = sampling_errors(wrong, full, recording, interval).set_index("quantity")
    llc = table.loc["LLC latency fed back"]
    assert llc["mean_rel_error"] == pytest.approx(0.1) and llc["worst_rel_error"] == pytest.approx(0.1)
    banks = table.loc["bank accesses, scaled back"]
    assert np.allclose(banks["mean_rel_error"], 0.2) and np.allclose(banks["total_bias"], 0.2)
    assert np.allclose(table.loc["router flits, scaled back", "total_bias"], -0.5)
    instructions = table.loc["instructions retired in the next epoch (interval model)"]
    assert 0 < instructions["mean_rel_error"] < 0.1 and instructions["total_bias"] < 0  # slower LLC, fewer
    # a sampled replay's counts are scaled back by its window: a tenth of the counts in a tenth of the time is exact
    tenth = [dataclasses.replace(c, bank_accesses=c.bank_accesses / 10, router_flits=c.router_flits / 10)
             for c in full_counters]
    sampled = read_replay(write_replay(tmp_path / "tenth.parquet", tenth, recording, 1e-4, {}))
    scaled = sampling_errors(sampled, full, recording, interval).set_index("quantity")
    assert np.allclose(scaled.loc["bank accesses, scaled back", "mean_rel_error"], 0.0)
    # a tile no thread ran on, with a few slow stray requests in the reference only: every tile's row sees it, the
    # row of the tiles running a thread does not
    idle = next(t for t in range(system.n_cores) if t not in {int(x) for s in recording.steps for x in s.tile})
    strays = [dataclasses.replace(c, hit_requests=c.hit_requests.copy(), hit_latency_ticks=c.hit_latency_ticks.copy())
              for c in full_counters]
    strays[0].hit_requests[idle], strays[0].hit_latency_ticks[idle] = 3, 3 * 300e3
    stray = read_replay(write_replay(tmp_path / "stray.parquet", strays, recording, 1e-3, {}))
    table = sampling_errors(full, stray, recording, interval).set_index("quantity")
    assert table.loc["LLC latency fed back", "worst_rel_error"] > 0.5
    assert table.loc["LLC latency fed back, tiles running a thread", "worst_rel_error"] == 0
    assert table.loc["LLC latency fed back, tiles running a thread", "n"] < table.loc["LLC latency fed back", "n"]


def test_counters_survive_the_replay_file(tmp_path, system):
    rng = np.random.default_rng(1)
    counters = [EpochCounters(*(rng.random(n) for n in (8, 8, 8, 8, 16, 16, 8)), float(k)) for k in range(3)]
    recorder = TrafficRecorder({"epoch_s": 1e-3})
    from ailfm.gem5_configs.epoch import StepTraffic

    for k in range(3):
        if k == 0:
            recorder.start_epoch(_engine(system, _small_workload()).state)
        recorder.add(StepTraffic(1e-3 / 3, np.arange(2), *(np.ones(2) for _ in range(5))), np.full(8, 2.0))
    recording = read_recording(write_recording(tmp_path / "rec.parquet", recorder))
    back = read_replay(write_replay(tmp_path / "r.parquet", counters, recording, 1e-4, {"epochs": 1}))
    assert back.source == {"epochs": 1}
    np.testing.assert_allclose(back.simulated_s, 1e-3 / 3 * 0.1)
    for a, b in zip(counters, back.counters, strict=True):
        for field in dataclasses.fields(a):
            np.testing.assert_array_equal(getattr(a, field.name), getattr(b, field.name))


def _small_workload():
    from ailfm.plugins.engine.workload import workload_from_trace
    from ailfm.traces import Scenario, generate_trace

    return workload_from_trace(generate_trace("gpt2-xl", Scenario(instances=1, threads_per_instance=2, requests=1,
                                                                  lengths="fixed:4,2")))


def test_bad_recordings_and_replays_are_one_line(tmp_path, system):
    plain = tmp_path / "plain.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(plain)
    with pytest.raises(FormatError, match="not a traffic recording"):
        read_recording(plain)
    with pytest.raises(FormatError, match="is not a replay"):
        read_replay(plain)
    (tmp_path / "junk.parquet").write_text("no")
    with pytest.raises(FormatError, match="not a Parquet file"):
        read_recording(tmp_path / "junk.parquet")
    with pytest.raises(FormatError, match="file not found"):
        read_recording(tmp_path / "none.parquet")
    recorder = TrafficRecorder({**_info(system), "dvfs": "stock"})
    engine = _engine(system, _small_workload())
    recorder.start_epoch(engine.state)
    from ailfm.gem5_configs.epoch import StepTraffic

    recorder.add(StepTraffic(5e-5, np.arange(2), *(np.ones(2) for _ in range(5))), np.full(64, 2.0))
    stock = write_recording(tmp_path / "stock.parquet", recorder)
    with pytest.raises(ConfigError, match="--dvfs stock"):
        prepare_replay(["--recording", str(stock), "--window-us", "50", "--out", str(tmp_path / "r.parquet")])
    rate = write_recording(tmp_path / "rate.parquet", TrafficRecorder(recorder.info | {"dvfs": "rate"}))
    with pytest.raises(FormatError, match="without any step"):
        read_recording(rate)


def test_record_traffic_option_checks_its_folder_before_gem5(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(ConfigError, match="record-traffic"):
        prepare_run(["--epochs", "1", "--out", str(tmp_path / "o"), "--system", str(SMOKE_SYSTEM),
                     "--workload", "gpt2-xl", "--instances", "1", "--threads", "4",
                     "--record-traffic", str(blocked / "rec.parquet")])


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("gem5_sampling", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import would (its dataclasses look their module up)
    spec.loader.exec_module(module)
    return module


def test_the_bench_resumes_and_writes_the_same_table_twice(tmp_path, system, thermal, workload, bench,
                                                           monkeypatch):
    recorder = TrafficRecorder(_info(system))
    engine, _ = _closed_loop(system, thermal, workload, epochs=3, recorder=recorder)
    rec_path = write_recording(tmp_path / "rec.parquet", recorder)
    recording = read_recording(rec_path)
    out = tmp_path / "out"
    out.mkdir()
    full = replay(recording, StandInBackend(system), engine.address_map, system.n_cores, 1e-3)
    for window_us, scale in ((1000, 1.0), (50, 1.05)):  # a made-up 5 % slower LLC at 50 us
        counters = [dataclasses.replace(c, hit_latency_ticks=c.hit_latency_ticks * scale) for c in full]
        write_replay(bench.replay_path(out, window_us), counters, recording, window_us * 1e-6,
                     {**replay_source(rec_path, recording, window_us, None), "epochs_done": 3})
    assert bench.finished(bench.replay_path(out, 50), replay_source(rec_path, recording, 50, None))
    assert not bench.finished(bench.replay_path(out, 50), replay_source(rec_path, recording, 50, 2))
    monkeypatch.delenv("GEM5", raising=False)
    argv = ["--recording", str(rec_path), "--out", str(out), "--windows", "50,1000", "--gem5", ""]
    assert bench.main(argv) == 0  # both replays finished: no gem5 needed
    first = (out / "sampling.csv").read_bytes()
    assert bench.main(argv) == 0
    assert (out / "sampling.csv").read_bytes() == first and (out / "sampling.md").exists()
    table = pd.read_csv(out / "sampling.csv").set_index("quantity")
    assert table.loc["LLC latency fed back", "mean_rel_error"] == pytest.approx(0.05)
    assert list(table["window_us"].unique()) == [50]
    command = bench.gem5_command("gem5.opt", rec_path, 200, 3, out, tmp_path / "work")
    assert command[:3] == ["nice", "-n", "5"] and command[-2:] == ["--epochs", "3"]
    assert "--lead-in-us" not in command and "--system" not in command
    warmed = bench.gem5_command("gem5.opt", rec_path, 50, None, out, tmp_path / "work", 100, "s.yaml")
    assert warmed[warmed.index("--lead-in-us") + 1] == "100" and warmed[warmed.index("--system") + 1] == "s.yaml"
    assert warmed[warmed.index("--out") + 1] == str(out / "replay-50us-lead100us.parquet")
    assert bench.Scheme.parse(" 50+100 ") == bench.Scheme(50, 100) and bench.Scheme.parse("200").lead_in_us == 0
    assert bench.Scheme(50, 100).gem5_us == 150 and bench.Scheme(200).name == "200us"
    for bad in ("50+x", "0", "50+-1"):
        with pytest.raises(ConfigError, match="windows"):
            bench.Scheme.parse(bad)
    with pytest.raises(Exception, match="no gem5"):
        bench.main(["--recording", str(rec_path), "--out", str(out), "--windows", "200,1000", "--gem5", ""])
    # a full-length replay cut short after 2 epochs: not finished, but tabulated over the epochs it holds
    write_replay(bench.replay_path(out, 1000), full[:2 * system.thermal.substeps], recording, 1e-3,
                 {**replay_source(rec_path, recording, 1000, None), "epochs_done": 2})
    assert not bench.finished(bench.replay_path(out, 1000), replay_source(rec_path, recording, 1000, None))
    assert bench.main([*argv, "--table-only"]) == 0
    table = pd.read_csv(out / "sampling.csv").set_index("quantity")
    assert (table["epochs"] == 2).all() and table.loc["LLC latency fed back", "mean_rel_error"] == pytest.approx(0.05)
    instructions = table.loc["instructions retired in the next epoch (interval model)"]
    assert instructions["n"] == 2 * workload.n_threads  # epochs 1 and 2, with the latencies of epochs 0 and 1
    assert bench.main([*argv, "--table-only", "--reference-us", "50"]) == 0  # 1000 us against 50 us: consistency
    versus = pd.read_csv(out / "sampling-vs-50us.csv").set_index("quantity")
    assert list(versus["window_us"].unique()) == [1000]
    assert versus.loc["LLC latency fed back", "mean_rel_error"] == pytest.approx(1 - 1 / 1.05)
    with pytest.raises(ConfigError, match="only the full-length replay"):  # nothing to compare it with
        bench.main([*argv[:4], "--windows", "1000", "--gem5", "", "--table-only"])


def test_replay_script_imports_nothing_from_gem5_at_module_level():
    script = REPO / "gem5_configs" / "replay_traffic.py"
    spec = importlib.util.spec_from_file_location("replay_traffic_module", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert callable(module.main) and "m5" not in sys.modules


def _gem5_binary() -> str | None:
    return os.environ.get("GEM5") or shutil.which("gem5.opt")


@pytest.mark.skipif(_gem5_binary() is None, reason="gem5.opt is not on PATH and GEM5 is unset")
@pytest.mark.parametrize("lead_in", ["0", "10"])
def test_real_gem5_replay_at_the_recorded_window_reproduces_the_closed_loop(tmp_path, lead_in):
    """gem5 is deterministic: the recorded steps, replayed open loop at the recorded window (and lead-in) after the
    same warm-up, make gem5 measure exactly what it measured in the closed loop."""
    env = {**os.environ, "AILFM_SITE_PACKAGES": next(str(p) for p in sys.path if p.endswith("site-packages"))}
    recording = tmp_path / "rec.parquet"
    command = [_gem5_binary(), "-d", str(tmp_path / "m5out"), str(REPO / "gem5_configs" / "run_ailfm.py"),
               "--system", str(SMOKE_SYSTEM), "--workload", "gpt2-xl", "--governor", "ondemand", "--epochs", "2",
               "--requests", "1", "--instances", "1", "--threads", "4", "--lengths", "fixed:8,2",
               "--window-us", "20", "--warm-us", "20", "--lead-in-us", lead_in, "--out", str(tmp_path / "run"),
               "--record-traffic", str(recording)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    assert done.returncode == 0, done.stderr[-3000:]
    replayed = tmp_path / "replay.parquet"
    command = [_gem5_binary(), "-d", str(tmp_path / "m5out-replay"), str(REPO / "gem5_configs" / "replay_traffic.py"),
               "--recording", str(recording), "--window-us", "20", "--lead-in-us", lead_in, "--out", str(replayed)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    assert done.returncode == 0, done.stderr[-3000:]
    closed = pd.read_parquet(tmp_path / "run" / "gem5_epochs.parquet")
    counters = read_replay(replayed).counters
    assert len(counters) == closed["epoch"].nunique()
    for step, c in enumerate(counters):
        rows = closed[closed["epoch"] == step].sort_values("tile")
        np.testing.assert_array_equal(c.hit_requests, rows["llc_requests"])
        np.testing.assert_array_equal(c.miss_requests, rows["dram_requests"])


FAKE_GEM5 = '''#!{python}
"""Stands in for gem5.opt in the bench's process pool: runs replay_traffic.py's replay on a backend that counts."""
import sys
from pathlib import Path

import numpy as np

from ailfm.gem5_configs.epoch import AddressMap, EpochCounters
from ailfm.gem5_configs.sampling import prepare_replay, replay, write_replay

argv = sys.argv[sys.argv.index("--recording"):]
with open(Path(argv[argv.index("--out") + 1]).with_suffix(".ran"), "a") as log:
    log.write("ran\\n")
run = prepare_replay(argv)


class Counting:
    def run_epoch(self, traffic, ticks):
        hits = np.array([sum(s.requests for s in t.resident) for t in traffic], dtype=float)
        misses = np.array([sum(s.requests for s in t.streamed) for t in traffic], dtype=float)
        return EpochCounters(hits, hits * 40e3, misses, misses * 120e3, np.full(run.system.n_banks, hits.sum()),
                             np.zeros(run.system.n_banks), hits + misses, 1.0)


amap = AddressMap.for_system(run.system, run.recording.n_threads)
replay(run.recording, Counting(), amap, run.system.n_cores, run.window_s, run.source["epochs"],
       on_epoch=lambda c, done: write_replay(run.args.out, c, run.recording, run.window_s,
                                             {{**run.source, "epochs_done": done}}),
       lead_in_s=run.args.lead_in_us * 1e-6)
'''


def test_the_bench_runs_each_window_once_in_its_process_pool(tmp_path, system, thermal, workload):
    recorder = TrafficRecorder(_info(system))
    _closed_loop(system, thermal, workload, epochs=2, recorder=recorder)
    rec_path = write_recording(tmp_path / "rec.parquet", recorder)
    fake = tmp_path / "gem5.opt"
    fake.write_text(FAKE_GEM5.format(python=sys.executable))
    fake.chmod(0o755)
    out = tmp_path / "out"
    argv = ["--recording", str(rec_path), "--out", str(out), "--work", str(tmp_path / "work"), "--gem5", str(fake),
            "--windows", "50,200,1000,50+20"]
    for _ in range(2):  # the second run resumes: nothing runs again
        done = subprocess.run([sys.executable, str(BENCH), *argv], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    for name in ("50us", "200us", "1000us", "50us-lead20us"):
        assert (out / f"replay-{name}.ran").read_text() == "ran\n"
    assert read_replay(out / "replay-50us-lead20us.parquet").source["lead_in_s"] == pytest.approx(2e-5)
    table = pd.read_csv(out / "sampling.csv")
    schemes = sorted(set(zip(table["window_us"], table["lead_in_us"], strict=True)))
    assert schemes == [(50, 0), (50, 20), (200, 0)] and (table["epochs"] == 2).all()
    # the counting stand-in answers the same latency whatever the load: the lead-in changes no fed-back latency
    dram = table[table["quantity"].str.startswith("DRAM latency fed back")]
    assert (dram["mean_rel_error"] == 0).all()
    timing = pd.read_csv(out / "timing.csv")
    assert sorted(timing["gem5_us_per_epoch"]) == [50, 70, 200, 1000] and (timing["wall_s"] > 0).all()
