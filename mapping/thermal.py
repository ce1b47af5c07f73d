"""Thermally feasible evaluation of mappings: power over the schedule, the package's temperature, DTM throttling.

Power over the schedule. A job's dynamic energy (the evaluator's, per job) is spread over its run: the compute
part (MAC + vector + buffer) in proportion to its compute progress, the communication parts (NoP, DRAM) evenly
over its communication time (the transfers run at the link rate while the array computes). Compute and NoP
energy heat the job's chiplet (its array, buffer and die-to-die PHYs); DRAM energy heats the package's DRAM
blocks (power inputs named ``dram*``/``hbm*``), shared evenly, and leaves the package when it has none. Every
chiplet, busy or not, also draws idle power (clock tree, PHYs, control) and leakage that grows with its
temperature, ``P_leak = P_ref exp(beta (T - T_ref))`` (package.leakage_W; the constants are the hardware's
``package:`` section, package_spec.py), scaled by the supply voltage; the compiled kernel below evaluates the same
law (a test checks the two agree).

The thermal state runs through the serving iterations one after another, warm-started from the steady state of
the mapping's average power: the package's slow modes (lid and sink, seconds) see the serving load as its average,
and the scenario's iterations are one window of it. The steady state includes idle power and the leakage at its own
temperature (package.steady_with_leakage; a thermal runaway scores infinite). The average is made self-consistent
with throttling: a mapping that throttles draws less power on average than its thermal-blind schedule, so the warm
start's power moves halfway to the throttled run's own mean dynamic power and the run is repeated (at most
``WARM_START_ROUNDS`` runs, until they agree within ``WARM_START_TOLERANCE``). Without this step the DTM would see
the slow modes heated by the unthrottled power: on 120 random mappings on hot-36 the mean throttled/blind latency
ratio is 1.142 from the unthrottled warm start, 1.0199 after 4 runs (the default), 1.0197-1.0205 after 6, 8 and 12
(``python bench/compass_dtm_sensitivity.py``, which also measures the DTM period below).

DTM. Every ``dtm_period_s`` each chiplet's temperature is sensed: above ``t_max`` it runs at the throttled DVFS
level until it cools below ``t_max - hysteresis``. A throttled chiplet's compute progresses at the lower clock
and its compute energy costs ``voltage^2`` as much; the communication-bound part of a job (its NoP / DRAM time)
does not stretch. The list schedule is re-run event by event with these speeds (``dtm_schedule``, compiled):
jobs start in program order when their chiplet is free and their producers have finished, so a throttled job
delays its successors on every chiplet. With no chiplet ever throttled the result is the evaluator's, bit for
bit. The thermal step is the model's own ``LinearView`` of ``dtm_period_s`` (the reduced-order model's exact
modal step), the same algebra every other caller uses.

Figures: latency, energy and EDP after throttling (energy = the evaluator's dynamic energy at the voltages
actually used; idle + leakage energy reported beside it, ``static_energy_J``, so that the thermal-blind and
throttled EDPs count the same things), peak and time-mean chiplet temperature, time with the hottest chiplet
above ``t_max`` and chiplet-seconds throttled.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numba import njit

from ailfm.errors import ConfigError
from ailfm.mapping.encoding import Mapping
from ailfm.mapping.evaluator import Evaluation, Evaluator, JobTable
from ailfm.mapping.hardware import Hardware
from ailfm.mapping.package import idle_W, leakage_W, package_thermal, steady_with_leakage

KELVIN = 273.15
COMPUTE_PARTS = ("mac", "vector", "buffer")
# The warm start's self-consistency (see the module docstring): up to 4 runs, each moving the warm start's mean power
# halfway to the throttled run's own, until they agree within 2 % of the package's mean power [our choice; the
# residual is measured in docs/compass.md].
WARM_START_ROUNDS = 4
WARM_START_DAMPING = 0.5
WARM_START_TOLERANCE = 0.02
# The DVFS law of the project's 22 nm table, V = 0.6 V + 0.2 V/GHz x f (HotSniper energystats.py, as in
# gem5_configs/systems/snuca-64.yaml): halving a 1 GHz chiplet's clock lowers its supply from 0.8 V to 0.7 V.
V_AT_ZERO_V = 0.6
V_SLOPE_V_PER_GHZ = 0.2


def supply_V(frequency_GHz: float) -> float:
    """Supply voltage of a clock on the project's DVFS law."""
    return V_AT_ZERO_V + V_SLOPE_V_PER_GHZ * frequency_GHz


@dataclass(frozen=True)
class DtmSettings:
    """The DTM controller: trigger ``t_max_K`` (``dtm_settings``: the hardware's package section), release
    ``hysteresis_K`` below it (2 K, the co-simulator's DTM release, snuca-64.yaml after CoMeT), the throttled level
    (a fraction of each chiplet's clock, at the DVFS law's voltage for that clock, ``supply_V``: a 1 GHz chiplet
    halved runs at 0.8 -> 0.7 V, a 2 GHz one at 1.0 -> 0.8 V; leakage scales with the supply voltage: sub-threshold
    current held, a first-order choice [inferred]) and the sensing period."""

    t_max_K: float
    throttle_frequency: float = 0.5     # throttled clock / nominal
    hysteresis_K: float = 2.0
    # DTM sensing period and thermal step: 250 us. Measured (bench/compass_dtm_sensitivity.py) on 60 random mappings
    # of compass_speed.py's scenario on he-36 at 4x its clock (package_thermal; its fastest modes ~65 us, slowest
    # ~10 s): the mean throttled/blind latency ratio is 1.0101 at a 50 us period, 1.0106 at 100 us, 1.0077 at 250 us,
    # 1.0084 at 500 us, 1.0109 at 1 ms; the median peak moves 0.03 K at 250 us; the time above T_max (overshoot
    # between samples) grows from 0.04 ms at 50 us to 0.14 ms.
    dtm_period_s: float = 2.5e-4

    def __post_init__(self):
        for name in ("t_max_K", "dtm_period_s"):
            if not getattr(self, name) > 0:
                raise ConfigError(name, f"must be > 0, got {getattr(self, name)}")
        if not 0 < self.throttle_frequency <= 1:
            raise ConfigError("throttle_frequency", f"must be in (0, 1] of nominal, got {self.throttle_frequency}")
        if self.hysteresis_K < 0:
            raise ConfigError("hysteresis_K", f"must be >= 0, got {self.hysteresis_K}")

    def with_t_max(self, t_max_K: float) -> DtmSettings:
        return replace(self, t_max_K=t_max_K)

    def throttled_voltage(self, frequency_GHz: np.ndarray) -> np.ndarray:
        """Throttled supply / nominal supply of chiplets clocked at ``frequency_GHz``."""
        frequency_GHz = np.asarray(frequency_GHz, float)
        return supply_V(self.throttle_frequency * frequency_GHz) / supply_V(frequency_GHz)


def dtm_settings(hardware: Hardware, t_max_C: float | None = None) -> DtmSettings:
    """The DTM of ``hardware``: T_max from its package section (package_spec.py) unless ``t_max_C`` overrides it."""
    return DtmSettings(hardware.package.t_max_K if t_max_C is None else float(t_max_C) + KELVIN)


@dataclass(frozen=True)
class ThermalEvaluation:
    """Per genome: throttled latency (s), energy (J: dynamic at the voltages used), the thermal-blind figures, idle
    + leakage energy (J), peak and mean chiplet temperature (K), time above T_max (s), throttled chiplet-seconds."""

    latency_s: np.ndarray
    energy_J: np.ndarray
    blind: Evaluation
    static_energy_J: np.ndarray
    peak_K: np.ndarray
    mean_K: np.ndarray
    above_s: np.ndarray
    throttled_s: np.ndarray
    iteration_latency_s: np.ndarray  # (P, I)

    @property
    def edp(self) -> np.ndarray:
        return self.latency_s * self.energy_J


@dataclass(frozen=True)
class ThermalDetails:
    """One mapping's traces every DTM period: time (s, end of each step), chiplet temperatures (K), power of every
    thermal input (W, mean over the step), throttled flags; and its throttled schedule (s, per iteration)."""

    evaluation: ThermalEvaluation
    time_s: np.ndarray           # (S,)
    temperature_K: np.ndarray    # (S, n_chiplets)
    power_W: np.ndarray          # (S, n_power)
    throttled: np.ndarray        # (S, n_chiplets) bool
    start_s: np.ndarray          # (I, B, L) throttled schedule, relative to each iteration's start
    finish_s: np.ndarray         # (I, B, L)
    initial_K: np.ndarray        # (n_chiplets,) warm start


class ThermalEvaluator:
    """The evaluator's mappings on its hardware's package thermal model (``package.package_thermal``: power inputs
    and outputs the chiplets in Hardware order, then the DRAM blocks) with DTM; ``evaluate`` is vectorised over a
    population. Idle power and leakage come from the hardware's package section (package.idle_W, leakage_W)."""

    def __init__(self, evaluator: Evaluator, dtm: DtmSettings | None = None):
        hardware = evaluator.hardware
        model = package_thermal(hardware)
        n_ch = hardware.n_chiplets
        self.evaluator = evaluator
        self.encoding = evaluator.encoding
        self.hardware = hardware
        self.dtm = dtm_settings(hardware) if dtm is None else dtm
        self.power_names = tuple(model.power_names)
        view = model.linear_view(self.dtm.dtm_period_s)
        self._decay = np.ascontiguousarray(view.decay)
        self._gain = np.ascontiguousarray(view.gain)
        self._output = np.ascontiguousarray(view.output[:n_ch])
        self._ambient_K = float(view.ambient_K)
        self._idle_W = idle_W(hardware)
        clocks = np.array([hardware.types[k].frequency_GHz for k in hardware.chiplet_type])
        self._slow_v = self.dtm.throttled_voltage(clocks)
        spec = hardware.package
        self._leakage_ref_W = leakage_W(hardware, np.full(n_ch, spec.leakage_ref_K))
        dram = [k for k, name in enumerate(self.power_names)
                if k >= n_ch and name.lower().startswith(("dram", "hbm"))]
        self._dram_share = np.zeros(len(self.power_names))
        self._dram_share[dram] = 1.0 / max(len(dram), 1)

    # --------------------------------------------------------------------------------------------- public
    def evaluate(self, genomes: np.ndarray) -> ThermalEvaluation:
        return self._run(np.atleast_2d(np.asarray(genomes, np.int64)), trace=False)[0]

    def evaluate_mapping(self, mapping: Mapping) -> ThermalEvaluation:
        return self.evaluate(self.encoding.encode(mapping)[None, :])

    def details(self, mapping: Mapping) -> ThermalDetails:
        return self._run(self.encoding.encode(mapping)[None, :], trace=True)[1]

    def mean_power_W(self, genomes: np.ndarray) -> np.ndarray:
        """(P, n_power) mean dynamic power of every thermal input over each genome's thermal-blind schedule (the
        warm start's power before idle and leakage)."""
        jobs = self.evaluator.jobs(genomes)
        return self._average_power_W(jobs, self.evaluator.schedule(jobs))

    def steady_K(self, power_W: np.ndarray) -> np.ndarray:
        """(..., n_chiplets) steady chiplet temperatures of (..., n_power) dynamic powers, with idle power and the
        leakage at the chiplets' own temperature (package.steady_with_leakage; inf on thermal runaway)."""
        return self._steady(np.asarray(power_W, float))[0][..., :self.hardware.n_chiplets]

    # --------------------------------------------------------------------------------------------- core
    def _steady(self, power_W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Steady die temperatures (K) and the total power of every input (W) at them (dynamic + idle + leakage)."""
        n_ch = self.hardware.n_chiplets
        chiplet_W = power_W[..., :n_ch] + self._idle_W
        temperature, leak = steady_with_leakage(self.hardware, chiplet_W, power_W[..., n_ch:])
        total = power_W.copy()
        total[..., :n_ch] = chiplet_W + leak
        return temperature, total

    def _average_power_W(self, jobs: JobTable, blind: Evaluation) -> np.ndarray:
        """(P, n_power) mean dynamic power of every thermal input over the thermal-blind schedule."""
        n_pop, n_ch = jobs.n_genomes, self.hardware.n_chiplets
        on_chip = (sum(jobs.energy_pJ[k] for k in COMPUTE_PARTS) + jobs.energy_pJ["nop"]) * 1e-12
        genome = np.tile(np.arange(n_pop), jobs.n_iterations)[:, None]
        index = (genome * (n_ch + 1) + jobs.chip).ravel()
        per_chip = np.bincount(index, on_chip.ravel(), minlength=n_pop * (n_ch + 1)).reshape(n_pop, n_ch + 1)
        dram = np.bincount(genome.ravel(), jobs.energy_pJ["dram"].sum(axis=1) * 1e-12, minlength=n_pop)
        power = dram[:, None] * self._dram_share[None, :]
        power[:, :n_ch] += per_chip[:, :n_ch]
        return power / blind.latency_s[:, None]

    def _run(self, genomes: np.ndarray, trace: bool):
        ev = self.evaluator
        jobs = ev.jobs(genomes)
        blind = ev.schedule(jobs)
        n_pop, n_it = jobs.n_genomes, jobs.n_iterations
        p = self.dtm
        compute_J = sum(jobs.energy_pJ[k] for k in COMPUTE_PARTS) * 1e-12
        nop_J, dram_J = jobs.energy_pJ["nop"] * 1e-12, jobs.energy_pJ["dram"] * 1e-12
        comm_s = np.maximum(jobs.nop_s, jobs.dram_s)
        n_steps = _trace_steps(blind, p) if trace else 0
        warm_W = self._average_power_W(jobs, blind)   # the warm start's mean dynamic power, refined below
        todo = np.arange(n_pop)
        kept = [np.zeros((n_pop, n_it)), *(np.zeros(n_pop) for _ in range(6))]  # each genome's last run
        runaway = np.zeros(n_pop, bool)
        for round_ in range(WARM_START_ROUNDS):
            start_K, total_W = self._steady(warm_W[todo])
            runaway[todo] = ~np.isfinite(start_K).all(axis=1)
            total_W = np.where(runaway[todo, None], 0.0, total_W)  # scored infinite below
            rows = (np.arange(n_it)[:, None] * n_pop + todo[None, :]).ravel()
            out = dtm_schedule(jobs.order[rows], jobs.chip[rows], jobs.predecessors, jobs.compute_s[rows],
                               comm_s[rows], compute_J[rows], nop_J[rows], dram_J[rows], jobs.floor_s[rows],
                               len(todo), self._decay, self._gain, self._output, self._ambient_K, p.dtm_period_s,
                               total_W, self._dram_share, self._idle_W, self._leakage_ref_W,
                               self.hardware.package.leakage_ref_K, self.hardware.package.leakage_beta_per_K,
                               p.t_max_K, p.hysteresis_K, p.throttle_frequency, self._slow_v, n_steps)
            for array, value in zip(kept, out[:7], strict=True):
                array[todo] = value
            # self-consistency: the run's own mean dynamic power against the warm start's (throttling lowers it)
            run_W = out[-1] / out[0].sum(axis=1)[:, None]
            gap = np.abs(run_W - warm_W[todo]).sum(axis=1) / np.maximum(warm_W[todo].sum(axis=1), 1e-30)
            moving = (gap > WARM_START_TOLERANCE) & ~runaway[todo]
            if round_ + 1 == WARM_START_ROUNDS or not moving.any():
                break
            warm_W[todo[moving]] += WARM_START_DAMPING * (run_W[moving] - warm_W[todo[moving]])
            todo = todo[moving]
        it_latency, saved_J, static_J, peak, mean, above, throttled = kept
        latency = it_latency.sum(axis=1)
        bad = runaway | ~np.isfinite(peak)
        result = ThermalEvaluation(
            latency_s=np.where(bad, np.inf, latency), energy_J=np.where(bad, np.inf, blind.energy_J - saved_J),
            blind=blind, static_energy_J=static_J, peak_K=np.where(bad, np.inf, peak),
            mean_K=np.where(bad, np.inf, mean), above_s=np.where(bad, latency, above), throttled_s=throttled,
            iteration_latency_s=it_latency)
        if not trace:
            return result, None
        start, finish, t_trace, p_trace, s_trace = out[7:12]  # one genome: its last run
        shape = (n_it, self.encoding.n_micro_batches, self.encoding.n_layers)
        steps = np.count_nonzero(np.isfinite(t_trace))
        return result, ThermalDetails(
            evaluation=result, time_s=t_trace[:steps], temperature_K=s_trace[:steps, :, 0],
            power_W=p_trace[:steps], throttled=s_trace[:steps, :, 1] > 0,
            start_s=start.reshape(shape), finish_s=finish.reshape(shape),
            initial_K=self._ambient_K + self._output @ (self._gain @ total_W[0] / (1.0 - self._decay)))


def _trace_steps(blind: Evaluation, power: DtmSettings) -> int:
    """Trace rows to allocate: the throttled run lasts at most the blind one with all compute at the lower clock."""
    return int(np.ceil(blind.latency_s[0] / power.throttle_frequency / power.dtm_period_s)) + 2


@njit(cache=True, inline="always")
def _deposit(c, j, r, a, b, start, is_slow, slow_f, v2, compute_s, comm_s, compute_J, nop_J, dram_J, c_end, m_end,
             n_ch, dram_share, step_J, saved, p):
    """Bank job ``j``'s dynamic energy of its run from ``a`` to ``b`` on chiplet ``c``: compute energy by compute
    progress (at the throttled voltage^2 when slow), NoP energy on the chiplet and DRAM energy on the DRAM blocks
    over its communication time. A part with zero duration is banked at the job's start."""
    first = a == start
    if compute_s[r, j] > 0.0:
        progress = min(b, c_end) - a
        share = (progress * (slow_f if is_slow else 1.0)) / compute_s[r, j] if progress > 0.0 else 0.0
    else:
        share = 1.0 if first else 0.0
    energy = compute_J[r, j] * share
    if is_slow:
        saved[p] += energy * (1.0 - v2[c])
        energy *= v2[c]
    if comm_s[r, j] > 0.0:
        overlap = min(b, m_end) - a
        comm_share = overlap / comm_s[r, j] if overlap > 0.0 else 0.0
    else:
        comm_share = 1.0 if first else 0.0
    if c < n_ch:
        step_J[c] += energy + nop_J[r, j] * comm_share
    dram = dram_J[r, j] * comm_share
    if dram > 0.0:
        for k in range(n_ch, step_J.shape[0]):
            step_J[k] += dram * dram_share[k]


@njit(cache=True, fastmath=True)
def _thermal_step(p, fraction, end_s, modes, temp, slow, step_J, power, decay, gain, output, ambient_K, dt_s,
                  idle_W, leakage_W, leakage_ref_K, beta, slow_v, t_max_K, static_J, peak, mean, above, throttled_s,
                  n_step, t_trace, p_trace, s_trace, dynamic_J):
    """One DTM period: the banked dynamic energy as mean power, plus idle and leakage at the step's start
    temperature and level; the package's modal step; the statistics (weighted by the ``fraction`` of the period the
    scenario lasts) and the trace row."""
    n_ch = temp.shape[0]
    for k in range(power.shape[0]):
        power[k] = step_J[k] / dt_s
        dynamic_J[p, k] += step_J[k]
        step_J[k] = 0.0
    for c in range(n_ch):
        rise = min(temp[c] - leakage_ref_K, 500.0)
        static = idle_W[c] + leakage_W[c] * np.exp(beta * rise) * (slow_v[c] if slow[c] else 1.0)
        power[c] += static
        static_J[p] += static * dt_s * fraction
        if slow[c]:
            throttled_s[p] += dt_s * fraction
    for m in range(modes.shape[0]):  # explicit loops: small matrices, no BLAS call per period
        forced = 0.0
        for k in range(power.shape[0]):
            forced += gain[m, k] * power[k]
        modes[m] = decay[m] * modes[m] + forced
    hottest = -np.inf
    total = 0.0
    for c in range(n_ch):
        rise = 0.0
        for m in range(modes.shape[0]):
            rise += output[c, m] * modes[m]
        temp[c] = ambient_K + rise
        hottest = max(hottest, temp[c])
        total += temp[c]
    peak[p] = max(peak[p], hottest)
    mean[p] += total / n_ch * dt_s * fraction
    if hottest > t_max_K:
        above[p] += dt_s * fraction
    if n_step < t_trace.shape[0]:
        t_trace[n_step] = end_s
        p_trace[n_step] = power
        for c in range(n_ch):
            s_trace[n_step, c, 0] = temp[c]
            s_trace[n_step, c, 1] = 1.0 if slow[c] else 0.0


@njit(cache=True)
def dtm_schedule(order, chip, pred, compute_s, comm_s, compute_J, nop_J, dram_J, floor_s, n_pop, decay, gain,
                 output, ambient_K, dt_s, warm_W, dram_share, idle_W, leakage_W, leakage_ref_K, beta, t_max_K,
                 hysteresis_K, slow_f, slow_v, trace_steps):
    """The list schedule of every genome re-run event by event under DTM, with the package's temperature stepped
    every ``dt_s`` from the steady state of ``warm_W`` (P, n_power; the modal state ``gain @ p / (1 - decay)``).
    Rows are (iteration, genome) iteration-major, as ``Evaluator.jobs`` stacks them; iterations of one genome run
    back to back. Returns per genome: iteration latencies (P, I), compute energy saved by the
    lower voltage (J), idle + leakage energy (J), peak and time-mean chiplet temperature (K), time with the hottest
    chiplet above T_max (s), throttled chiplet-seconds; the (rows, jobs) start and finish times of every job
    (relative to its iteration; filled only with ``trace_steps`` > 0, i.e. one genome), the per-step traces and the
    dynamic energy banked on every thermal input (P, n_power)."""
    n_rows, n_jobs = order.shape
    n_it = n_rows // n_pop
    n_ch = idle_W.shape[0]
    n_power = gain.shape[1]
    v2 = np.append(slow_v * slow_v, 1.0)  # per chiplet; the virtual chiplet of empty jobs never throttles
    it_latency = np.zeros((n_pop, n_it))
    saved = np.zeros(n_pop)
    static_J = np.zeros(n_pop)
    peak = np.full(n_pop, -np.inf)
    mean = np.zeros(n_pop)
    above = np.zeros(n_pop)
    throttled_s = np.zeros(n_pop)
    dynamic_J = np.zeros((n_pop, n_power))
    kept = n_rows if trace_steps > 0 else 0
    start_out = np.zeros((kept, n_jobs))
    finish_out = np.zeros((kept, n_jobs))
    t_trace = np.full(trace_steps, np.inf)
    p_trace = np.zeros((trace_steps, n_power))
    s_trace = np.zeros((trace_steps, n_ch, 2))

    modes = np.zeros(decay.shape[0])
    temp = np.zeros(n_ch)
    slow = np.zeros(n_ch + 1, np.bool_)  # the virtual chiplet of empty jobs never throttles
    step_J = np.zeros(n_power)
    power = np.zeros(n_power)
    head = np.empty(n_ch + 1, np.int64)
    tail = np.empty(n_ch + 1, np.int64)
    nxt = np.empty(n_jobs, np.int64)
    finish = np.empty(n_jobs + 1)
    free = np.zeros(n_ch + 1)
    running = np.empty(n_ch + 1, np.int64)
    j_start = np.zeros(n_ch + 1)
    seg = np.zeros(n_ch + 1)
    c_end = np.zeros(n_ch + 1)
    m_end = np.zeros(n_ch + 1)
    for p in range(n_pop):
        for m in range(modes.shape[0]):  # the steady modal state of the warm start's power
            forced = 0.0
            for k in range(n_power):
                forced += gain[m, k] * warm_W[p, k]
            modes[m] = forced / (1.0 - decay[m])
        for c in range(n_ch):
            temp[c] = ambient_K + np.dot(output[c], modes)
            slow[c] = temp[c] > t_max_K
            peak[p] = max(peak[p], temp[c])
        it_start = 0.0         # absolute start of the current iteration
        step_start = 0.0
        step_end = dt_s        # absolute end of the current DTM period
        step_J[:] = 0.0
        n_step = 0
        for it in range(n_it):
            r = it * n_pop + p
            head[:] = -1
            tail[:] = -1
            for k in range(n_jobs):  # each chiplet's queue in program order
                j = order[r, k]
                c = chip[r, j]
                nxt[j] = -1
                if head[c] < 0:
                    head[c] = j
                else:
                    nxt[tail[c]] = j
                tail[c] = j
            finish[:] = -1.0
            finish[n_jobs] = 0.0
            free[:] = 0.0
            running[:] = -1
            left = n_jobs
            makespan = 0.0
            soonest = -np.inf  # the next start or finish in the iteration's time (-inf: unknown)
            while True:
                rel_end = step_end - it_start  # the period's end in the iteration's time
                changed = soonest < rel_end
                while changed:  # start and finish every job the period holds (speeds are fixed within it)
                    changed = False  # a finish may make a job on an already visited chiplet ready: visit again
                    soonest = np.inf
                    for c in range(n_ch + 1):
                        while True:  # this chiplet's jobs in turn, as far as the period goes
                            if running[c] >= 0:
                                j = running[c]
                                end = max(c_end[c], m_end[c])
                                if end > rel_end:
                                    soonest = min(soonest, end)
                                    break
                                _deposit(c, j, r, seg[c], end, j_start[c], slow[c], slow_f, v2, compute_s, comm_s,
                                         compute_J, nop_J, dram_J, c_end[c], m_end[c], n_ch, dram_share, step_J,
                                         saved, p)
                                finish[j] = end
                                if kept:
                                    start_out[r, j] = j_start[c]
                                    finish_out[r, j] = end
                                free[c] = end
                                makespan = max(makespan, end)
                                running[c] = -1
                                left -= 1
                                changed = True
                            if head[c] < 0:
                                break
                            j = head[c]
                            ready = free[c]
                            for q in pred[j]:
                                if finish[q] < 0.0:
                                    ready = np.inf
                                    break
                                ready = max(ready, finish[q])
                            if ready >= rel_end:
                                soonest = min(soonest, ready)
                                break
                            running[c] = j
                            j_start[c] = ready
                            seg[c] = ready
                            c_end[c] = ready + (compute_s[r, j] / slow_f if slow[c] else compute_s[r, j])
                            m_end[c] = ready + comm_s[r, j]
                            head[c] = nxt[j]
                if left == 0:
                    latency = max(makespan, floor_s[r])
                    it_latency[p, it] = latency
                    it_start += latency
                    break
                for c in range(n_ch + 1):  # jobs run past the period: bank their energy so far
                    if running[c] >= 0:
                        _deposit(c, running[c], r, seg[c], rel_end, j_start[c], slow[c], slow_f, v2, compute_s,
                                 comm_s, compute_J, nop_J, dram_J, c_end[c], m_end[c], n_ch, dram_share, step_J,
                                 saved, p)
                        seg[c] = rel_end
                _thermal_step(p, 1.0, step_end, modes, temp, slow, step_J, power, decay, gain, output, ambient_K,
                              dt_s, idle_W, leakage_W, leakage_ref_K, beta, slow_v, t_max_K, static_J, peak, mean,
                              above, throttled_s, n_step, t_trace, p_trace, s_trace, dynamic_J)
                n_step += 1
                step_start = step_end
                step_end += dt_s
                for c in range(n_ch):  # DTM: throttle above T_max, release below T_max - hysteresis
                    now = temp[c] > t_max_K or (slow[c] and temp[c] > t_max_K - hysteresis_K)
                    if now != slow[c] and running[c] >= 0 and c_end[c] > rel_end:
                        # the job's remaining compute continues at the new clock
                        ratio = slow_f if now else 1.0 / slow_f
                        c_end[c] = rel_end + (c_end[c] - rel_end) / ratio
                        soonest = -np.inf
                    slow[c] = now
        fraction = (it_start - step_start) / dt_s  # the last period: the scenario ends inside it
        if fraction > 0.0:
            _thermal_step(p, fraction, it_start, modes, temp, slow, step_J, power, decay, gain, output, ambient_K,
                          dt_s, idle_W, leakage_W, leakage_ref_K, beta, slow_v, t_max_K, static_J, peak, mean,
                          above, throttled_s, n_step, t_trace, p_trace, s_trace, dynamic_J)
        mean[p] = mean[p] / it_start if it_start > 0.0 else temp.mean()
    return it_latency, saved, static_J, peak, mean, above, throttled_s, start_out, finish_out, t_trace, p_trace, \
        s_trace, dynamic_J


def thermal_evaluator(evaluator: Evaluator, t_max_C: float | None = None) -> ThermalEvaluator:
    """The thermal evaluator of ``evaluator``'s hardware, T_max overridden by ``t_max_C`` when given."""
    return ThermalEvaluator(evaluator, dtm_settings(evaluator.hardware, t_max_C))
