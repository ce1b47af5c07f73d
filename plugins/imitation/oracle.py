"""The Oracle: for a state of the co-simulation, the placement and per-core V/f that maximise inference progress over
a look-ahead horizon while every core stays at or below T_max.

The action space (placements x levels^cores) is far too large to enumerate, so the Oracle searches it:

1. **Mappings** (local search): the current placement, and every single-thread move from a source core (the
   ``hot_sources`` hottest and the ``slow_sources`` highest-NUCA-latency cores running a thread) to a target core
   (the ``cool_targets`` coolest and the ``fast_targets`` lowest-latency free cores). ``rounds`` > 1 repeats the
   step from the best mapping found so far.
2. **V/f per mapping** (linear thermal model): start every core at f_max; predict every core's temperature at each
   epoch of the horizon with the reduced-order model, which is linear in power (power from each thread's last
   switching activity, leakage at the target temperature); while a core exceeds ``T_max - margin``, lower by one
   level the running core that contributes most to its temperature. All candidates go through this together as
   batched matrix products. One candidate per margin in ``margins_K``. With ``kernel_aware``, a second set lowers
   whole instances, first the one whose level costs the least progress per kelvin it removes (``InstanceProgress``:
   how much each instance's coming kernels gain from frequency, measured by the look-ahead), so memory-bound
   instances (decode's GEMVs) give their headroom to compute-bound ones (GEMMs).
3. **Check** every candidate by full look-ahead simulation (``Lookahead``: engine, DTM, power with leakage feedback,
   thermal), batched, and keep the one with the best ``objective`` score (default: the most instructions; see
   ``objective.py``) among those that stay at or below T_max (the coolest one if none does). Energy objectives also
   try every mapping with its levels capped at ``energy_caps``.

The action is held for the horizon in the look-ahead (receding horizon: the Oracle is asked again next epoch).
``exhaustive_best`` enumerates the whole space on tiny systems to measure what the search misses. ``OracleGovernor``
runs the Oracle as a governor (``--governor oracle``) through the look-ahead handle of its ``GovernorContext``.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import numpy as np

from ailfm.errors import ConfigError
from ailfm.plugins.epoch.chip_thermal import ThermalTwin
from ailfm.plugins.epoch.lookahead import Lookahead
from ailfm.plugins.governors.base import Decision, Governor, GovernorContext, Observation
from ailfm.plugins.governors.placement import PLACEMENTS, coolest_placement
from ailfm.plugins.imitation.objective import DEFAULT_OBJECTIVE, OBJECTIVES, objective_score
from ailfm.plugins.system.description import SystemDescription
from ailfm.plugins.system.nuca import NucaModel
from ailfm.plugins.system.power import PowerModel

#: ``Oracle.instance_choice``: a level that costs no instruction is taken before any that costs some
FREE_PRIORITY = 1e30
#: the named initial placements the Oracle compares with the driver's own at the start (``Oracle.initial_label``)
INITIAL_CANDIDATES = ("coolest", "lowest-latency")


@dataclass(frozen=True)
class OracleConfig:
    """Search parameters (see the module docstring); the defaults are what the shipped policy was trained with."""

    horizon: int = 4
    guard_K: float = 1.0  # labels keep every core this far below T_max: room for the policy's imitation error
    margins_K: tuple[float, ...] = (0.0, 1.0)
    rounds: int = 2
    hot_sources: int = 2
    slow_sources: int = 1
    cool_targets: int = 2
    fast_targets: int = 1
    objective: str = DEFAULT_OBJECTIVE  # what the look-ahead maximises (``objective.py``)
    #: energy objectives also try every mapping with all levels capped at these fractions of the level range: the
    #: thermally limited levels alone are all at or near f_max [inferred: three caps cover the range]
    energy_caps: tuple[float, ...] = (0.25, 0.5, 0.75)
    #: label the initial placement too (``initial_label``; ``ailfm ail train --learn-placement``): the Oracle picks
    #: the best of ``INITIAL_CANDIDATES`` and the driver's own placement at the start of each roll-out, and a policy
    #: trained so places the threads by its scores
    learn_placement: bool = False
    #: epochs over which initial placements are compared: long enough for the chip to heat from the starting state
    #: towards where V/f becomes limited, so a hot placement pays for its speed [inferred; cost measured in docs]
    placement_horizon: int = 100
    #: also label V/f by progress per kelvin (``InstanceProgress``; ``ailfm ail train --kernel-aware``)
    kernel_aware: bool = False
    #: the two operating points ``InstanceProgress`` is measured at differ by this many levels [inferred: wide enough
    #: that the instructions differ well above the look-ahead's rounding, near enough to stay near the operating
    #: point, where the memory latencies are the ones the label will see]
    progress_probe_levels: int = 4

    def __post_init__(self):
        if self.placement_horizon < 1:
            raise ConfigError("placement_horizon", f"must be >= 1 epoch, got {self.placement_horizon}")
        if self.objective not in OBJECTIVES:
            raise ConfigError("objective", f"unknown objective {self.objective!r}; known: {', '.join(OBJECTIVES)}")


@dataclass(frozen=True, eq=False)
class OracleLabel:
    placement: np.ndarray  # (n_threads,)
    f_GHz: np.ndarray  # (n_cores,)
    instructions: float  # look-ahead progress of the chosen action
    energy_J: float  # its chip energy over the look-ahead
    score: float  # its objective score (``objective_score``)
    safe: bool
    evaluated: int  # candidates simulated


@dataclass(frozen=True, eq=False)
class InstanceProgress:
    """How each instance's progress depends on its frequency over the coming epochs: the engine's interval model
    (time per instruction = compute cycles / f + memory stall) fitted per instance to two look-ahead runs, one
    ``OracleConfig.progress_probe_levels`` levels below the other. An instance runs at its slowest thread (the
    barrier), so its frequency is its slowest core's.

    ``thread_instance`` (n_threads,); ``compute`` and ``stall`` (n_instances,): per instruction retired over the
    look-ahead, in GHz^-1 and in the look-ahead's own unit, so that ``rate(f) = 1 / (compute / f + stall)`` is the
    instance's instructions over the horizon at frequency f (0 for an instance that retired nothing)."""

    thread_instance: np.ndarray
    compute: np.ndarray
    stall: np.ndarray

    def rate(self, f_GHz: np.ndarray, instance: np.ndarray) -> np.ndarray:
        compute, stall = self.compute[instance], self.stall[instance]
        time = compute / np.maximum(f_GHz, 1e-9) + stall
        return np.where(time > 0, 1.0 / np.where(time > 0, time, 1.0), 0.0)

    @classmethod
    def fit(cls, thread_instance: np.ndarray, f_GHz: np.ndarray, instructions: np.ndarray) -> InstanceProgress:
        """From two runs: ``f_GHz`` (2, n_instances) each instance's slowest core, ``instructions`` (2, n_instances),
        run 0 the faster. Time per instruction ``1 / I = c / f + s``: two runs give c and s (clipped at 0: a run
        can gain nothing from frequency, never lose); an instance with no frequency step is taken as compute-bound."""
        with np.errstate(divide="ignore", invalid="ignore"):
            time = np.where(instructions > 0, 1.0 / instructions, 0.0)
            step = 1.0 / f_GHz[1] - 1.0 / f_GHz[0]
            compute = np.where(step > 0, (time[1] - time[0]) / np.where(step > 0, step, 1.0), time[0] * f_GHz[0])
        compute = np.where(instructions.min(axis=0) > 0, np.maximum(compute, 0.0), 0.0)
        stall = np.maximum(time[0] - compute / f_GHz[0], 0.0)
        return cls(thread_instance, compute, stall)


class Oracle:
    """Look-ahead search over (placement, per-core V/f) for one system (see the module docstring)."""

    def __init__(self, system: SystemDescription, power: PowerModel, nuca: NucaModel,
                 config: OracleConfig = OracleConfig()):
        self.system, self.power, self.nuca, self.config = system, power, nuca, config
        self.levels = system.dvfs.levels_GHz

    # -- V/f from the linear thermal model ---------------------------------------------------------------------------
    def linear_levels(self, twin: ThermalTwin, modes: np.ndarray, placements: np.ndarray,
                      thread_activity: np.ndarray, thread_running: np.ndarray, bank_W: float,
                      margin_K: float, horizon: int | None = None,
                      progress: InstanceProgress | None = None) -> np.ndarray:
        """(N, n_cores) highest level indices the linear model (one epoch ``twin`` from state ``modes``) keeps at
        or below ``T_max - margin_K`` over ``horizon`` epochs (default ``config.horizon``). Each round lowers, for
        each hot core, the running core that contributes most to its temperature; with ``progress``, the whole
        instance whose next level down removes the most of it per instruction lost (``instance_choice``)."""
        system = self.system
        n, n_cores = len(placements), system.n_cores
        horizon = horizon or self.config.horizon
        target_K = system.thermal.t_max_K - self.config.guard_K - margin_K
        activity = np.zeros((n, n_cores))
        running = np.zeros((n, n_cores), dtype=bool)
        rows, threads = np.nonzero(placements >= 0)
        cores = placements[rows, threads]
        activity[rows, cores] = thread_activity[threads]
        running[rows, cores] = thread_running[threads]
        if progress is not None:  # (N, n_cores, n_instances): which running core runs which instance
            member = np.zeros((n, n_cores, len(progress.compute)))
            member[rows, cores, progress.thread_instance[threads]] = thread_running[threads]
        # power of every core at every level (N, n_cores, n_levels); idle cores draw idle power whatever the level
        level_W = self.power.predict_core_W(self.levels[None, None, :], activity[..., None], target_K)
        level_W = np.where(running[..., None], level_W, system.power.idle_power_W) + system.power.router_static_W
        # k = 1..horizon epochs of constant power: decay^k and sum_{j<k} decay^j, each (H, order)
        decay_k = twin.decay[None, :] ** np.arange(1, horizon + 1)[:, None]
        forced = (1.0 - decay_k) / (1.0 - twin.decay)
        out_core = twin.core_output  # (n_cores, order)
        free_K = twin.ambient_K + (decay_k * modes) @ out_core.T  # (H, n_cores): no new power
        core_gain = twin.core_gain  # (order, n_cores)
        bank_rise = twin.bank_gain * bank_W  # (order,)
        # core j's power -> core i's temperature at the horizon's end (blame matrix)
        blame = out_core @ (forced[-1][:, None] * core_gain)  # (n_cores, n_cores)
        level = np.full((n, n_cores), len(self.levels) - 1)
        index_n = np.arange(n)[:, None]
        for _ in range(len(self.levels) * n_cores):
            p = level_W[index_n, np.arange(n_cores)[None, :], level]  # (N, n_cores)
            modal = p @ core_gain.T + bank_rise  # (N, order)
            temperature = free_K[None] + (forced[None] * modal[:, None, :]) @ out_core.T  # (N, H, n_cores)
            hot = temperature.max(axis=1) > target_K  # (N, n_cores)
            lowerable = running & (level > 0)
            hot &= lowerable.any(axis=1, keepdims=True)
            if not hot.any():
                break
            if progress is None:
                share = np.where(lowerable[:, None, :], blame[None] * p[:, None, :], -np.inf)  # (N, i, j)
                culprit = share.argmax(axis=2)  # (N, i)
                lower = np.zeros((n, n_cores), dtype=bool)
                candidate, victim = np.nonzero(hot)
                lower[candidate, culprit[candidate, victim]] = True
            else:
                lower = self.instance_choice(blame, level_W, level, lowerable, hot, member, progress)
            level = np.where(lower & lowerable, level - 1, level)
        return level

    def instance_choice(self, blame, level_W, level, lowerable, hot, member, progress: InstanceProgress):
        """(N, n_cores) the cores to lower one level: for each hot core i, every core of the instance k with the
        most kelvin removed from i per instruction lost, sum_j in k blame_ij dP_j / (rate_k(f) - rate_k(f - 1
        level)). An instance runs at its slowest core (the barrier), so it is lowered whole: its cores stay level
        and its rate is taken at that level. An instance that loses nothing (no gain from frequency) goes first."""
        n, n_cores = level.shape
        index_n, index_c = np.arange(n)[:, None], np.arange(n_cores)[None, :]
        saved_W = level_W[index_n, index_c, level] - level_W[index_n, index_c, np.maximum(level - 1, 0)]
        usable = member * lowerable[..., None]  # (N, n_cores, K)
        kelvin = (blame[None] * saved_W[:, None, :]) @ usable  # (N, i, K)
        # every core of an instance is at the same level: read it from any of them (level 0 when none can go lower)
        instance_level = (level[..., None] * usable).max(axis=1).astype(np.int64)  # (N, K)
        instance = np.arange(len(progress.compute))[None, :]
        lost = progress.rate(self.levels[instance_level], instance) \
            - progress.rate(self.levels[np.maximum(instance_level - 1, 0)], instance)  # (N, K)
        score = np.where(lost[:, None, :] > 0, kelvin / np.where(lost > 0, lost, 1.0)[:, None, :],
                         FREE_PRIORITY * kelvin)
        score = np.where(usable.any(axis=1)[:, None, :], score, -np.inf)
        chosen = score.argmax(axis=2)  # (N, i)
        lowered = np.zeros((n, usable.shape[2]), dtype=bool)
        candidate, victim = np.nonzero(hot)
        lowered[candidate, chosen[candidate, victim]] = True
        return (usable * lowered[:, None, :]).any(axis=2)

    def instance_progress(self, lookahead: Lookahead, placement: np.ndarray, level: np.ndarray,
                          thread_running: np.ndarray, state, horizon: int) -> InstanceProgress:
        """Each instance's progress against its frequency (``InstanceProgress``), measured by two look-ahead runs of
        ``placement``: at the levels ``level`` (n_cores,) and ``progress_probe_levels`` lower."""
        engine = lookahead.engine  # threads are numbered instance by instance (``EngineState.remaining``)
        n_instances = len(engine.tables.instance_end)
        thread_instance = np.repeat(np.arange(n_instances), engine.n_threads // n_instances)
        levels = np.stack([level, np.maximum(level - self.config.progress_probe_levels, 0)])
        result = lookahead.simulate(np.repeat(placement[None], 2, axis=0), self.levels[levels], horizon, 0.0, state)
        instructions = np.zeros((2, n_instances))
        np.add.at(instructions.T, thread_instance, result.thread_instructions.T)
        f_slowest = np.full((2, n_instances), np.inf)
        placed = (placement >= 0) & thread_running
        for run in range(2):
            np.minimum.at(f_slowest[run], thread_instance[placed], self.levels[levels[run, placement[placed]]])
        f_slowest = np.where(np.isfinite(f_slowest), f_slowest, self.levels[-1])
        return InstanceProgress.fit(thread_instance, f_slowest, instructions)

    # -- mappings ------------------------------------------------------------------------------------------------
    def neighbour_placements(self, placement: np.ndarray, temperature_K: np.ndarray,
                             thread_running: np.ndarray) -> np.ndarray:
        """The placement and its single-thread moves (see the module docstring); (M, n_threads)."""
        c, latency = self.config, self.nuca.mean_latency_ns
        movable = np.flatnonzero((placement >= 0) & thread_running)
        occupied = np.zeros(self.system.n_cores, dtype=bool)
        occupied[placement[placement >= 0]] = True
        free = np.flatnonzero(~occupied)
        result = [placement]
        if len(movable) == 0 or len(free) == 0:
            return np.array(result)
        src_core = placement[movable]
        sources = np.unique(np.r_[movable[np.argsort(-temperature_K[src_core], kind="stable")[:c.hot_sources]],
                                  movable[np.argsort(-latency[src_core], kind="stable")[:c.slow_sources]]])
        targets = np.unique(np.r_[free[np.argsort(temperature_K[free], kind="stable")[:c.cool_targets]],
                                  free[np.argsort(latency[free], kind="stable")[:c.fast_targets]]])
        for thread, core in itertools.product(sources, targets):
            moved = placement.copy()
            moved[thread] = core
            result.append(moved)
        return np.array(result)

    # -- the search ------------------------------------------------------------------------------------------------
    def label(self, lookahead: Lookahead, obs: Observation) -> OracleLabel:
        """The Oracle's action at the loop's current state (the start of the coming epoch)."""
        state = lookahead.state()
        placement = obs.thread_core
        thread_running = obs.thread_kernel_type >= 0
        thread_activity = np.where(placement >= 0, obs.activity[np.maximum(placement, 0)], 0.0)
        best = None
        evaluated = 0
        progress = None
        if self.config.kernel_aware:
            level = self.linear_levels(lookahead.twin, lookahead.modes, placement[None], thread_activity,
                                       thread_running, obs.uncore_power_W / self.system.n_banks, 0.0)[0]
            progress = self.instance_progress(lookahead, placement, level, thread_running, state, self.config.horizon)
            evaluated += 2
        for _ in range(self.config.rounds):
            start = placement if best is None else best.placement
            placements = self.neighbour_placements(start, state.temperature_K, thread_running)
            found = self.best_of(lookahead, placements, thread_activity, thread_running, obs.uncore_power_W,
                                 self.config.horizon, state, progress)
            evaluated += found.evaluated
            if best is None or _better(found.score, found.safe, best.score, best.safe):
                best = found
            else:
                break  # the local search converged
        return dataclasses.replace(best, evaluated=evaluated)

    def initial_label(self, lookahead: Lookahead, placements: np.ndarray) -> OracleLabel:
        """The best of the candidate initial placements ``placements`` (M, n_threads) in the starting state, each with
        the V/f the linear model sustains over ``placement_horizon`` epochs, scored by the same look-ahead and
        objective as ``label``. No thread has run yet, so every thread's activity is taken at its worst case, 1 (as
        the shield does before a thread has run)."""
        n_threads = placements.shape[1]
        return self.best_of(lookahead, np.unique(placements, axis=0), np.ones(n_threads),
                            np.ones(n_threads, dtype=bool), 0.0, self.config.placement_horizon, lookahead.state())

    def best_of(self, lookahead: Lookahead, placements: np.ndarray, thread_activity: np.ndarray,
                thread_running: np.ndarray, uncore_W: float, horizon: int, state,
                progress: InstanceProgress | None = None) -> OracleLabel:
        """The best (placement, V/f) for the mappings ``placements`` over ``horizon`` epochs: per mapping, the levels
        of the linear model at each margin and one level more (and the same by progress per kelvin, given
        ``progress``), energy objectives also capped; all simulated by the look-ahead together, the best safe one by
        the objective kept (``evaluated``: candidates simulated)."""
        twin, modes = lookahead.twin, lookahead.modes
        bank_W = uncore_W / self.system.n_banks
        candidates_p, candidates_f = [], []
        top = len(self.levels) - 1
        for rule in (None,) if progress is None else (None, progress):
            for margin in self.config.margins_K:
                level = self.linear_levels(twin, modes, placements, thread_activity, thread_running, bank_W, margin,
                                           horizon, rule)
                candidates_p.append(placements)
                candidates_f.append(self.levels[level])
            # the linear model is conservative (leakage at the limit): also try one level more on limited cores
            candidates_p.append(placements)
            candidates_f.append(self.levels[np.minimum(level + (level < top), top)])
        if self.config.objective != "throughput":  # energy objectives: slower V/f may be worth its time
            for cap in self.config.energy_caps:
                candidates_p.append(placements)
                candidates_f.append(self.levels[np.minimum(level, round(cap * top))])
        candidates_p, candidates_f = np.concatenate(candidates_p), np.concatenate(candidates_f)
        result = lookahead.simulate(candidates_p, candidates_f, horizon, self.config.guard_K, state)
        score = objective_score(self.config.objective, result.instructions, result.energy_J)
        pick = _pick(score, result.safe, result.epoch_end_peak_K)
        return OracleLabel(candidates_p[pick], candidates_f[pick], float(result.instructions[pick]),
                           float(result.energy_J[pick]), float(score[pick]), bool(result.safe[pick]),
                           len(candidates_p))

    def exhaustive_best(self, lookahead: Lookahead, thread_running: np.ndarray, batch: int = 256) -> OracleLabel:
        """Every placement of the running threads and every level of their cores (idle cores at f_min): only for
        tiny systems, to measure what ``label`` misses."""
        state = lookahead.state()
        n_cores = self.system.n_cores
        n_threads = len(thread_running)
        placements = np.array(list(itertools.permutations(range(n_cores), n_threads)))
        level_sets = np.array(list(itertools.product(range(len(self.levels)), repeat=n_threads)))
        all_p = np.repeat(placements, len(level_sets), axis=0)
        all_levels = np.tile(level_sets, (len(placements), 1))
        f = np.full((len(all_p), n_cores), self.levels[0])
        f[np.arange(len(all_p))[:, None], all_p] = self.levels[all_levels]
        results = [lookahead.simulate(all_p[start:start + batch], f[start:start + batch], self.config.horizon,
                                      self.config.guard_K, state) for start in range(0, len(all_p), batch)]
        instructions, energy, safe, peak = (np.concatenate([getattr(r, name) for r in results])
                                            for name in ("instructions", "energy_J", "safe", "epoch_end_peak_K"))
        score = objective_score(self.config.objective, instructions, energy)
        pick = _pick(score, safe, peak)
        return OracleLabel(all_p[pick], f[pick], float(instructions[pick]), float(energy[pick]), float(score[pick]),
                           bool(safe[pick]), len(all_p))


def _pick(score: np.ndarray, safe: np.ndarray, peak_K: np.ndarray) -> int:
    if safe.any():
        return int(np.argmax(np.where(safe, score, -np.inf)))
    return int(np.argmin(peak_K))


def _better(score: float, safe: bool, best_score: float, best_safe: bool) -> bool:
    return (safe and not best_safe) or (safe == best_safe and score > best_score * (1 + 1e-9))


class OracleGovernor(Governor):
    """The Oracle as a governor (slow: a look-ahead search every epoch; for evaluation and demonstrations)."""

    name = "oracle"
    source = "look-ahead search over placements and per-core V/f (ailfm.plugins.imitation.oracle, docs/ail.md)"

    def __init__(self, config: OracleConfig | None = None):
        self.config = config or OracleConfig()

    def setup(self, context: GovernorContext) -> None:
        super().setup(context)
        if context.lookahead is None:
            raise ConfigError("thermal", "the oracle's look-ahead needs a linear thermal model: use --thermal fast")
        self.oracle = Oracle(context.system, context.power, context.nuca, self.config)

    def initial_placement(self, temperature_K: np.ndarray) -> np.ndarray:
        if self.config.learn_placement:
            return self.initial_query(coolest_placement(self.context)).placement
        return coolest_placement(self.context)

    def query(self, obs: Observation) -> OracleLabel:
        """The Oracle's ``OracleLabel`` at the loop's current state."""
        return self.oracle.label(self.context.lookahead, obs)

    def initial_query(self, current: np.ndarray) -> OracleLabel:
        """The Oracle's initial placement (``Oracle.initial_label``): the best of ``INITIAL_CANDIDATES`` and
        ``current`` (the driver's own)."""
        candidates = [PLACEMENTS[name](self.context) for name in INITIAL_CANDIDATES]
        return self.oracle.initial_label(self.context.lookahead, np.array([current, *candidates]))

    def decide(self, obs: Observation) -> Decision:
        label = self.query(obs)
        return Decision(label.f_GHz, label.placement)


class EdpOracleGovernor(OracleGovernor):
    """The Oracle that labels for EDP (``ailfm ail train --objective edp``'s teacher) as a governor: what ``ail-edp``
    imitates, so its EDP against a baseline's tells the policy's imitation error from the teacher's own limit."""

    name = "oracle-edp"
    source = "look-ahead search scored by instructions^2 / energy (ailfm.plugins.imitation.oracle, docs/ail.md)"

    def __init__(self, config: OracleConfig | None = None):
        super().__init__(config or OracleConfig(objective="edp"))
