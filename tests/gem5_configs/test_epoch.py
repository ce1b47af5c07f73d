"""Trace -> generator states, rate scaling with V/f, the tile queues and the stats reader (all without gem5)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from ailfm.errors import ToolError
from ailfm.gem5_configs.epoch import (
    IDLE_QUANTUM_TICKS,
    TICKS_PER_S,
    AddressMap,
    EpochCounters,
    GeneratorState,
    StatPaths,
    ThreadCursor,
    TileQueues,
    TileTraffic,
    counters_from_stats,
    kernel_duration_s,
    kernel_traffic,
    last_stats_block,
    parse_stats_block,
    read_fractions,
    stats_text_path,
    thread_states,
)
from ailfm.plugins.system.description import load_system
from ailfm.traces import KernelType, load_model_config


@pytest.fixture(scope="module")
def system():
    return load_system("snuca-64")


@pytest.fixture(scope="module")
def amap(system):
    return AddressMap.for_system(system, n_threads=48)


def _linear(states):
    return [s for s in states if s.kind == "linear"]


def test_address_map_regions_are_disjoint_and_sized_for_their_role(system, amap):
    llc_bytes = system.n_banks * system.llc.bank_kib * 1024
    assert amap.resident_bytes > system.core.private_working_set_bytes  # a sweep always misses the private caches
    assert amap.resident_bytes <= llc_bytes / 48  # ... and fits the thread's share of the LLC
    assert amap.stream_bytes > llc_bytes  # a streamed line is gone before the sweep comes back
    spans = sorted([amap.resident(t) for t in range(48)] + [amap.streamed(t) for t in range(48)])
    assert all(a[1] <= b[0] for a, b in zip(spans[:-1], spans[1:], strict=True))
    assert spans[-1][1] == amap.total_bytes <= amap.memory_bytes()
    assert amap.memory_bytes() & (amap.memory_bytes() - 1) == 0


def test_states_carry_the_epochs_accesses_misses_and_mix(amap):
    cursor = ThreadCursor()
    traffic = thread_states(amap, 3, cursor, llc_accesses=10_000, dram_misses=2_500, busy_s=0.6e-3, epoch_s=1e-3,
                            read_fraction=0.8)
    resident, streamed = _linear(traffic.resident), _linear(traffic.streamed)
    assert sum(s.requests for s in resident) == 7_500 and sum(s.requests for s in streamed) == 2_500
    rlo, rhi = amap.resident(3)
    slo, shi = amap.streamed(3)
    assert all(rlo <= s.min_addr < s.max_addr <= rhi for s in resident)
    assert all(slo <= s.min_addr < s.max_addr <= shi for s in streamed)
    assert {s.read_percent for s in resident + streamed} == {80}
    for states, linear in ((traffic.resident, resident), (traffic.streamed, streamed)):
        assert sum(s.duration_ticks for s in states) == 1e-3 * TICKS_PER_S  # the epoch exactly
        busy = sum(s.duration_ticks for s in linear)  # requests spread over the busy time
        assert busy == pytest.approx(0.6e-3 * TICKS_PER_S, rel=1e-3)
        assert states[-1].kind == "idle"
    # the sweeps continue where they stopped
    assert cursor.stream == 2_500 * 64 and cursor.resident == 7_500 * 64 % amap.resident_bytes
    again = thread_states(amap, 3, cursor, llc_accesses=100, dram_misses=0, busy_s=1e-4, epoch_s=1e-3,
                          read_fraction=1.0)
    assert again.resident[0].min_addr == rlo + 7_500 * 64 % amap.resident_bytes
    assert again.streamed == (GeneratorState("idle", TICKS_PER_S // 1000),)


def test_a_sweep_wraps_inside_its_region(amap):
    lines = amap.resident_bytes // 64
    cursor = ThreadCursor(resident=(lines - 10) * 64)
    linear = _linear(thread_states(amap, 0, cursor, llc_accesses=25, dram_misses=0, busy_s=1e-5, epoch_s=1e-3,
                                   read_fraction=1.0).resident)
    lo, hi = amap.resident(0)
    assert [(s.min_addr, s.max_addr) for s in linear] == [(hi - 640, hi), (lo, lo + 15 * 64)]
    assert cursor.resident == 15 * 64


def test_states_gem5_would_misread_are_rejected():
    for bad in (dict(kind="idle", duration_ticks=0), dict(kind="linear", duration_ticks=10, period_ticks=0),
                dict(kind="linear", duration_ticks=10, min_addr=64, max_addr=64, period_ticks=1),
                dict(kind="random", duration_ticks=10)):
        with pytest.raises(ValueError):
            GeneratorState(**bad)


def test_idle_thread_and_migration_refill(amap, system):
    idle = thread_states(amap, 0, ThreadCursor(), llc_accesses=0, dram_misses=0, busy_s=0, epoch_s=1e-3,
                         read_fraction=1)
    assert idle == TileTraffic.idle(TICKS_PER_S // 1000)
    cursor = ThreadCursor(resident=amap.resident_bytes // 2)
    refill = system.core.private_working_set_bytes
    traffic = thread_states(amap, 1, cursor, llc_accesses=1000, dram_misses=0, busy_s=1e-4, epoch_s=1e-3,
                            read_fraction=0.5, refill_bytes=refill)
    first = traffic.resident[0]
    lo, _ = amap.resident(1)
    # the refill re-reads the lines the thread used last, just before its resident cursor, before anything else
    assert first.read_percent == 100 and first.max_addr == lo + amap.resident_bytes // 2
    assert first.requests == refill // 64
    assert sum(s.requests for s in _linear(traffic.resident)) == 1000 + refill // 64


def test_higher_frequency_raises_the_request_rate_less_for_memory_bound_kernels(amap):
    rows = {"instructions_per_thread": [1e6, 1e6], "base_cpi": [0.5, 0.5],
            "llc_accesses_per_thread": [2e3, 6e4], "dram_misses_per_thread": [0, 5e4]}
    slow = kernel_duration_s(*rows.values(), f_GHz=1.0, llc_latency_ns=20, dram_latency_ns=90, mlp=2)
    fast = kernel_duration_s(*rows.values(), f_GHz=4.0, llc_latency_ns=20, dram_latency_ns=90, mlp=2)
    speedup = slow / fast
    assert np.all(fast < slow) and speedup[0] > 3 and speedup[1] < 1.2

    def periods(f_GHz):
        traffic = kernel_traffic(amap, 0, ThreadCursor(), instructions=rows["instructions_per_thread"],
                                 cpi=rows["base_cpi"], llc_accesses=rows["llc_accesses_per_thread"],
                                 dram_misses=rows["dram_misses_per_thread"], read_fraction=[1.0, 0.9], f_GHz=f_GHz,
                                 llc_latency_ns=20, dram_latency_ns=90, mlp=2)
        assert [t.resident[0].read_percent for t in traffic] == [100, 90]
        return [traffic[0].resident[0].period_ticks, traffic[1].streamed[0].period_ticks]

    assert periods(4.0)[0] < periods(1.0)[0] / 3  # compute-bound kernel: ~f times the rate
    assert periods(4.0)[1] > periods(1.0)[1] / 1.2  # memory-bound kernel: nearly the same rate
    waiting = kernel_traffic(amap, 1, ThreadCursor(), instructions=[1e6], cpi=[0.5], llc_accesses=[2e3],
                             dram_misses=[0], read_fraction=1.0, f_GHz=2.0, llc_latency_ns=20, dram_latency_ns=90,
                             mlp=2, active=[False])
    assert waiting[0] == TileTraffic.idle(waiting[0].resident[0].duration_ticks)  # idles through the kernel


def test_tile_queues_feed_lazily_and_never_run_dry():
    queues = TileQueues(2)
    a = GeneratorState("linear", 640, 0, 640, 64, 64, 100)
    b = GeneratorState("linear", 128, 640, 1280, 64, 64, 100)
    queues.push([TileTraffic((a,), (b,)), TileTraffic((), ())])
    first, first_streamed, second = queues.stream(0), queues.stream(0, streamed=True), queues.stream(1)
    assert next(first) == a and next(first_streamed) == b
    assert next(first) == GeneratorState("idle", IDLE_QUANTUM_TICKS)  # empty: short idles until the next push
    queues.push([TileTraffic((), ()), TileTraffic((a,), ())])
    assert next(second) == a and queues.pending(1) == 0
    with pytest.raises(ValueError):
        queues.push([TileTraffic((a,), ())])


def test_read_fractions_come_from_the_decomposition():
    model = load_model_config("llama-2-7b")
    names = [KernelType.GEMV.value, KernelType.SOFTMAX.value, KernelType.KV_APPEND.value]
    fractions = read_fractions(model, names)
    assert np.all((fractions > 0) & (fractions <= 1))
    assert fractions[0] > 0.95  # a GEMV reads a whole weight matrix and writes one vector
    assert fractions[2] < fractions[0]  # appending to the KV cache is mostly writes
    assert np.isnan(read_fractions(load_model_config("gpt2-xl"), ["rope"]))[0]  # GPT-2 has no rotary embedding


_GEN = "board.processor.cores{}.{}"
_STATS_LINES = ["simSeconds   0.000100   # Number of seconds simulated (Second)"]
for _tile, (_reads, _writes, _rlat, _wlat) in enumerate([(800, 200, 16_000_000, 4_000_000), (0, 0, 0, 0)]):
    for _gen, _scale in (("resident", 1), ("streamed", 5)):
        _STATS_LINES += [f"{_GEN.format(_tile, _gen)}.totalReads   {_reads}   # Total num of reads (Count)",
                         f"{_GEN.format(_tile, _gen)}.totalWrites   {_writes}   # Total num of writes (Count)",
                         f"{_GEN.format(_tile, _gen)}.totalReadLatency   {_rlat * _scale}   # (Tick)",
                         f"{_GEN.format(_tile, _gen)}.totalWriteLatency   {_wlat * _scale}   # (Tick)",
                         f"{_GEN.format(_tile, _gen)}.avgReadLatency   nan   # (Tick/Count)"]
_RUBY = "board.cache_hierarchy.ruby_system"
_STATS_LINES += [f"{_RUBY}.l2_controllers0.L2cache.m_demand_hits   900   # hits",
                 f"{_RUBY}.l2_controllers0.L2cache.m_demand_misses   100   # misses",
                 f"{_RUBY}.network.routers0.crossbar_activity   5000   # activity",
                 f"{_RUBY}.network.average_packet_latency   12345.5   # latency",
                 f"{_RUBY}.network.packets_received::vnet-0   7   # per vnet"]
STATS = ("\n---------- Begin Simulation Statistics ----------\n" + "\n".join(_STATS_LINES)
         + "\n\n---------- End Simulation Statistics   ----------\n")

PATHS = StatPaths(resident_generators=(_GEN.format(0, "resident"), _GEN.format(1, "resident")),
                  streamed_generators=(_GEN.format(0, "streamed"), _GEN.format(1, "streamed")),
                  l2_caches=(f"{_RUBY}.l2_controllers0.L2cache", f"{_RUBY}.l2_controllers1.L2cache"),
                  routers=(f"{_RUBY}.network.routers0",), network=f"{_RUBY}.network")


def test_stats_dump_to_epoch_counters():
    text = "old dump\n" + STATS.replace("   800   ", "   1   ") + STATS
    stats = parse_stats_block(last_stats_block(text))
    assert stats[f"{_RUBY}.network.packets_received::vnet-0"] == 7
    counters = counters_from_stats(stats, PATHS)
    assert isinstance(counters, EpochCounters)
    np.testing.assert_array_equal(counters.hit_requests, [1000, 0])
    np.testing.assert_allclose(counters.llc_latency_ns(np.array([99.0, 42.0])), [20.0, 42.0])  # 20000 ticks
    np.testing.assert_allclose(counters.miss_latency_ns(np.array([0.0, 7.0])), [100.0, 7.0])
    assert counters.dram_extra_ns(fallback_ns=-1.0) == pytest.approx(80.0)
    np.testing.assert_array_equal(counters.bank_accesses, [1000, 0])  # bank 1 printed nothing (nozero): 0
    np.testing.assert_array_equal(counters.bank_misses, [100, 0])
    assert counters.router_flits.tolist() == [5000] and counters.network_latency_ticks == 12345.5


def test_an_l2_controller_holding_several_banks_splits_its_counts_over_them():
    stats = parse_stats_block(STATS)
    merged = dataclasses.replace(PATHS, banks_per_l2=2)
    counters = counters_from_stats(stats, merged)
    np.testing.assert_array_equal(counters.bank_accesses, [500, 500, 0, 0])
    np.testing.assert_array_equal(counters.bank_misses, [50, 50, 0, 0])


def test_missing_generator_stat_names_it():
    stats = parse_stats_block(STATS)
    del stats[f"{_GEN.format(1, 'streamed')}.totalWrites"]
    with pytest.raises(ToolError, match="cores1.streamed.totalWrites"):
        counters_from_stats(stats, PATHS)
    with pytest.raises(ToolError, match="no statistics dump"):
        last_stats_block("")


def test_stats_file_location_follows_gem5s_option(tmp_path):
    assert stats_text_path("m5out", "stats.txt") == Path("m5out/stats.txt")
    assert stats_text_path("m5out", "text://epochs.txt?desc=False") == Path("m5out/epochs.txt")
    assert stats_text_path("m5out", str(tmp_path / "s.txt")) == tmp_path / "s.txt"
    with pytest.raises(ToolError, match="text statistics"):
        stats_text_path("m5out", "json://stats.json")


def test_generators_stay_on_the_epoch_grid_despite_reading_ahead():
    """Replay PyTrafficGen's consumption (it pulls the next state as soon as it takes one, pygen.cc) for 200 epochs
    pushed at the boundaries, with transitions at a boundary tick taken before the push (the worst order)."""
    epoch, quantum = 1_000_000, IDLE_QUANTUM_TICKS
    queues = TileQueues(1)
    states = queues.stream(0)
    current, ahead = next(states), next(states)  # start(): takes the first state and reads one ahead
    end, first_request = current.duration_ticks, {}
    for k in range(200):
        busy = GeneratorState("linear", epoch // 2, 64 * k, 64 * k + 64, 64, epoch // 2, 100)
        queues.push([TileTraffic((busy, GeneratorState("idle", epoch - epoch // 2)), ())])
        while end <= (k + 1) * epoch:
            start, current, ahead = end, ahead, next(states)
            end = start + current.duration_ticks
            if current.kind == "linear":
                first_request[current.min_addr // 64] = start
    late = np.array([first_request[k] - k * epoch for k in range(200)])
    assert late.min() >= 0 and late.max() <= 2 * quantum  # bounded: no drift accumulates
