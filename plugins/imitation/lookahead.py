"""Look-ahead simulation from the current state of a co-simulation, batched over candidate actions.

The Oracle scores a candidate (placement, per-core V/f) by simulating it for ``horizon`` epochs from the loop's
current state, exactly as ``CoSimulation`` would: DTM, the engine's progress and actuation costs,
the power model with leakage feedback, and the thermal model. Candidates are stepped together: each has its own fork
of the engine (the compiled kernel scan is per instance), while power, DTM and the thermal step are single numpy
operations over the candidate axis. The thermal model must be the fast reduced-order model, whose state is a vector of
modal amplitudes ``z`` with ``z <- e^{-lambda dt} z + (1 - e^{-lambda dt}) / lambda * (W p)`` (linear in power), so
the look-ahead of many candidates is two matrix products per epoch. ``LinearThermalView`` exposes that algebra
(from the model's public ``propagator`` and ``state``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from ailfm.errors import ConfigError
from ailfm.plugins.engine.base import Engine
from ailfm.plugins.epoch.chip_thermal import ChipThermal
from ailfm.plugins.system.description import SystemDescription
from ailfm.plugins.system.power import PowerModel

#: Engine attributes that never change after construction (or are scratch buffers used within one call): forks share
#: them instead of copying (the workload alone holds thousands of kernels).
_SHARED_ENGINE_ATTRIBUTES = ("workload", "system", "nuca", "_work_cycles", "_kernel_table", "_request_ends",
                             "_instance_end", "_finished", "_finish_s")


def fork_engine(engine: Engine) -> Engine:
    """An independent copy of an engine's state that shares its immutable parts."""
    memo = {id(value): value for name in _SHARED_ENGINE_ATTRIBUTES
            if (value := getattr(engine, name, None)) is not None}
    return copy.deepcopy(engine, memo)


@dataclass(frozen=True, eq=False)
class LinearThermalView:
    """One epoch of the reduced-order model as linear algebra, for batched prediction: ``z <- decay * z + gain @ p``
    and ``T = ambient + output @ z`` (``propagator`` and ``state`` of ``ReducedOrderThermalModel``)."""

    ambient_K: float
    decay: np.ndarray  # (order,)
    gain: np.ndarray  # (order, n_power) modal forcing of one epoch per watt
    output: np.ndarray  # (n_output, order)
    modes: np.ndarray  # (order,) current state (a copy)

    @classmethod
    def of(cls, thermal, dt_s: float) -> LinearThermalView:
        from ailfm.thermal.rom import ReducedOrderThermalModel

        if not isinstance(thermal, ReducedOrderThermalModel):
            raise ConfigError("thermal", "the Oracle's look-ahead needs the fast (reduced-order) thermal model; "
                                         "run with --thermal fast")
        decay, gain = thermal.propagator(dt_s)
        modes, output = thermal.state
        return cls(thermal.ambient_K, decay.copy(), gain, output, modes.copy())

    def steps(self, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """For k = 1..horizon epochs of constant power: (decay^k, sum_{j<k} decay^j), each (horizon, order)."""
        decay_k = self.decay[None, :] ** np.arange(1, horizon + 1)[:, None]
        return decay_k, (1.0 - decay_k) / (1.0 - self.decay)


@dataclass
class LoopState:
    """What the loop carries from one epoch to the next, besides the engine and the thermal model."""

    temperature_K: np.ndarray
    throttled: np.ndarray
    gated: np.ndarray


@dataclass(frozen=True, eq=False)
class LookaheadResult:
    instructions: np.ndarray  # (n_candidates,) total thread instructions over the horizon: inference progress
    tokens: np.ndarray  # (n_candidates,)
    peak_core_K: np.ndarray  # (n_candidates,) hottest core temperature over the horizon
    safe: np.ndarray  # (n_candidates,) every core below T_max and the DTM trigger at every epoch of the horizon


class Lookahead:
    """Batched look-ahead of candidate actions from one loop state (see the module docstring)."""

    def __init__(self, system: SystemDescription, chip: ChipThermal, power: PowerModel):
        self.system, self.chip, self.power = system, chip, power

    def simulate(self, engine: Engine, thermal: LinearThermalView, state: LoopState, placements: np.ndarray,
                 f_request_GHz: np.ndarray, horizon: int, guard_K: float = 0.0) -> LookaheadResult:
        """Hold each candidate's (placement, f) for ``horizon`` epochs; ``placements`` (N, n_threads), ``f`` (N,
        n_cores) already on the V/f grid; ``safe`` means every core stays ``guard_K`` below T_max and the DTM
        trigger."""
        system, chip = self.system, self.chip
        th, dvfs = system.thermal, system.dvfs
        dt = th.epoch_s
        n = len(placements)
        engines = [fork_engine(engine) for _ in range(n)]
        decay, gain = thermal.decay, thermal.gain
        modes = np.broadcast_to(thermal.modes, (n, len(thermal.modes))).copy()
        temperature = np.broadcast_to(state.temperature_K, (n, system.n_cores)).copy()
        throttled = np.broadcast_to(state.throttled, temperature.shape).copy()
        gated = np.broadcast_to(state.gated, temperature.shape).copy()
        trigger_K, release_K = th.dtm_trigger_C + 273.15, th.dtm_release_C + 273.15
        stop_K = trigger_K + th.dtm_stop_margin_K
        instructions, tokens = np.zeros(n), np.zeros(n)
        peak = np.full(n, -np.inf)
        n_power = thermal.gain.shape[1]
        power_in = np.zeros((n, n_power))
        core_output = chip.core_output
        for _ in range(horizon):
            f_effective = np.where(gated, 0.0, np.where(throttled, dvfs.f_min_GHz, f_request_GHz))
            activities = []
            for k in range(n):
                engines[k].actuate(f_effective[k], placements[k])
                activities.append(engines[k].advance(dt))
            activity = np.stack([a.core_activity for a in activities])
            running = np.stack([a.core_running for a in activities])
            flits = np.stack([a.router_flits for a in activities])
            banks = np.stack([a.bank_accesses for a in activities])
            instructions += [a.thread_instructions.sum() for a in activities]
            tokens += [a.tokens for a in activities]
            core_state = np.where(gated, 2, np.where(running, 0, 1))
            core_W = self.power.core_power(f_effective, activity, temperature, core_state).total_W
            power_in[:, chip.core_power_column] = core_W + self.power.router_power_W(flits, dt)
            power_in[:, chip.bank_power_column] = self.power.bank_power_W(banks, dt)
            modes = decay * modes + power_in @ gain.T
            temperature = thermal.ambient_K + modes @ thermal.output[core_output].T
            peak = np.maximum(peak, temperature.max(axis=1))
            sensed = temperature if th.dtm_scope == "core" else np.repeat(temperature.max(axis=1, keepdims=True),
                                                                          system.n_cores, axis=1)
            new_throttled = (sensed >= trigger_K) | (throttled & (sensed >= release_K))
            gated = throttled & (temperature > stop_K)
            throttled = new_throttled
        return LookaheadResult(instructions, tokens, peak, peak < min(th.t_max_K, trigger_K) - guard_K)
