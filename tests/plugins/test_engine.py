"""The built-in engine's performance model: frequency, memory-boundness, barriers, actuation costs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ailfm.plugins.engine.builtin import BuiltinEngine
from ailfm.plugins.engine.workload import synthetic_workload


def _finish_time(system, workload, f_GHz, max_epochs=20000):
    engine = BuiltinEngine(system, workload)
    engine.actuate(np.full(system.n_cores, f_GHz), np.arange(workload.n_threads))
    for _ in range(max_epochs):
        activity = engine.advance(1e-4)
        if engine.done:
            return float(activity.finish_times_s.max())
    raise AssertionError("did not finish")


@pytest.mark.parametrize("first", ["gemm", "gemv"])
def test_higher_frequency_never_slows_a_thread(system, gemm_like, gemv_like, first):
    kernel = gemm_like if first == "gemm" else gemv_like
    workload = synthetic_workload([kernel, gemv_like], repeat=20)
    times = [_finish_time(system, workload, f) for f in system.dvfs.levels_GHz[::5]]
    assert all(later <= earlier + 1e-12 for earlier, later in zip(times, times[1:], strict=False))


def test_progress_per_epoch_grows_with_frequency(system, gemm_like, gemv_like):
    workload = synthetic_workload([gemm_like, gemv_like], repeat=200)
    done = []
    for f in system.dvfs.levels_GHz[::3]:
        engine = BuiltinEngine(system, workload)
        engine.actuate(np.full(system.n_cores, f), np.arange(workload.n_threads))
        done.append(engine.advance(1e-3).thread_instructions)
    assert np.all(np.diff(np.array(done), axis=0) >= -1e-6)


def test_memory_bound_kernels_gain_less_from_frequency_than_gemm(system):
    from ailfm.traces import load_kernel_profiles

    profiles = {p.kernel.value if hasattr(p.kernel, "value") else str(p.kernel): p
                for p in load_kernel_profiles().values()}

    def kernel(name):
        p = profiles[name]
        return {"instructions": 1e6, "llc_accesses": 1e3 * p.llc_apki, "dram_misses": 1e3 * p.dram_mpki_warm,
                "base_cpi": p.base_cpi, "activity": p.activity, "kernel_type": name}

    speedup = {}
    for name in ("gemm", "gemv"):
        workload = synthetic_workload([kernel(name)], repeat=5)
        speedup[name] = _finish_time(system, workload, 1.0) / _finish_time(system, workload, 4.0)
    assert 1.0 < speedup["gemv"] < speedup["gemm"] <= 4.0


def test_a_kernel_ends_when_its_slowest_thread_does(system, gemm_like):
    workload = synthetic_workload([gemm_like], instances=1, repeat=50)
    fast = _finish_time(system, workload, 4.0)
    engine = BuiltinEngine(system, workload)
    f = np.full(system.n_cores, 4.0)
    f[3] = 1.0  # one thread of the instance on a slow core
    engine.actuate(f, np.arange(workload.n_threads))
    while not engine.done:
        activity = engine.advance(1e-3)
    slow = float(activity.finish_times_s.max())
    assert slow == pytest.approx(_finish_time(system, workload, 1.0), rel=0.05) and slow > 2 * fast


def test_migration_and_dvfs_transitions_cost_time(system, gemm_like):
    workload = synthetic_workload([gemm_like], repeat=500)
    progress = {}
    for case in ("steady", "migrate", "retune"):
        engine = BuiltinEngine(system, workload)
        placement = np.arange(workload.n_threads)
        engine.actuate(np.full(system.n_cores, 3.0), placement)
        engine.advance(1e-3)
        f = np.full(system.n_cores, 3.0)
        if case == "migrate":
            placement = placement.copy()
            placement[0] = 63
        if case == "retune":
            f[0] = 3.1
        engine.actuate(f, placement)
        progress[case] = engine.advance(1e-4).thread_instructions[0]
        if case == "migrate":
            assert engine.migrations == 1
    assert progress["migrate"] < progress["steady"] and progress["retune"] < progress["steady"] * 1.04


def test_gated_core_stalls_its_instance_only(system, gemm_like):
    workload = synthetic_workload([gemm_like], repeat=500)
    engine = BuiltinEngine(system, workload)
    f = np.full(system.n_cores, 4.0)
    f[0] = 0.0
    engine.actuate(f, np.arange(workload.n_threads))
    activity = engine.advance(1e-3)
    per_instance = activity.thread_instructions.reshape(3, 16)
    assert per_instance[0, 0] == 0 and per_instance[1].min() > 0
    assert np.all(per_instance[0, 1:] <= gemm_like["instructions"] + 1e-6)  # the others wait at the first barrier


def test_requests_do_not_start_before_they_arrive(system, gemm_like):
    workload = synthetic_workload([gemm_like], repeat=5, arrival_s=2e-3)
    engine = BuiltinEngine(system, workload)
    engine.actuate(np.full(system.n_cores, 4.0), np.arange(workload.n_threads))
    assert engine.advance(1e-3).thread_instructions.sum() == 0
    assert engine.advance(1e-3).thread_instructions.sum() == 0
    assert engine.advance(1e-3).thread_instructions.sum() > 0


def test_every_instruction_of_the_trace_is_executed(system, tiny_trace_workload):
    w = tiny_trace_workload
    engine = BuiltinEngine(system, w)
    engine.actuate(np.full(system.n_cores, 4.0), np.arange(w.n_threads))
    executed = 0.0
    while not engine.done:
        executed += engine.advance(1e-3).thread_instructions.sum()
    expected = float((w.instructions * w.active_threads).sum())
    assert executed == pytest.approx(expected, rel=1e-9)


@settings(max_examples=15, deadline=None)
@given(instructions=st.floats(1e3, 1e6), llc=st.floats(0, 5e4), dram=st.floats(0, 5e4), cpi=st.floats(0.2, 3.0),
       f_low=st.sampled_from([1.0, 1.5, 2.2, 3.1]), step=st.sampled_from([0.1, 0.5, 1.0]))
def test_higher_frequency_never_slows_any_kernel(system, instructions, llc, dram, cpi, f_low, step):
    """Property: for any kernel characterisation, raising every core's f never lowers any thread's progress."""
    kernel = {"instructions": instructions, "llc_accesses": llc, "dram_misses": dram, "base_cpi": cpi,
              "activity": 0.5, "kernel_type": "k"}
    workload = synthetic_workload([kernel], instances=1, threads=4, repeat=200)
    progress = []
    for f in (f_low, min(f_low + step, 4.0)):
        engine = BuiltinEngine(system, workload)
        engine.actuate(np.full(system.n_cores, f), np.arange(workload.n_threads))
        progress.append(sum(engine.advance(1e-4).thread_instructions.sum() for _ in range(3)))
    assert progress[1] >= progress[0] * (1 - 1e-12)


def test_restoring_a_snapshot_replays_the_same_steps(system, gemm_like, gemv_like):
    """The engine's whole state is its ``EngineState``: after ``restore`` the same actions give the same steps."""
    engine = BuiltinEngine(system, synthetic_workload([gemm_like, gemv_like], repeat=50))
    rng = np.random.default_rng(1)
    engine.actuate(np.full(system.n_cores, 3.0), np.arange(engine.n_threads))
    engine.advance(1e-3)
    snapshot = engine.snapshot()
    actions = [(rng.choice(system.dvfs.levels_GHz, system.n_cores), rng.permutation(system.n_cores)[:engine.n_threads])
               for _ in range(3)]

    def replay():
        runs = []
        for f, placement in actions:
            engine.actuate(f, placement)
            activity = engine.advance(1e-3)
            runs.append((activity.thread_instructions.copy(), activity.core_activity.copy(), engine.time_s))
        return runs

    first = replay()
    assert engine.time_s > snapshot.time_s[0] and engine.migrations > 0
    engine.restore(snapshot)
    assert engine.migrations == 0 and engine.time_s == snapshot.time_s[0]
    for (a, b, t), (c, d, u) in zip(first, replay(), strict=True):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
        assert t == u
