"""The co-simulation loop: observe -> governor -> actuate -> advance the workload -> power -> thermal -> DTM -> record.

``CoSimulation`` composes four seams, each replaceable on its own: an ``Engine`` (built-in analytic or gem5), a
``ThermalModel`` (exact grid or fast reduced-order), a ``Governor`` and the ``PowerModel``. DTM is the chip's own
hardware loop, applied on top of every governor: a core at or above the trigger temperature runs at f_min until it
cools below the release temperature; a core still above trigger + ``dtm_stop_margin_K`` after a throttled epoch is
clock-gated (a thermal trip) until it falls back under that line. ``run`` returns data and prints nothing.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ailfm.plugins.engine.base import Engine, EpochActivity
from ailfm.plugins.epoch.chip_thermal import ChipThermal, ThermalTwin
from ailfm.plugins.epoch.fastpath import fused_epoch
from ailfm.plugins.epoch.kernels import chip_power, dtm_update, effective_frequency, place_row
from ailfm.plugins.governors.base import Decision, Governor, GovernorContext, Observation
from ailfm.plugins.system.description import SystemDescription
from ailfm.plugins.system.nuca import NucaModel
from ailfm.plugins.system.power import PowerModel
from ailfm.thermal.base import ThermalModel

SUMMARY_KEYS = ("makespan_s", "tokens_per_s", "request_latency_mean_s", "request_latency_p99_s", "peak_temp_c",
                "time_above_tmax_s", "dtm_events", "energy_j", "edp", "migrations", "governor_us_per_decision",
                "sim_speed_x_realtime")


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Everything a run produced: per-epoch chip records, per-(epoch, core) arrays, requests, and the summary."""

    system: str
    governor: str
    epoch_s: float
    epochs: pd.DataFrame  # per epoch: time_s, chip_power_W, core_power_W, uncore_power_W, peak_temp_C, tokens
    per_core: dict[str, np.ndarray]  # name -> (n_epochs, n_cores)
    kernel_type_names: tuple[str, ...]
    request_arrival_s: np.ndarray
    request_finish_s: np.ndarray  # NaN where unfinished
    summary: dict[str, float] = field(default_factory=dict)
    completed: bool = False

    def timeline(self) -> pd.DataFrame:
        """One row per (epoch, core): thread, kernel, f, V, power, temperature, progress (instructions)."""
        n_epochs, n_cores = self.per_core["temperature_K"].shape
        kernel = self.per_core["kernel_type"].ravel()
        names = np.array(self.kernel_type_names + ("idle",), dtype=object)
        frame = pd.DataFrame({
            "epoch": np.repeat(np.arange(n_epochs), n_cores).astype(np.int32),
            "time_s": np.repeat(self.epochs["time_s"].to_numpy(), n_cores),
            "core": np.tile(np.arange(n_cores), n_epochs).astype(np.int32),
            "thread": self.per_core["thread"].ravel().astype(np.int32),
            "kernel": pd.Categorical(names[np.where(kernel < 0, len(names) - 1, kernel)],
                                     categories=list(names)),
            "f_GHz": self.per_core["f_GHz"].ravel(),
            "f_effective_GHz": self.per_core["f_effective_GHz"].ravel(),
            "voltage_V": self.per_core["voltage_V"].ravel(),
            "power_W": self.per_core["power_W"].ravel(),
            "temperature_C": (self.per_core["temperature_K"] - 273.15).ravel(),
            "instructions": self.per_core["instructions"].ravel(),
            "dtm_throttled": self.per_core["dtm_throttled"].ravel(),
        })
        return frame


class CoSimulation:
    """One system, one engine, one thermal model, one governor; ``run`` advances them together epoch by epoch."""

    def __init__(self, system: SystemDescription, engine: Engine, thermal: ThermalModel, governor: Governor, *,
                 thread_instance: np.ndarray, kernel_type_names: tuple[str, ...],
                 request_arrival_s: np.ndarray, nuca: NucaModel | None = None, fast_path: bool = True):
        from ailfm.plugins.engine.builtin import BuiltinEngine
        from ailfm.thermal.rom import ReducedOrderThermalModel

        self.system, self.engine, self.thermal, self.governor = system, engine, thermal, governor
        #: one compiled call per epoch (epoch/fastpath.py) for exactly this pairing (subclasses may override what
        #: the fused kernel inlines, so they take the seam-by-seam path; so does the optional bank wait, which the
        #: fused kernel does not inline)
        self.fast_path = (fast_path and type(engine) is BuiltinEngine and type(thermal) is ReducedOrderThermalModel
                          and system.llc.bank_service_cycles is None)
        self.chip = ChipThermal.of(system, thermal)
        self.power = PowerModel(system)
        self.nuca = nuca or getattr(engine, "nuca", None) or NucaModel.build(system)
        self.kernel_type_names = tuple(kernel_type_names)
        self.request_arrival_s = np.asarray(request_arrival_s, dtype=float)
        p, th = system.power, system.thermal
        self._uncore_constants = np.array([p.llc_read_energy_nJ * 1e-9, p.llc_leakage_W_per_bank,
                                           p.router_energy_pJ_per_flit * 1e-12, p.router_static_W])
        self._dtm_constants = np.array([th.dtm_trigger_C + 273.15, th.dtm_release_C + 273.15,
                                        th.dtm_trigger_C + 273.15 + th.dtm_stop_margin_K])
        self.context = GovernorContext(system, self.nuca, self.power, engine.n_threads,
                                       np.asarray(thread_instance), self.kernel_type_names,
                                       self.chip.thermal_resistance_K_per_W,
                                       functools.partial(ThermalTwin.of, system, thermal))

    @classmethod
    def for_workload(cls, system: SystemDescription, workload, thermal: ThermalModel, governor: Governor,
                     nuca: NucaModel | None = None, fast_path: bool = True) -> CoSimulation:
        """The built-in engine over a ``Workload``."""
        from ailfm.plugins.engine.builtin import BuiltinEngine

        nuca = nuca or NucaModel.build(system)
        return cls(system, BuiltinEngine(system, workload, nuca), thermal, governor,
                   thread_instance=workload.thread_instance, kernel_type_names=workload.kernel_type_names,
                   request_arrival_s=workload.request_arrival_s, nuca=nuca, fast_path=fast_path)

    def run(self, duration_s: float | None = None, *, progress: bool = False) -> SimulationResult:
        """Run the governor until every request has finished or ``duration_s`` of simulated time has passed."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):  # the matrices are small: threads only add overhead
            obs = self.start(duration_s)
            bar = _progress_bar(progress, self._max_epochs, f"{self.system.name} / {self.governor.name}")
            wall_start = time.perf_counter()
            while not self.finished:
                start = time.perf_counter()
                decision = self.governor.decide(obs)
                self._decision_s.append(time.perf_counter() - start)
                obs = self.step(decision)
                if bar is not None:
                    bar.update(1)
            if bar is not None:
                bar.close()
            return self.result(wall_s=time.perf_counter() - wall_start)

    # -- stepping: run() uses these; so can a Gymnasium environment or an Oracle's look-ahead ------------------------
    def start(self, duration_s: float | None = None) -> Observation:
        """Reset engine, thermal model and governor; place the threads; return the first observation."""
        system, engine, th = self.system, self.engine, self.system.thermal
        n_cores = system.n_cores
        self._max_epochs = int(np.ceil(duration_s / th.epoch_s - 1e-9)) if duration_s else None
        engine.reset()
        self.thermal.reset(th.ambient_K)
        bind = getattr(self.governor, "bind_simulation", None)
        if bind is not None:  # look-ahead governors (the Oracle) read the engine and thermal state
            bind(self)
        self.governor.setup(self.context)
        self._temperature = chip_core_temperatures(self.thermal, self.chip)
        self._placement = _checked_placement(self.governor.initial_placement(self._temperature.copy()),
                                             engine.n_threads, n_cores)
        self._throttled = np.zeros(n_cores, dtype=bool)
        self._gated = np.zeros(n_cores, dtype=bool)
        self._records = _Records(n_cores, self._max_epochs or 4096)
        self._not_moved = np.zeros(engine.n_threads, dtype=bool)
        self._dram_state = np.array([0.0, self.nuca.memory_latency_ns])
        if self.fast_path:
            dvfs, p = system.dvfs, system.power
            self._fast_params = np.array([
                th.epoch_s, 0.0, dvfs.f_step_GHz, dvfs.f_min_GHz, dvfs.transition_latency_s, engine._mlp,
                engine._line_rate, p.stall_activity, p.barrier_activity, system.noc.frequency_GHz,
                self.thermal.ambient_K, dvfs.v_at_zero_V, dvfs.v_slope_V_per_GHz])
            self._fast_constants = np.concatenate([self.power.constants, self._uncore_constants,
                                                   self._dtm_constants])
            _, gain = self.thermal.propagator(th.epoch_s)
            _, output = self.thermal.state
            self._gain_cores = np.ascontiguousarray(gain[:, self.chip.core_power_column])
            self._gain_banks = np.ascontiguousarray(gain[:, self.chip.bank_power_column].sum(axis=1))
            self._output_cores = np.ascontiguousarray(output[self.chip.core_output])
        self._power_buffer = np.zeros(len(self.thermal.power_names))
        self._finish = np.full(len(self.request_arrival_s), np.nan)
        self._decision_s, self._dtm_events, self._epoch = [], 0, 0
        f_max = np.full(n_cores, system.dvfs.f_max_GHz)
        return self._observation(0, 0.0, self._temperature, np.zeros(n_cores), f_max, f_max, self._throttled,
                                 self._placement, None, 0.0)

    @property
    def finished(self) -> bool:
        """Every request has finished or the duration is used up."""
        return self.engine.done or (self._max_epochs is not None and self._epoch >= self._max_epochs)

    def step(self, decision: Decision) -> Observation:
        """One epoch: actuate the decision (under DTM), advance, power, thermal step, DTM update, record."""
        if self.fast_path:
            return self._fused_step(decision)
        system, engine, chip, records = self.system, self.engine, self.chip, self._records
        dvfs, th = system.dvfs, system.thermal
        dt = th.epoch_s
        f_request = dvfs.snap_GHz(decision.f_GHz)
        if decision.thread_core is not None:
            self._placement = _checked_placement(decision.thread_core, engine.n_threads, system.n_cores)
        row = records.row(self._epoch)
        f_effective = row["f_effective_GHz"]
        effective_frequency(f_request, self._throttled, self._gated, dvfs.f_min_GHz, f_effective)
        engine.actuate(f_effective, self._placement)
        activity = engine.advance(dt)

        power = np.zeros(len(self.thermal.power_names))
        uncore_W = chip_power(f_effective, activity.core_activity, self._temperature, self._gated,
                              activity.core_running, activity.router_flits, activity.bank_accesses,
                              self.power.constants, self._uncore_constants, dt, chip.core_power_column,
                              chip.bank_power_column, power, row["power_W"])
        outputs = self.thermal.step(power, dt)
        temperature = self._temperature = outputs[chip.core_output]
        self._dtm_events += dtm_update(temperature, self._throttled, self._gated, self._dtm_constants,
                                       th.dtm_scope == "chip")

        row["f_GHz"][:] = f_request
        row["temperature_K"][:] = temperature
        row["instructions"][:] = activity.core_instructions
        row["dtm_throttled"][:] = self._throttled
        records.place(self._epoch, self._placement, activity.thread_kernel_type, dvfs)
        core_total = float(row["power_W"].sum())
        records.chip[self._epoch] = (engine.time_s, core_total + uncore_W, core_total, uncore_W,
                                     float(temperature.max()) - 273.15, activity.tokens)
        self._finish[activity.finished_requests] = activity.finish_times_s
        self._epoch += 1
        return self._observation(self._epoch, engine.time_s, temperature, row["power_W"].copy(), f_request,
                                 f_effective.copy(), self._throttled.copy(), self._placement, activity, uncore_W)

    def _fused_step(self, decision: Decision) -> Observation:
        """``step`` in one compiled call (``plugins/epoch/fastpath.py``); same records, same observation."""
        system, engine, records, rom, nuca = self.system, self.engine, self._records, self.thermal, self.nuca
        dvfs, th, w = system.dvfs, system.thermal, engine.workload
        dt, epoch = th.epoch_s, self._epoch
        if decision.thread_core is not None:
            self._placement = _checked_placement(decision.thread_core, engine.n_threads, system.n_cores)
        moved = self._not_moved
        if decision.thread_core is not None or epoch == 0:
            moved = engine._place(self._placement)
            self._engine_core = engine._thread_core.reshape(w.n_instances, w.threads_per_instance)
        if epoch >= len(records.chip):
            records.row(epoch)  # grows the buffers
        pc = records.per_core
        decay, _ = rom.propagator(dt)
        modes, _ = rom.state
        dram_state = self._dram_state
        dram_state[0] = engine._dram_latency_ns
        params = self._fast_params
        params[1] = engine._time_s
        (n_finished, events, uncore_W, activity, busy, ips, thread_ips, thread_apki, thread_mpki,
         kernel_type) = fused_epoch(
            epoch, params, np.asarray(decision.f_GHz, dtype=float), dvfs.levels_GHz, self._throttled, self._gated,
            moved, engine._thread_core, self._engine_core, engine._f_GHz, engine._llc_latency_ns, dram_state,
            engine._kernel, engine._instance_end, engine._remaining, engine._penalty_s, engine._kernel_table,
            w.kernel_type, engine._finished, engine._finish_s, nuca.mean_latency_ns, nuca.link_flits_per_access,
            nuca.core_link_share, nuca.router_flits_per_access, system.noc.contention, self._temperature,
            self._fast_constants, self.chip.core_power_column, self.chip.bank_power_column, system.n_banks,
            self._power_buffer, decay, self._gain_cores, self._gain_banks, self._output_cores, modes,
            th.dtm_scope == "chip", records.floats, records.ints, records.throttled, records.chip)
        engine._dram_latency_ns = float(dram_state[0])
        engine._time_s += dt
        if n_finished:
            finished = engine._finished[:n_finished]
            tokens = w.tokens[finished]
            records.chip[epoch, 5] = tokens.sum()
            request_done = engine._request_ends[finished]
            self._finish[w.request[finished[request_done]]] = engine._finish_s[:n_finished][request_done]
        self._dtm_events += events
        self._epoch += 1
        return Observation(self._epoch, engine._time_s, self._temperature.copy(), pc["power_W"][epoch].copy(),
                           pc["f_GHz"][epoch].copy(), pc["f_effective_GHz"][epoch].copy(), busy, ips, activity,
                           self._throttled.copy(), self._placement.copy(), kernel_type, thread_ips, thread_apki,
                           thread_mpki, uncore_W)

    def result(self, wall_s: float = float("nan")) -> SimulationResult:
        """The records so far as a ``SimulationResult`` with its summary."""
        th = self.system.thermal
        epochs, per_core = self._records.frames(self._epoch)
        result = SimulationResult(self.system.name, self.governor.name, th.epoch_s, epochs, per_core,
                                  self.kernel_type_names, self.request_arrival_s, self._finish.copy(),
                                  completed=self.engine.done)
        result.summary.update(summarise(result, th.t_max_C, self._dtm_events, self.engine.migrations,
                                        self._decision_s, wall_s))
        return result

    def _observation(self, epoch, time_s, temperature, core_W, f_request, f_effective, throttled, placement,
                     activity: EpochActivity | None, uncore_W) -> Observation:
        n_cores, n_threads = self.system.n_cores, self.engine.n_threads
        if activity is None:
            zeros_c, zeros_t = np.zeros(n_cores), np.zeros(n_threads)
            return Observation(epoch, time_s, temperature, core_W, f_request, f_effective, zeros_c, zeros_c, zeros_c,
                               throttled.copy(), placement.copy(), np.zeros(n_threads, dtype=int), zeros_t, zeros_t,
                               zeros_t, uncore_W)
        instructions = activity.thread_instructions
        with np.errstate(divide="ignore", invalid="ignore"):
            per_kilo = np.where(instructions > 0, 1000.0 / instructions, 0.0)
            thread_ips = np.where(activity.thread_busy_s > 0, instructions / activity.thread_busy_s, 0.0)
        return Observation(epoch, time_s, temperature, core_W, f_request, f_effective, activity.core_busy,
                           activity.core_instructions / activity.dt_s, activity.core_activity, throttled.copy(),
                           placement.copy(), activity.thread_kernel_type, thread_ips,
                           activity.thread_llc_accesses * per_kilo, activity.thread_dram_misses * per_kilo, uncore_W)


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


class _Records:
    """Per-epoch records in preallocated arrays (grown by doubling when a run has no duration limit).

    The float fields share one (field, epoch, core) array and the integer fields another, so the compiled fast path
    takes them as two arguments; ``per_core`` holds named views into them.
    """

    FLOATS = ("f_GHz", "f_effective_GHz", "voltage_V", "power_W", "temperature_K", "instructions")
    INTS = ("thread", "kernel_type")
    CHIP = ("time_s", "chip_power_W", "core_power_W", "uncore_power_W", "peak_temp_C", "tokens")

    def __init__(self, n_cores: int, capacity: int):
        self.floats = np.zeros((len(self.FLOATS), capacity, n_cores))
        self.ints = np.zeros((len(self.INTS), capacity, n_cores), dtype=np.int64)
        self.throttled = np.zeros((capacity, n_cores), dtype=np.bool_)
        self.chip = np.zeros((capacity, len(self.CHIP)))
        self._views()

    def _views(self) -> None:
        self.per_core = {**{k: self.floats[i] for i, k in enumerate(self.FLOATS)},
                         **{k: self.ints[i] for i, k in enumerate(self.INTS)}, "dtm_throttled": self.throttled}

    def row(self, epoch: int) -> dict[str, np.ndarray]:
        if epoch >= len(self.chip):
            self.floats = np.concatenate([self.floats, np.zeros_like(self.floats)], axis=1)
            self.ints = np.concatenate([self.ints, np.zeros_like(self.ints)], axis=1)
            self.throttled = np.concatenate([self.throttled, np.zeros_like(self.throttled)])
            self.chip = np.concatenate([self.chip, np.zeros_like(self.chip)])
            self._views()
        return {k: v[epoch] for k, v in self.per_core.items()}

    def place(self, epoch: int, placement: np.ndarray, thread_kernel_type: np.ndarray, dvfs) -> None:
        """Thread, kernel and voltage of each core (from the placement and the effective frequency)."""
        pc = self.per_core
        place_row(placement, thread_kernel_type, pc["f_effective_GHz"][epoch], dvfs.v_at_zero_V,
                  dvfs.v_slope_V_per_GHz, pc["thread"][epoch], pc["kernel_type"][epoch], pc["voltage_V"][epoch])

    def frames(self, n_epochs: int) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
        epochs = pd.DataFrame(self.chip[:n_epochs], columns=list(self.CHIP))
        epochs["tokens"] = epochs["tokens"].astype(np.int64)
        return epochs, {k: v[:n_epochs].copy() for k, v in self.per_core.items()}


def summarise(result: SimulationResult, t_max_C: float, dtm_events: int, migrations: int, decision_s: list[float],
              wall_s: float) -> dict[str, float]:
    """The summary.json metrics (keys ``SUMMARY_KEYS``)."""
    epochs, dt = result.epochs, result.epoch_s
    finished = ~np.isnan(result.request_finish_s)
    simulated_s = float(epochs["time_s"].iloc[-1]) if len(epochs) else 0.0
    makespan = float(np.nanmax(result.request_finish_s)) if result.completed and finished.any() else simulated_s
    latency = result.request_finish_s[finished] - result.request_arrival_s[finished]
    tokens = int(epochs["tokens"].sum())
    energy = float(epochs["chip_power_W"].sum() * dt)
    hot = result.per_core["temperature_K"].max(axis=1) - 273.15 > t_max_C
    return {
        "makespan_s": makespan,
        "tokens_per_s": tokens / makespan if makespan > 0 else 0.0,
        "request_latency_mean_s": float(latency.mean()) if len(latency) else float("nan"),
        "request_latency_p99_s": float(np.percentile(latency, 99)) if len(latency) else float("nan"),
        "peak_temp_c": float(epochs["peak_temp_C"].max()),
        "time_above_tmax_s": float(hot.sum() * dt),
        "dtm_events": int(dtm_events),
        "energy_j": energy,
        "edp": energy * makespan,
        "migrations": int(migrations),
        "governor_us_per_decision": float(np.median(decision_s) * 1e6) if decision_s else 0.0,
        "sim_speed_x_realtime": simulated_s / wall_s if wall_s > 0 else float("nan"),
        "tokens": tokens,
        "requests_finished": int(finished.sum()),
        "completed": bool(result.completed),
    }


def _progress_bar(enabled: bool, total: int | None, description: str):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit="epoch", leave=False)
