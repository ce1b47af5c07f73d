"""The co-simulation loop in a worker thread, served window by window as gem5's Simulator serves it (without gem5).

``serve`` does what ``components/backend.run_on_simulator`` does at each scheduled exit, with the stand-in backend of
conftest.py in gem5's place.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from ailfm.errors import ToolError
from ailfm.gem5_configs.clock_domains import perf_levels
from ailfm.gem5_configs.epoch import StatPaths, TileTraffic, read_fractions
from ailfm.gem5_configs.windows import LoopThread, window_counters
from ailfm.plugins.engine.gem5 import Gem5Engine, JitteredBackend
from ailfm.plugins.epoch.cosim import CoSimulation
from ailfm.plugins.governors.registry import make_governor
from ailfm.traces import load_model_config


def serve(loop: LoopThread, gem5) -> list:
    """The main thread's part: every window the loop asks for, answered by ``gem5.run_epoch``."""
    windows = []
    window = loop.start()
    while window is not None:
        windows.append(window)
        window = loop.reply(gem5.run_epoch(window.traffic, window.ticks))
    return windows


def _cosimulation(system, thermal, workload, backend, governor="ondemand", epochs=3):
    fractions = read_fractions(load_model_config("gpt2-xl"), workload.kernel_type_names)
    engine = Gem5Engine(system, workload, backend, fractions)
    sim = CoSimulation(system, engine, thermal, make_governor(governor), thread_instance=workload.thread_instance,
                       kernel_type_names=workload.kernel_type_names, request_arrival_s=workload.request_arrival_s)
    return engine, sim.run(duration_s=epochs * system.thermal.epoch_s)


def test_the_loop_in_a_thread_gives_what_a_direct_call_gives(system, thermal, workload, stand_in_backend):
    _, direct = _cosimulation(system, thermal, workload, stand_in_backend(system))
    gem5 = stand_in_backend(system)
    loop = LoopThread(lambda backend: _cosimulation(system, thermal, workload, backend))
    windows = serve(loop, gem5)
    engine, threaded = loop.result()
    assert len(windows) == len(engine.counters) == 3 * system.thermal.substeps
    timed = {"compile_s", "governor_us_per_decision", "sim_speed_x_realtime"}  # wall-clock figures
    for key in set(direct.summary) - timed:
        np.testing.assert_equal(threaded.summary[key], direct.summary[key], err_msg=key)
    assert threaded.timeline().equals(direct.timeline())
    assert all(w.level_changes == {} for w in windows)  # no levels_of: the domains never move


def test_domains_follow_the_tiles_frequency_and_only_changes_are_sent(system, thermal, workload, stand_in_backend):
    loop = LoopThread(lambda backend: _cosimulation(system, thermal, workload, JitteredBackend(backend, 0.5),
                                                    governor="ondemand", epochs=4), partial(perf_levels, system))
    windows = serve(loop, stand_in_backend(system))
    engine, result = loop.result()
    levels = np.zeros(system.n_cores, dtype=int)  # gem5's domains start at level 0 (f_max)
    for epoch, window in enumerate(windows):
        for tile, level in window.level_changes.items():
            assert levels[tile] != level  # only tiles whose level changes
            levels[tile] = level
        if (epoch + 1) % system.thermal.substeps == 0:  # the last sub-step of an epoch: compare with the timeline
            row = result.timeline().query(f"epoch == {epoch // system.thermal.substeps}")
            np.testing.assert_array_equal(levels, perf_levels(system, row["f_effective_GHz"].to_numpy()))
    assert sum(len(w.level_changes) for w in windows) > 0  # ondemand moved some tile off f_max


def test_an_error_in_the_loop_ends_the_simulation_and_is_raised(system, stand_in_backend):
    def body(backend):
        backend.run_epoch([TileTraffic.idle(1000)] * system.n_cores, 1000)
        raise ValueError("governor failed")

    loop = LoopThread(body)
    assert len(serve(loop, stand_in_backend(system))) == 1  # one window, then no more
    with pytest.raises(ValueError, match="governor failed"):
        loop.result()


def test_a_gem5_failure_reaches_the_loop_and_ends_it():
    seen = []

    def body(backend):
        try:
            backend.run_epoch([], 1000)
        except ToolError as err:
            seen.append(err)
            raise

    loop = LoopThread(body)
    assert loop.start() is not None
    failure = ToolError("gem5 stopped before the end of the window: user interrupt received (code 0)")
    loop.abort(failure)
    assert seen == [failure]
    with pytest.raises(ToolError, match="user interrupt"):
        loop.result()


def _dump(values: dict) -> str:
    lines = [f"{name:60s} {value}  # made up" for name, value in values.items()]
    return "\n---------- Begin Simulation Statistics ----------\n" + "\n".join(lines) + \
        "\n---------- End Simulation Statistics   ----------\n"


def test_a_window_spanning_several_dumps_adds_them_up():
    """A DVFS transition dumps and resets gem5's statistics mid-window; the window's counters are the sum."""
    paths = StatPaths(resident_generators=("r0", "r1"), streamed_generators=("s0", "s1"), l2_caches=("l2",),
                      routers=("rt0", "rt1"), network="net")

    def values(reads, latency, flits, packet_latency):
        out = {}
        for g in ("r0", "r1", "s0", "s1"):
            out |= {f"{g}.totalReads": reads, f"{g}.totalWrites": 1, f"{g}.totalReadLatency": latency,
                    f"{g}.totalWriteLatency": 0}
        return out | {"l2.m_demand_hits": 5, "l2.m_demand_misses": 2, "rt0.crossbar_activity": flits,
                      "rt1.crossbar_activity": flits, "net.average_packet_latency": packet_latency}

    one = window_counters(_dump(values(10, 1000, 30, 4000)), paths)
    both = window_counters(_dump(values(10, 1000, 30, 4000)) + _dump(values(3, 600, 10, 8000)), paths)
    np.testing.assert_array_equal(one.hit_requests, [11, 11])
    np.testing.assert_array_equal(both.hit_requests, [15, 15])
    np.testing.assert_array_equal(both.miss_latency_ticks, [1600, 1600])
    np.testing.assert_array_equal(both.bank_accesses, [14]) and np.testing.assert_array_equal(both.router_flits,
                                                                                               [40, 40])
    assert both.network_latency_ticks == pytest.approx((4000 * 60 + 8000 * 20) / 80)  # weighted by flits
    with pytest.raises(ToolError, match="no statistics dump"):
        window_counters("", paths)
