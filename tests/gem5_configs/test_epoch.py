"""Trace -> generator states, rate scaling with V/f, the tile queues and the stats reader (all without gem5)."""

from __future__ import annotations

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
    counters_from_stats,
    kernel_duration_s,
    kernel_states,
    last_stats_block,
    parse_stats_block,
    read_fractions,
    thread_states,
)
from ailfm.plugins.system import load_system
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
    states = thread_states(amap, 3, cursor, llc_accesses=10_000, dram_misses=2_500, busy_s=0.6e-3, epoch_s=1e-3,
                           read_fraction=0.8)
    linear = _linear(states)
    assert sum(s.requests for s in linear) == 10_000
    lo, hi = amap.streamed(3)
    assert sum(s.requests for s in linear if lo <= s.min_addr < hi) == 2_500
    rlo, rhi = amap.resident(3)
    assert all(rlo <= s.min_addr and s.max_addr <= rhi or lo <= s.min_addr and s.max_addr <= hi for s in linear)
    assert {s.read_percent for s in linear} == {80}
    assert sum(s.duration_ticks for s in states) == 1e-3 * TICKS_PER_S  # the epoch exactly
    busy = sum(s.duration_ticks for s in linear)
    assert busy == pytest.approx(0.6e-3 * TICKS_PER_S, rel=1e-3)  # requests spread over the busy time
    assert states[-1].kind == "idle"
    # the sweeps continue where they stopped
    assert cursor.stream == 2_500 * 64 % amap.stream_bytes and cursor.resident == 7_500 * 64 % amap.resident_bytes
    again = _linear(thread_states(amap, 3, cursor, llc_accesses=100, dram_misses=0, busy_s=1e-4, epoch_s=1e-3,
                                  read_fraction=1.0))
    assert again[0].min_addr == rlo + 7_500 * 64 % amap.resident_bytes


def test_a_sweep_wraps_inside_its_region(amap):
    lines = amap.resident_bytes // 64
    cursor = ThreadCursor(resident=(lines - 10) * 64)
    linear = _linear(thread_states(amap, 0, cursor, llc_accesses=25, dram_misses=0, busy_s=1e-5, epoch_s=1e-3,
                                   read_fraction=1.0, chunks=1))
    lo, hi = amap.resident(0)
    assert [(s.min_addr, s.max_addr) for s in linear] == [(hi - 640, hi), (lo, lo + 15 * 64)]
    assert cursor.resident == 15 * 64


def test_idle_thread_and_migration_refill(amap, system):
    idle = thread_states(amap, 0, ThreadCursor(), llc_accesses=0, dram_misses=0, busy_s=0, epoch_s=1e-3,
                         read_fraction=1)
    assert idle == [GeneratorState("idle", TICKS_PER_S // 1000)]
    cursor = ThreadCursor(resident=amap.resident_bytes // 2)
    refill = system.core.private_working_set_bytes
    states = thread_states(amap, 1, cursor, llc_accesses=1000, dram_misses=0, busy_s=1e-4, epoch_s=1e-3,
                           read_fraction=0.5, refill_bytes=refill)
    first = states[0]
    lo, _ = amap.resident(1)
    # the refill re-reads the lines the thread used last, just before its resident cursor, before anything else
    assert first.read_percent == 100 and first.max_addr == lo + amap.resident_bytes // 2
    assert first.requests == refill // 64
    assert sum(s.requests for s in _linear(states)) == 1000 + refill // 64


def test_higher_frequency_raises_the_request_rate_less_for_memory_bound_kernels(amap):
    rows = {"instructions_per_thread": [1e6, 1e6], "base_cpi": [0.5, 0.5],
            "llc_accesses_per_thread": [2e3, 6e4], "dram_misses_per_thread": [0, 5e4]}
    slow = kernel_duration_s(*rows.values(), f_GHz=1.0, llc_latency_ns=20, dram_latency_ns=90, mlp=2)
    fast = kernel_duration_s(*rows.values(), f_GHz=4.0, llc_latency_ns=20, dram_latency_ns=90, mlp=2)
    speedup = slow / fast
    assert np.all(fast < slow) and speedup[0] > 3 and speedup[1] < 1.2

    def periods(f_GHz):
        states = kernel_states(rows, f_GHz, 20, 90, 2, np.array([1.0, 0.9]), np.array([0, 1]), amap, 0,
                               ThreadCursor())
        return [s.period_ticks for s in _linear(states)]

    assert periods(4.0)[0] < periods(1.0)[0] / 3  # compute-bound kernel: ~f times the rate
    assert periods(4.0)[-1] > periods(1.0)[-1] / 1.2  # memory-bound kernel: nearly the same rate


def test_tile_queues_feed_lazily_and_never_run_dry():
    queues = TileQueues(2)
    a = [GeneratorState("linear", 640, 0, 640, 64, 64, 100)]
    queues.push([a, []])
    first, second = queues.stream(0), queues.stream(1)
    assert next(first) == a[0]
    assert next(first) == GeneratorState("idle", IDLE_QUANTUM_TICKS)  # empty: short idles until the next push
    queues.push([[], a])
    assert next(second) == a[0] and queues.pending(1) == 0
    with pytest.raises(ValueError):
        queues.push([a])


def test_read_fractions_come_from_the_decomposition():
    model = load_model_config("llama-2-7b")
    names = [KernelType.GEMV.value, KernelType.SOFTMAX.value, KernelType.KV_APPEND.value]
    fractions = read_fractions(model, names)
    assert np.all((fractions > 0) & (fractions <= 1))
    assert fractions[0] > 0.95  # a GEMV reads a whole weight matrix and writes one vector
    assert fractions[2] < fractions[0]  # appending to the KV cache is mostly writes


STATS = """
---------- Begin Simulation Statistics ----------
simSeconds                                   0.000100                       # Number of seconds simulated (Second)
board.processor.cores0.generator.totalReads          800                       # Total num of reads (Count)
board.processor.cores0.generator.totalWrites         200                       # Total num of writes (Count)
board.processor.cores0.generator.totalReadLatency     16000000                       # Total latency (Tick)
board.processor.cores0.generator.totalWriteLatency    4000000                       # Total latency (Tick)
board.processor.cores1.generator.totalReads             0                       # (Count)
board.processor.cores1.generator.totalWrites            0                       # (Count)
board.processor.cores1.generator.totalReadLatency       0                       # (Tick)
board.processor.cores1.generator.totalWriteLatency      0                       # (Tick)
board.processor.cores1.generator.avgReadLatency       nan                       # (Tick/Count)
board.cache_hierarchy.ruby_system.l2_controllers0.L2cache.m_demand_hits          900                       # hits
board.cache_hierarchy.ruby_system.l2_controllers0.L2cache.m_demand_misses        100                       # misses
board.cache_hierarchy.ruby_system.network.routers0.crossbar_activity      5000                       # activity
board.cache_hierarchy.ruby_system.network.average_packet_latency      12345.5                       # latency
board.cache_hierarchy.ruby_system.network.packets_received::vnet-0          7                       # per vnet

---------- End Simulation Statistics   ----------
"""

PATHS = StatPaths(generators=("board.processor.cores0.generator", "board.processor.cores1.generator"),
                  l2_caches=("board.cache_hierarchy.ruby_system.l2_controllers0.L2cache",
                             "board.cache_hierarchy.ruby_system.l2_controllers1.L2cache"),
                  routers=("board.cache_hierarchy.ruby_system.network.routers0",),
                  network="board.cache_hierarchy.ruby_system.network")


def test_stats_dump_to_epoch_counters():
    text = "old dump\n" + STATS.replace("800", "1") + STATS
    stats = parse_stats_block(last_stats_block(text))
    assert stats["board.cache_hierarchy.ruby_system.network.packets_received::vnet-0"] == 7
    counters = counters_from_stats(stats, PATHS)
    assert isinstance(counters, EpochCounters)
    np.testing.assert_array_equal(counters.tile_requests, [1000, 0])
    np.testing.assert_allclose(counters.tile_latency_ns(np.array([99.0, 42.0])), [20.0, 42.0])  # 20000 ticks = 20 ns
    np.testing.assert_array_equal(counters.bank_accesses, [1000, 0])  # bank 1 printed nothing (nozero): 0
    np.testing.assert_array_equal(counters.bank_misses, [100, 0])
    assert counters.router_flits.tolist() == [5000] and counters.network_latency_ticks == 12345.5


def test_missing_generator_stat_names_it():
    stats = parse_stats_block(STATS)
    del stats["board.processor.cores1.generator.totalWrites"]
    with pytest.raises(ToolError, match="cores1.generator.totalWrites"):
        counters_from_stats(stats, PATHS)
    with pytest.raises(ToolError, match="no statistics dump"):
        last_stats_block("")
