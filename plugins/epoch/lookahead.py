"""Look-ahead from the loop's current state, batched over candidate actions: the handle look-ahead governors get.

A candidate is a (placement, per-core V/f) held for ``horizon`` epochs. Each starts from a copy of the engine's state
(``Engine.snapshot``, repeated along the candidate axis; a moved thread is charged the engine's migration cost),
the loop's DTM flags and core temperatures, and the linear thermal model's modal state, and all of them go through
the epoch model (``plugins/epoch/model.py``) in one compiled call, exactly as the loop would advance them: DTM at
every sub-step, progress and actuation costs, power with leakage feedback, the thermal step. It needs a thermal model
with the linear capability (``ailfm.thermal.base.LinearThermal``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ailfm.plugins.engine.base import Engine
from ailfm.plugins.epoch.chip_thermal import ThermalTwin
from ailfm.plugins.epoch.model import CHIP_FIELDS, CORE_FIELDS, chip_parameters, run_candidates, uncore_constants
from ailfm.plugins.system.description import SystemDescription
from ailfm.plugins.system.power import PowerModel
from ailfm.thermal.base import LinearThermal


@dataclass(frozen=True, eq=False)
class LoopState:
    """What the loop carries from one epoch to the next besides the engine and the thermal model (per core)."""

    temperature_K: np.ndarray
    throttled: np.ndarray
    gated: np.ndarray


@dataclass(frozen=True, eq=False)
class LookaheadResult:
    instructions: np.ndarray  # (n_candidates,) total instructions over the horizon: inference progress
    tokens: np.ndarray  # (n_candidates,)
    peak_core_K: np.ndarray  # (n_candidates,) hottest core temperature at any sub-step of the horizon
    epoch_end_peak_K: np.ndarray  # (n_candidates,) hottest core temperature at the end of an epoch of the horizon
    safe: np.ndarray  # (n_candidates,) at every epoch's end, every core below T_max and the DTM trigger minus the guard
    energy_J: np.ndarray  # (n_candidates,) chip energy (cores, routers, LLC) over the horizon
    thread_instructions: np.ndarray  # (n_candidates, n_threads) each thread's share of ``instructions``


class Lookahead:
    """Batched look-ahead from the loop's live state (see the module docstring).

    ``twin`` is one governor epoch of the chip's linear thermal model (for a governor's own linear predictions) and
    ``modes`` a copy of its current state; ``state()`` the loop's DTM flags and temperatures.
    """

    def __init__(self, system: SystemDescription, engine: Engine, thermal: LinearThermal, power: PowerModel,
                 substeps: int, loop_state: Callable[[], LoopState]):
        self.system, self.engine, self.thermal, self.substeps = system, engine, thermal, substeps
        self._loop_state = loop_state
        self.twin = ThermalTwin.of(system, thermal)
        self._step = ThermalTwin.of(system, thermal, system.thermal.epoch_s / substeps)
        self._chip_params = chip_parameters(system, substeps)
        self._core_constants, self._uncore_constants = power.constants, uncore_constants(system)

    def state(self) -> LoopState:
        return self._loop_state()

    @property
    def modes(self) -> np.ndarray:
        return self.thermal.modes.copy()

    def simulate(self, placements: np.ndarray, f_request_GHz: np.ndarray, horizon: int, guard_K: float = 0.0,
                 start: LoopState | None = None) -> LookaheadResult:
        """Hold each candidate's (placement, f) for ``horizon`` epochs; ``placements`` (N, n_threads), ``f`` (N,
        n_cores) already on the V/f grid. ``safe``: at every epoch's end (the governor's sampling points; within the
        first epoch the chip still carries the present, which no action undoes) every core is ``guard_K`` below T_max
        and the DTM trigger."""
        system, engine = self.system, self.engine
        placements = np.ascontiguousarray(placements, dtype=np.int64)
        n, n_cores, n_threads = len(placements), system.n_cores, engine.n_threads
        start = start or self.state()
        state = engine.snapshot().repeat(n)
        current = state.thread_core[0].copy()
        moved = (placements != current) & (current >= 0) & (placements >= 0)
        for k in np.flatnonzero(moved.any(axis=1)):
            threads = np.flatnonzero(moved[k])
            state.penalty_s[k].reshape(-1)[threads] += engine.migration_cost_s(placements[k, threads], threads)
        state.thread_core[:] = placements
        temperature = np.repeat(np.asarray(start.temperature_K, dtype=float)[None], n, axis=0)
        throttled = np.repeat(np.asarray(start.throttled, dtype=bool)[None], n, axis=0)
        gated = np.repeat(np.asarray(start.gated, dtype=bool)[None], n, axis=0)
        modes = np.repeat(self.thermal.modes[None], n, axis=0)
        tables, step = engine.tables, self._step
        out_chip = np.zeros((n, len(CHIP_FIELDS)))
        instructions, tokens, energy_J = np.zeros(n), np.zeros(n), np.zeros(n)
        out_thread, thread_instructions = np.zeros((4, n, n_threads)), np.zeros((n, n_threads))
        peak_C, end_peak_C = np.full(n, -np.inf), np.full(n, -np.inf)
        no_moves = np.zeros_like(moved)
        for epoch in range(horizon):  # one epoch per call (the state advances in place): energy needs every epoch
            run_candidates(
                1, self.substeps, np.ascontiguousarray(f_request_GHz, dtype=float), moved if epoch == 0 else no_moves,
                state.time_s, state.kernel, state.remaining, state.penalty_s, state.thread_core, state.f_GHz,
                state.llc_latency_ns, state.dram_latency_ns, state.traffic_llc, state.traffic,
                tables.kernel_table, tables.kernel_type, tables.tokens, tables.instance_end, tables.mean_latency_ns,
                tables.link_flits_per_access, tables.core_link_share, tables.router_flits_per_access, tables.params,
                throttled, gated, temperature, modes, step.decay, step.core_gain, step.bank_gain, step.core_output,
                self._chip_params, self._core_constants, self._uncore_constants, 0,
                np.zeros((len(CORE_FIELDS), n, n_cores)), np.zeros((2, n, n_cores), dtype=np.int64),
                np.zeros((n, n_cores), dtype=np.bool_), out_thread,
                np.zeros((n, n_threads), dtype=np.int64),
                out_chip, np.zeros((n, 2), dtype=np.int64), np.zeros(len(tables.kernel_type), dtype=np.int64),
                np.zeros(len(tables.kernel_type)))
            instructions += out_chip[:, 7]
            thread_instructions += out_thread[0]
            tokens += out_chip[:, 5]
            energy_J += out_chip[:, 1] * system.thermal.epoch_s  # the epoch's mean chip power
            peak_C, end_peak_C = np.maximum(peak_C, out_chip[:, 4]), np.maximum(end_peak_C, out_chip[:, 8])
        th = system.thermal
        end_peak_K = end_peak_C + 273.15
        return LookaheadResult(instructions, tokens, peak_C + 273.15, end_peak_K,
                               end_peak_K < min(th.t_max_K, th.dtm_trigger_C + 273.15) - guard_K, energy_J,
                               thread_instructions)
