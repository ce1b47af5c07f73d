"""The co-simulation loop: observe -> governor -> actuate -> (advance the workload -> power -> thermal -> DTM) x
sub-steps -> record.

``CoSimulation`` composes four seams, each replaceable on its own: an ``Engine`` (built-in analytic or gem5), a
``ThermalModel`` (exact grid or fast reduced-order), a ``Governor`` and the ``PowerModel``. DTM is the chip's own
hardware loop, applied on top of every governor at every thermal sub-step (``thermal.dtm_interval_s``, 50 us in the
shipped systems, inside the governor's epoch ``thermal.epoch_s``): a core at or above the trigger temperature runs at
f_min until it cools below the release temperature; a core still above trigger + ``dtm_stop_margin_K`` after a throttled
sub-step is clock-gated (a thermal trip) until it falls back under that line.

The physics is the epoch model's (``plugins/epoch/model.py``). When the engine's timing is the model's own and the
thermal model is linear (the built-in engine with the fast model), an epoch is one compiled call over the engine's
``EngineState`` and the thermal model's modes; otherwise (gem5, the grid model) the loop calls the same pieces sub-step
by sub-step through the seams (``engine.advance``, ``thermal.step``). ``run`` returns data and prints nothing.

A long run streams: given a ``RecordSink``, ``run`` keeps ``chunk_epochs`` epochs of records in memory and hands
every full chunk to the sink (which writes it), with the loop's whole state after it (``checkpoint``: engine state
bundle, thermal state, DTM flags, governor state, the last observation), from which ``run(resume=...)`` continues
exactly. Every chunk is checked first: a non-finite or runaway temperature or power stops the run
(``NumericalError``, naming the epoch and the core).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from ailfm import interrupts
from ailfm.errors import AilfmError
from ailfm.plugins.engine.base import Engine, EngineState
from ailfm.plugins.epoch.chip_thermal import ChipThermal, ThermalTwin
from ailfm.plugins.epoch.lookahead import Lookahead, LoopState
from ailfm.plugins.epoch.model import (
    CHIP_FIELDS,
    CORE_FIELDS,
    accumulate_substep,
    chip_parameters,
    chip_power,
    dtm_update,
    effective_frequency,
    finish_epoch,
    run_candidates,
    snap_levels,
    start_candidate,
    start_epoch,
    thread_rates,
    uncore_constants,
)
from ailfm.plugins.governors.base import Decision, Governor, GovernorContext, Observation, starting_observation
from ailfm.plugins.governors.placement import OWN, check_placement, initial_placement
from ailfm.plugins.system.description import SystemDescription
from ailfm.plugins.system.nuca import NucaModel
from ailfm.plugins.system.power import PowerModel
from ailfm.thermal.base import LinearThermal, ThermalModel

#: the simulated results (the same for the same run, whatever the machine) and the wall-clock measurements
RESULT_KEYS = ("makespan_s", "tokens_per_s", "request_latency_mean_s", "request_latency_p99_s", "peak_temp_c",
               "time_above_tmax_s", "dtm_events", "energy_j", "edp", "migrations")
TIMING_KEYS = ("governor_us_per_decision", "sim_speed_x_realtime", "compile_s")
SUMMARY_KEYS = RESULT_KEYS + TIMING_KEYS
#: a core temperature above this stops the run: far above any junction rating (silicon is rated to 150 C at most,
#: solder melts at ~220 C), where the model's leakage and conductivity constants no longer hold; what gets there is
#: a leakage-temperature runaway (a validated system YAML once reached 6.5e10 C, then NaN)
RUNAWAY_TEMPERATURE_C = 500.0
#: a core drawing more than this many times the chip's design power (``thermal.tdp_W``) stops the run: only a
#: runaway (or a broken power model) gets there
RUNAWAY_POWER_TDP = 100.0
#: governor decision times are kept as a histogram (bounded memory): log-spaced bins, 1 % apart, 10 ns .. 100 s
_DECISION_BINS = np.geomspace(1e-8, 1e2, int(np.log(1e10) / np.log(1.01)) + 1)


class NumericalError(AilfmError, ArithmeticError):
    """The simulation left the physical range (non-finite or runaway temperature or power)."""


class RecordSink(Protocol):
    """Where a streaming run's records go, chunk by chunk (``plugins/run/outputs.py`` writes them to Parquet)."""

    def write(self, first_epoch: int, epochs: pd.DataFrame, per_core: dict[str, np.ndarray]) -> None:
        """Records of epochs ``first_epoch`` .. ``first_epoch + len(epochs) - 1`` (as ``SimulationResult``'s)."""

    def checkpoint(self, state: dict[str, np.ndarray]) -> None:
        """The loop's state after the chunk just written (``CoSimulation.checkpoint``)."""

    def epochs(self) -> pd.DataFrame:
        """Every epoch's chip record written so far (``SimulationResult.epochs``)."""


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Everything a run produced: per-epoch chip records, per-(epoch, core) arrays, requests, and the summary."""

    system: str
    governor: str
    epoch_s: float
    epochs: pd.DataFrame  # per epoch: ``model.CHIP_FIELDS`` (peak_temp_C and above_tmax_s at sub-step resolution)
    per_core: dict[str, np.ndarray]  # name -> (n_epochs, n_cores); empty when the run streamed them to a sink
    kernel_type_names: tuple[str, ...]
    request_arrival_s: np.ndarray
    request_finish_s: np.ndarray  # NaN where unfinished
    summary: dict[str, float] = field(default_factory=dict)
    completed: bool = False
    substeps: int = 1  # thermal sub-steps (DTM sensing intervals, engine steps) per epoch

    def timeline(self) -> pd.DataFrame:
        """One row per (epoch, core): thread, kernel, f, V, power, temperature, progress (instructions)."""
        if not self.per_core:
            raise ValueError("this run streamed its timeline to a sink (timeline.parquet); it is not in memory")
        return timeline_frame(self.epochs["time_s"].to_numpy(), self.per_core, self.kernel_type_names)


def timeline_frame(time_s: np.ndarray, per_core: dict[str, np.ndarray], kernel_type_names: tuple[str, ...],
                   first_epoch: int = 0) -> pd.DataFrame:
    """The timeline rows of consecutive epochs from ``first_epoch`` (``SimulationResult.timeline``, or a chunk of
    a streamed run): one row per (epoch, core)."""
    n_epochs, n_cores = per_core["temperature_K"].shape
    kernel = per_core["kernel_type"].ravel()
    names = np.array(kernel_type_names + ("idle",), dtype=object)
    return pd.DataFrame({
        "epoch": np.repeat(np.arange(first_epoch, first_epoch + n_epochs), n_cores).astype(np.int32),
        "time_s": np.repeat(time_s, n_cores),
        "core": np.tile(np.arange(n_cores), n_epochs).astype(np.int32),
        "thread": per_core["thread"].ravel().astype(np.int32),
        "kernel": pd.Categorical(names[np.where(kernel < 0, len(names) - 1, kernel)], categories=list(names)),
        "f_GHz": per_core["f_GHz"].ravel(),
        "f_effective_GHz": per_core["f_effective_GHz"].ravel(),
        "voltage_V": per_core["voltage_V"].ravel(),
        "power_W": per_core["power_W"].ravel(),
        "temperature_C": (per_core["temperature_K"] - 273.15).ravel(),
        "instructions": per_core["instructions"].ravel(),
        "dtm_throttled": per_core["dtm_throttled"].ravel(),
    })


class CoSimulation:
    """One system, one engine, one thermal model, one governor; ``run`` advances them together epoch by epoch.

    ``substeps`` overrides the system's thermal sub-steps per epoch (``thermal.epoch_s / thermal.dtm_interval_s``).
    ``placement`` names where the threads start (``ailfm.plugins.governors.placement``; ``own``: the governor's own
    initial placement).
    """

    def __init__(self, system: SystemDescription, engine: Engine, thermal: ThermalModel, governor: Governor, *,
                 thread_instance: np.ndarray, kernel_type_names: tuple[str, ...],
                 request_arrival_s: np.ndarray, nuca: NucaModel | None = None, substeps: int | None = None,
                 placement: str = OWN):
        self.system, self.engine, self.thermal, self.governor = system, engine, thermal, governor
        self.placement = check_placement(placement)
        self.substeps = int(substeps or system.thermal.substeps)
        self._power_limit_W = RUNAWAY_POWER_TDP * system.thermal.tdp_W
        linear = isinstance(thermal, LinearThermal)
        #: one compiled call per epoch when the epoch model alone advances the engine and the thermal model
        self.fused = engine.model_timing and linear
        self.chip = ChipThermal.of(system, thermal)
        self.power = PowerModel(system)
        self.nuca = nuca or NucaModel.build(system)
        self.kernel_type_names = tuple(kernel_type_names)
        self.request_arrival_s = np.asarray(request_arrival_s, dtype=float)
        self._chip_params = chip_parameters(system, self.substeps)
        self._uncore_constants = uncore_constants(system)
        self.lookahead = (Lookahead(system, engine, thermal, self.power, self.substeps, self.loop_state)
                          if linear else None)
        self.context = GovernorContext(system, self.nuca, self.power, engine.n_threads,
                                       np.asarray(thread_instance), self.kernel_type_names,
                                       self.chip.thermal_resistance_K_per_W,
                                       functools.partial(ThermalTwin.of, system, thermal), self.lookahead)
        self._step_twin = ThermalTwin.of(system, thermal, system.thermal.epoch_s / self.substeps) if linear else None

    @classmethod
    def for_workload(cls, system: SystemDescription, workload, thermal: ThermalModel, governor: Governor,
                     nuca: NucaModel | None = None, substeps: int | None = None, placement: str = OWN
                     ) -> CoSimulation:
        """The built-in engine over a ``Workload``."""
        from ailfm.plugins.engine.builtin import BuiltinEngine

        nuca = nuca or NucaModel.build(system)
        return cls(system, BuiltinEngine(system, workload, nuca), thermal, governor,
                   thread_instance=workload.thread_instance, kernel_type_names=workload.kernel_type_names,
                   request_arrival_s=workload.request_arrival_s, nuca=nuca, substeps=substeps, placement=placement)

    def run(self, duration_s: float | None = None, *, progress: bool = False, sink: RecordSink | None = None,
            chunk_epochs: int = 2000, resume: dict[str, np.ndarray] | None = None) -> SimulationResult:
        """Run the governor until every request has finished or ``duration_s`` of simulated time has passed.

        With a ``sink`` the records stream: every ``chunk_epochs`` epochs they go to the sink, followed by a
        checkpoint, so memory stays bounded; ``resume`` (such a checkpoint) continues that run where it stopped.
        The summary's ``sim_speed_x_realtime`` is timed from the second epoch this call runs: the first one includes
        numba's one-time compilation (or cache load), reported apart as ``compile_s``.
        """
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):  # the matrices are small: threads only add overhead
            capacity = chunk_epochs if sink is not None else None
            obs = self.start(duration_s, capacity) if resume is None else self.resume(resume, duration_s, capacity)
            first_epoch = self._epoch
            bar = _progress_bar(progress, self._max_epochs, f"{self.system.name} / {self.governor.name}",
                                first_epoch)
            wall_start = compile_end = time.perf_counter()
            timed_from = obs.time_s
            while not self.finished:
                interrupts.check()  # a Ctrl-C swallowed by a finaliser still ends the run
                start = time.perf_counter()
                decision = self.governor.decide(obs)
                decided = time.perf_counter() - start
                obs = self.step(decision)
                row = self._epoch - 1 - self._records.offset
                self._records.decision_s[row] = decided
                self._check_epoch(row)
                if self._epoch == first_epoch + 1:
                    compile_end, timed_from = time.perf_counter(), obs.time_s
                if sink is not None and (row + 1 == chunk_epochs or self.finished):
                    self._flush(sink, obs)
                if bar is not None:
                    bar.update(1)
            if bar is not None:
                bar.close()
            end = time.perf_counter()
            return self.result(wall_s=end - compile_end, timed_from_s=timed_from,
                               compile_s=compile_end - wall_start, sink=sink)

    # -- stepping: run() uses these; so can a Gymnasium environment -------------------------------------------------
    def start(self, duration_s: float | None = None, capacity: int | None = None) -> Observation:
        """Reset engine, thermal model and governor; place the threads; return the first observation.
        ``capacity``: epochs of records kept in memory (None: all of them)."""
        system, engine, th = self.system, self.engine, self.system.thermal
        n_cores = system.n_cores
        self._max_epochs = int(np.ceil(duration_s / th.epoch_s - 1e-9)) if duration_s else None
        engine.reset()
        self.thermal.reset(th.ambient_K)
        self._temperature = chip_core_temperatures(self.thermal, self.chip)[None].copy()
        self._throttled = np.zeros((1, n_cores), dtype=bool)
        self._gated = np.zeros((1, n_cores), dtype=bool)
        self.governor.setup(self.context)
        self._placement = _checked_placement(initial_placement(self.governor, self.placement,
                                                               self._temperature[0].copy()),
                                             engine.n_threads, n_cores)
        self._records = _Records(n_cores, capacity or self._max_epochs or 4096)
        self._not_moved = np.zeros((1, engine.n_threads), dtype=bool)
        self._thread_out = np.zeros((4, 1, engine.n_threads))
        self._kernel_out = np.zeros((1, engine.n_threads), dtype=np.int64)
        self._counts = np.zeros((1, 2), dtype=np.int64)
        n_kernels = len(engine.tables.kernel_type)
        self._finished, self._finish_s = np.zeros(n_kernels, dtype=np.int64), np.zeros(n_kernels)
        self._power_buffer = np.zeros(len(self.thermal.power_names))
        self._bind_model_arguments()
        self._finish = np.full(len(self.request_arrival_s), np.nan)
        self._decision_counts = np.zeros(len(_DECISION_BINS) + 1, dtype=np.int64)
        self._dtm_events, self._epoch = 0, 0
        return starting_observation(system, self._temperature[0], self._placement, self._throttled[0].copy())

    def _bind_model_arguments(self) -> None:
        """The arrays ``run_candidates`` reads and writes, bound once per run (and when the records grow): the
        engine's state and tables, the loop's DTM flags, temperatures and thermal modes, the records."""
        records = self._records
        self._out_arguments = (records.floats, records.ints, records.throttled, self._thread_out, self._kernel_out,
                               records.chip, self._counts, self._finished, self._finish_s)
        if self.fused:
            st, tables, step = self.engine.state, self.engine.tables, self._step_twin
            self._model_arguments = (
                st.time_s, st.kernel, st.remaining, st.penalty_s, st.thread_core, st.f_GHz, st.llc_latency_ns,
                st.dram_latency_ns, st.traffic_llc, st.traffic, tables.kernel_table, tables.kernel_type,
                tables.tokens, tables.instance_end, tables.mean_latency_ns, tables.link_flits_per_access,
                tables.core_link_share, tables.router_flits_per_access, tables.params, self._throttled, self._gated,
                self._temperature, self.thermal.modes[None], step.decay, step.core_gain, step.bank_gain,
                step.core_output, self._chip_params, self.power.constants, self._uncore_constants)

    def loop_state(self) -> LoopState:
        """Copies of the loop's per-core DTM flags and temperatures (what a look-ahead starts from)."""
        return LoopState(self._temperature[0].copy(), self._throttled[0].copy(), self._gated[0].copy())

    @property
    def finished(self) -> bool:
        """Every request has finished or the duration is used up."""
        return self.engine.done or (self._max_epochs is not None and self._epoch >= self._max_epochs)

    def step(self, decision: Decision) -> Observation:
        """One governor epoch: snap the request to the V/f grid, move threads, then every sub-step DTM's effective
        frequency, progress, power, thermal step and DTM update; record and observe."""
        system, engine, records = self.system, self.engine, self._records
        dvfs, epoch = system.dvfs, self._epoch - records.offset  # the epoch's row of the records
        if records.ensure(epoch):
            self._bind_model_arguments()
        f_request = records.floats[0, epoch:epoch + 1]
        snap_levels(np.asarray(decision.f_GHz, dtype=float), dvfs.levels_GHz, dvfs.f_min_GHz, dvfs.f_step_GHz,
                    f_request[0])
        if decision.thread_core is not None:
            self._placement = _checked_placement(decision.thread_core, engine.n_threads, system.n_cores)
        if self.fused:
            self._fused_epoch(decision, f_request)
        else:
            self._epoch_through_seams(f_request[0])
        self._dtm_events += int(self._counts[0, 0])
        self._epoch += 1
        n_threads = engine.n_threads
        ips, apki, mpki = np.empty(n_threads), np.empty(n_threads), np.empty(n_threads)
        thread_rates(0, self._thread_out, ips, apki, mpki)
        row = records.floats[:, epoch]
        return Observation(self._epoch, engine.time_s, row[4], row[3], row[0], row[1], row[7],
                           row[5] / system.thermal.epoch_s, row[6], records.throttled[epoch], self._placement.copy(),
                           self._kernel_out[0].copy(), ips, apki, mpki, float(records.chip[epoch, 3]))

    def _fused_epoch(self, decision, f_request) -> None:
        """The epoch in one compiled call (``model.run_candidates`` with one candidate) on the engine's state,
        writing the epoch's row of the records."""
        moved = self._not_moved
        if decision.thread_core is not None or self._epoch == 0:
            moved = self.engine.place(self._placement)[None]
        run_candidates(1, self.substeps, f_request, moved, *self._model_arguments, self._epoch - self._records.offset,
                       *self._out_arguments)
        n_finished = self._counts[0, 1]
        if n_finished:
            request = self.engine.tables.request_end[self._finished[:n_finished]]
            done = request >= 0
            self._finish[request[done]] = self._finish_s[:n_finished][done]

    def _epoch_through_seams(self, f_request) -> None:
        """The epoch sub-step by sub-step through the engine and thermal seams, with the epoch model's pieces."""
        system, engine, chip, params = self.system, self.engine, self.chip, self._chip_params
        th, dvfs, n_cores = system.thermal, system.dvfs, system.n_cores
        dt = th.epoch_s / self.substeps
        temperature, throttled, gated = self._temperature[0], self._throttled[0], self._gated[0]
        f_effective, core_W, bank_W = np.empty(n_cores), np.empty(n_cores), np.empty(system.n_banks)
        power, records = self._power_buffer, self._records
        epoch = self._epoch - records.offset
        out_core, out_chip = records.floats, records.chip
        start_candidate(0, epoch, out_chip, self._counts)
        start_epoch(0, epoch, out_core, self._thread_out, out_chip)
        for sub in range(self.substeps):
            effective_frequency(f_request, throttled, gated, dvfs.f_min_GHz, f_effective)
            engine.actuate(f_effective, self._placement)
            activity = engine.advance(dt, update_timing=sub == self.substeps - 1)
            uncore_W = chip_power(f_effective, activity.core_activity, temperature, gated, activity.core_running,
                                  activity.router_flits, activity.bank_accesses, self.power.constants,
                                  self._uncore_constants, dt, core_W, bank_W)
            power[chip.core_power_column] = core_W
            power[chip.bank_power_column] = bank_W
            if not np.isfinite(power.sum()):  # the thermal seam would refuse it without saying when
                self._check_rows(epoch + 1, core_W)
            temperature[:] = self.thermal.step(power, dt)[chip.core_output]
            events = dtm_update(temperature, throttled, gated, params[5:8], th.dtm_scope == "chip")
            accumulate_substep(0, epoch, f_effective, core_W, uncore_W, temperature, activity.core_activity,
                               activity.core_busy, activity.core_instructions, activity.thread_instructions,
                               activity.thread_llc_accesses, activity.thread_dram_misses, activity.thread_busy_s,
                               float(activity.tokens), events, th.t_max_C, dt, out_core, self._thread_out, out_chip,
                               self._counts)
            self._finish[activity.finished_requests] = activity.finish_times_s
        finish_epoch(0, epoch, self.substeps, self._placement, activity.thread_kernel_type, throttled, engine.time_s,
                     dvfs.v_at_zero_V, dvfs.v_slope_V_per_GHz, out_core, records.ints, records.throttled,
                     self._kernel_out, out_chip)

    def result(self, wall_s: float = float("nan"), timed_from_s: float = 0.0, compile_s: float = float("nan"),
               sink: RecordSink | None = None) -> SimulationResult:
        """The records so far as a ``SimulationResult`` with its summary (speed over ``wall_s`` from
        ``timed_from_s`` of simulated time); a streamed run's chip records come back from its ``sink``."""
        th, records = self.system.thermal, self._records
        n_rows = self._epoch - records.offset
        self._check_rows(n_rows)
        decision_counts = self._decision_counts + _decision_histogram(records.decision_s[:n_rows])
        if sink is None:
            epochs, per_core = records.frames(n_rows)
        else:
            epochs, per_core = sink.epochs(), {}
        result = SimulationResult(self.system.name, self.governor.name, th.epoch_s, epochs, per_core,
                                  self.kernel_type_names, self.request_arrival_s, self._finish.copy(),
                                  completed=self.engine.done, substeps=self.substeps)
        result.summary.update(summarise(result, th.t_max_C, self._dtm_events, self.engine.migrations,
                                        decision_counts, wall_s, timed_from_s, compile_s))
        return result

    # -- streaming, checkpoints, numerical guards -----------------------------------------------------------------
    def _flush(self, sink: RecordSink, obs: Observation) -> None:
        """Hand the records in memory to ``sink`` (checked first), then the loop's state after them."""
        records = self._records
        n_rows = self._epoch - records.offset
        self._check_rows(n_rows)
        epochs, per_core = records.frames(n_rows)
        sink.write(records.offset, epochs, per_core)
        self._decision_counts += _decision_histogram(records.decision_s[:n_rows])
        records.offset = self._epoch
        if not self.finished:
            sink.checkpoint(self.checkpoint(obs))

    def _check_epoch(self, row: int) -> None:
        """The cheap per-epoch guard on the chip record (mean chip power, hottest core at any sub-step); the
        per-core check names the core."""
        chip = self._records.chip[row]
        if not (0.0 <= chip[1] < self._power_limit_W and chip[4] < RUNAWAY_TEMPERATURE_C):
            self._check_rows(row + 1)

    def _check_rows(self, n_rows: int, substep_W: np.ndarray | None = None) -> None:
        """NumericalError at the first epoch of the records in memory with a non-finite or runaway core temperature
        or power, naming the epoch and the core; ``substep_W``: the power of the current sub-step of the last
        epoch, before it is recorded."""
        records = self._records
        temperature_C = records.per_core["temperature_K"][:n_rows] - 273.15
        power_W = records.per_core["power_W"][:n_rows]
        if substep_W is not None:
            power_W = power_W.copy()
            power_W[n_rows - 1] = substep_W
        power_limit = self._power_limit_W
        bad = ~(temperature_C < RUNAWAY_TEMPERATURE_C) | ~((power_W >= 0.0) & (power_W < power_limit))
        if not bad.any():
            return
        row, core = np.unravel_index(int(np.argmax(bad)), bad.shape)
        epoch, t, p = records.offset + int(row), temperature_C[row, core], power_W[row, core]
        what = (f"temperature {t:.6g} C" if not t < RUNAWAY_TEMPERATURE_C else f"power {p:.6g} W")
        limit = (f"beyond {RUNAWAY_TEMPERATURE_C:g} C, far above any junction rating"
                 if not t < RUNAWAY_TEMPERATURE_C else
                 f"outside 0 .. {power_limit:g} W ({RUNAWAY_POWER_TDP:g} x thermal.tdp_W)")
        raise NumericalError(f"{self.system.name} / {self.governor.name}: epoch {epoch} (t = "
                             f"{(epoch + 1) * self.system.thermal.epoch_s:.6g} s), core {core}: {what}, {limit}; "
                             "the model ran away (check the system's power and leakage constants)")

    def checkpoint(self, obs: Observation) -> dict[str, np.ndarray]:
        """The loop's whole state between two epochs as named arrays (npz-ready, no objects): the engine state
        bundle, the thermal model's state, DTM flags and temperatures, placement, request finish times, the
        governor's state, the observation the governor sees next, and the decision-time histogram. Taken when the
        records in memory have been handed to the sink."""
        snapshot = self.engine.snapshot()
        state = {
            "loop.epoch": self._epoch, "loop.dtm_events": self._dtm_events, "loop.temperature_K": self._temperature,
            "loop.throttled": self._throttled, "loop.gated": self._gated, "loop.placement": self._placement,
            "loop.finish_s": self._finish, "loop.decision_counts": self._decision_counts,
            "thermal.state": self.thermal.state(),
            **{f"engine.{f.name}": getattr(snapshot, f.name) for f in dataclasses.fields(snapshot)},
            **{f"governor.{name}": value for name, value in self.governor.state().items()},
            **{f"obs.{f.name}": getattr(obs, f.name) for f in dataclasses.fields(obs)},
        }
        return {name: np.array(value, copy=True) for name, value in state.items()}

    def resume(self, state: dict[str, np.ndarray], duration_s: float | None = None,
               capacity: int | None = None) -> Observation:
        """Set up as ``start`` does, then continue from a ``checkpoint``; returns the observation the governor sees
        next. A state that does not fit this simulation raises KeyError, TypeError or ValueError."""
        self.start(duration_s, capacity)

        def part(prefix: str) -> dict[str, np.ndarray]:
            return {name[len(prefix):]: value for name, value in state.items() if name.startswith(prefix)}

        self.engine.restore(EngineState(**part("engine.")))
        self.thermal.set_state(state["thermal.state"])
        for name, array in (("temperature_K", self._temperature), ("throttled", self._throttled),
                            ("gated", self._gated), ("finish_s", self._finish),
                            ("decision_counts", self._decision_counts)):
            array[...] = _same_shape(state[f"loop.{name}"], array, name)
        self._placement = _same_shape(state["loop.placement"], self._placement, "placement").astype(int)
        self.governor.restore(part("governor."))
        self._epoch, self._dtm_events = int(state["loop.epoch"]), int(state["loop.dtm_events"])
        self._records.offset = self._epoch
        return Observation(**{name: value.item() if value.ndim == 0 else value
                              for name, value in part("obs.").items()})


def chip_core_temperatures(thermal: ThermalModel, chip: ChipThermal) -> np.ndarray:
    """Core temperatures of the model's current state (ambient for a freshly reset model without a readout)."""
    try:
        return thermal.temperatures()[chip.core_output]
    except NotImplementedError:
        return np.full(len(chip.core_output), thermal.ambient_K)


def _checked_placement(placement, n_threads: int, n_cores: int) -> np.ndarray:
    placement = np.asarray(placement, dtype=int)
    if placement.shape != (n_threads,):
        raise ValueError(f"governor placed {placement.shape} threads, expected ({n_threads},)")
    placed = placement[placement >= 0]
    if np.any(placement < -1) or np.any(placement >= n_cores) or len(np.unique(placed)) != len(placed):
        raise ValueError("governor placement must map threads to distinct cores in [0, n_cores) or -1")
    return placement


def _same_shape(value: np.ndarray, like: np.ndarray, name: str) -> np.ndarray:
    if np.shape(value) != like.shape:
        raise ValueError(f"{name} has shape {np.shape(value)}, this simulation {like.shape}")
    return value


def _decision_histogram(decision_s: np.ndarray) -> np.ndarray:
    return np.bincount(np.searchsorted(_DECISION_BINS, decision_s), minlength=len(_DECISION_BINS) + 1)


def _histogram_median_s(counts: np.ndarray) -> float:
    """The median decision time of a ``_DECISION_BINS`` histogram (the geometric middle of its bin: 0.5 %)."""
    total = counts.sum()
    if not total:
        return 0.0
    k = int(np.searchsorted(np.cumsum(counts), (total + 1) / 2))
    edges = np.concatenate([[_DECISION_BINS[0]], _DECISION_BINS, [_DECISION_BINS[-1]]])
    return float(np.sqrt(edges[k] * edges[k + 1]))


class _Records:
    """Per-epoch records in preallocated arrays (grown by doubling when a run has no duration limit); row ``r``
    holds epoch ``offset + r`` (a streaming run hands full chunks to its sink and starts again at row 0).

    The float fields (``model.CORE_FIELDS``) share one (field, epoch, core) array and the integer fields another, laid
    out as the epoch model's outputs (candidate axis = epoch), so the compiled epoch writes its row in place;
    ``per_core`` holds named views into them.
    """

    FLOATS = CORE_FIELDS
    INTS = ("thread", "kernel_type")
    CHIP = CHIP_FIELDS

    def __init__(self, n_cores: int, capacity: int):
        self.floats = np.zeros((len(self.FLOATS), capacity, n_cores))
        self.ints = np.zeros((len(self.INTS), capacity, n_cores), dtype=np.int64)
        self.throttled = np.zeros((capacity, n_cores), dtype=np.bool_)
        self.chip = np.zeros((capacity, len(self.CHIP)))
        self.decision_s = np.zeros(capacity)  # the governor's wall time per decision
        self.offset = 0
        self._views()

    def _views(self) -> None:
        self.per_core = {**{k: self.floats[i] for i, k in enumerate(self.FLOATS)},
                         **{k: self.ints[i] for i, k in enumerate(self.INTS)}, "dtm_throttled": self.throttled}

    def ensure(self, epoch: int) -> bool:
        """Room for ``epoch`` (True if the arrays were reallocated)."""
        if epoch >= len(self.chip):
            self.floats = np.concatenate([self.floats, np.zeros_like(self.floats)], axis=1)
            self.ints = np.concatenate([self.ints, np.zeros_like(self.ints)], axis=1)
            self.throttled = np.concatenate([self.throttled, np.zeros_like(self.throttled)])
            self.chip = np.concatenate([self.chip, np.zeros_like(self.chip)])
            self.decision_s = np.concatenate([self.decision_s, np.zeros_like(self.decision_s)])
            self._views()
            return True
        return False

    def frames(self, n_epochs: int) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
        epochs = pd.DataFrame(self.chip[:n_epochs], columns=list(self.CHIP))
        epochs["tokens"] = epochs["tokens"].astype(np.int64)
        return epochs, {k: v[:n_epochs].copy() for k, v in self.per_core.items()}


def summarise(result: SimulationResult, t_max_C: float, dtm_events: int, migrations: int,
              decision_counts: np.ndarray, wall_s: float, timed_from_s: float = 0.0,
              compile_s: float = float("nan")) -> dict[str, float]:
    """The summary metrics (keys ``SUMMARY_KEYS``); the speed is simulated over wall time from ``timed_from_s``
    (after the first epoch, which holds the one-time compilation ``compile_s``); the decision time is the median of
    the histogram ``decision_counts``."""
    epochs, dt = result.epochs, result.epoch_s
    finished = ~np.isnan(result.request_finish_s)
    simulated_s = float(epochs["time_s"].iloc[-1]) if len(epochs) else 0.0
    makespan = float(np.nanmax(result.request_finish_s)) if result.completed and finished.any() else simulated_s
    latency = result.request_finish_s[finished] - result.request_arrival_s[finished]
    tokens = int(epochs["tokens"].sum())
    energy = float(epochs["chip_power_W"].sum() * dt)
    return {
        "makespan_s": makespan,
        "tokens_per_s": tokens / makespan if makespan > 0 else 0.0,
        "request_latency_mean_s": float(latency.mean()) if len(latency) else float("nan"),
        "request_latency_p99_s": float(np.percentile(latency, 99)) if len(latency) else float("nan"),
        "peak_temp_c": float(epochs["peak_temp_C"].max()),
        "time_above_tmax_s": float(epochs["above_tmax_s"].sum()),
        "dtm_events": int(dtm_events),
        "energy_j": energy,
        "edp": energy * makespan,
        "migrations": int(migrations),
        "governor_us_per_decision": _histogram_median_s(decision_counts) * 1e6,
        "sim_speed_x_realtime": (simulated_s - timed_from_s) / wall_s if wall_s > 0 else float("nan"),
        "compile_s": float(compile_s),
        "tokens": tokens,
        "requests_finished": int(finished.sum()),
        "completed": bool(result.completed),
    }


def _progress_bar(enabled: bool, total: int | None, description: str, initial: int = 0):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit="epoch", leave=False, initial=initial)
