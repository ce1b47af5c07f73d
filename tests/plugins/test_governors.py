"""One contract over every governor, plus the specific rules of each."""

from __future__ import annotations

import numpy as np
import pytest

from ailfm.errors import ConfigError
from ailfm.plugins.epoch.chip_thermal import ChipThermal, ThermalTwin
from ailfm.plugins.governors.base import GovernorContext, Observation
from ailfm.plugins.governors.registry import BUILTIN_GOVERNORS, make_governor
from ailfm.plugins.system.power import PowerModel

N_THREADS = 48


@pytest.fixture(scope="module")
def context(system, nuca, fast_thermal):
    chip = ChipThermal.of(system, fast_thermal)
    return GovernorContext(system, nuca, PowerModel(system), N_THREADS, np.repeat(np.arange(3), 16),
                           ("gemm", "gemv"), chip.thermal_resistance_K_per_W,
                           lambda: ThermalTwin.of(system, fast_thermal))


def random_observation(system, rng, epoch=None, placement=None) -> Observation:
    n = system.n_cores
    if placement is None:
        placement = rng.permutation(n)[:N_THREADS]
        placement[rng.random(N_THREADS) < 0.1] = -1
    return Observation(
        epoch=int(rng.integers(0, 100)) if epoch is None else epoch, time_s=float(rng.uniform(0, 1)),
        temperature_K=rng.uniform(318, 360, n), power_W=rng.uniform(0.2, 6, n),
        f_GHz=rng.choice(system.dvfs.levels_GHz, n), f_effective_GHz=rng.choice(system.dvfs.levels_GHz, n),
        utilisation=rng.uniform(0, 1, n), ips=rng.uniform(0, 4e9, n), activity=rng.uniform(0, 1, n),
        dtm_throttled=rng.random(n) < 0.2, thread_core=placement, thread_kernel_type=rng.integers(-1, 2, N_THREADS),
        thread_ips=rng.uniform(0, 4e9, N_THREADS), thread_llc_apki=rng.uniform(0, 80, N_THREADS),
        thread_dram_mpki=rng.uniform(0, 60, N_THREADS), uncore_power_W=float(rng.uniform(1, 10)))


@pytest.mark.parametrize("name", sorted(BUILTIN_GOVERNORS))
def test_every_governor_makes_valid_decisions(name, system, context):
    governor = make_governor(name)
    governor.setup(context)
    start = governor.initial_placement(np.full(system.n_cores, system.thermal.ambient_K))
    assert start.shape == (N_THREADS,) and len(np.unique(start)) == N_THREADS
    assert start.min() >= 0 and start.max() < system.n_cores
    rng = np.random.default_rng(0)
    for trial in range(25):
        decision = governor.decide(random_observation(system, rng, epoch=trial))
        f = np.asarray(decision.f_GHz)
        assert f.shape == (system.n_cores,) and np.all(np.isfinite(f))
        assert np.all(f >= system.dvfs.f_min_GHz - 1e-9) and np.all(f <= system.dvfs.f_max_GHz + 1e-9)
        if decision.thread_core is not None:
            placed = decision.thread_core[decision.thread_core >= 0]
            assert decision.thread_core.shape == (N_THREADS,) and len(np.unique(placed)) == len(placed)
            assert placed.size == 0 or placed.max() < system.n_cores


def test_unknown_governor_lists_the_known_ones():
    with pytest.raises(ConfigError, match="unknown governor 'schedutil'; known: ") as err:
        make_governor("schedutil")
    assert all(name in str(err.value) for name in BUILTIN_GOVERNORS)


def test_every_governor_cites_a_source():
    assert all(cls.source for cls in BUILTIN_GOVERNORS.values())


def test_ondemand_and_conservative_follow_the_kernel_rules(system, context):
    rng = np.random.default_rng(1)
    obs = random_observation(system, rng)
    load = np.linspace(0, 1, system.n_cores)
    obs = Observation(**{**obs.__dict__, "utilisation": load, "f_GHz": np.full(system.n_cores, 2.0)})
    ondemand, conservative = make_governor("ondemand"), make_governor("conservative")
    ondemand.setup(context)
    conservative.setup(context)
    f = ondemand.decide(obs).f_GHz
    assert np.all(f[load > 0.8] == 4.0) and f[0] == 1.0 and f[32] == pytest.approx(1.0 + 3.0 * load[32])
    g = conservative.decide(obs).f_GHz
    assert np.all(g[load > 0.8] == pytest.approx(2.2)) and np.all(g[load < 0.2] == pytest.approx(1.8))
    assert np.all(g[(load >= 0.2) & (load <= 0.8)] == 2.0)


def test_tsp_budget_is_thermally_safe_in_steady_state(system, context, fast_thermal):
    """With every active core drawing its TSP budget, no core exceeds T_max at steady state."""
    from ailfm.plugins.governors.tsp import thermal_safe_power

    r_cc, r_cb = context.thermal_resistance_K_per_W
    active = np.zeros(system.n_cores, dtype=bool)
    active[:N_THREADS] = True
    idle = np.where(active, 0.0, system.power.idle_power_W)
    bank = np.full(system.n_banks, 0.05)
    headroom = system.thermal.t_max_K - system.thermal.ambient_K
    budget = thermal_safe_power(r_cc, r_cb @ bank + r_cc @ idle, active, headroom)
    chip = ChipThermal.of(system, fast_thermal)
    core = np.where(active, budget, idle)
    steady = fast_thermal.steady(chip.power_vector(core, bank, np.zeros(system.n_cores)))[chip.core_output]
    assert steady.max() == pytest.approx(system.thermal.t_max_K, abs=1e-6)
    steady_more = fast_thermal.steady(chip.power_vector(core * 1.05, bank, np.zeros(system.n_cores)))
    assert steady_more[chip.core_output].max() > system.thermal.t_max_K


def test_coldest_core_moves_a_hot_thread_to_the_coldest_free_core(system, context):
    governor = make_governor("coldest-core")
    governor.setup(context)
    rng = np.random.default_rng(2)
    placement = np.arange(N_THREADS)
    obs = random_observation(system, rng, placement=placement)
    temperature = np.full(system.n_cores, 340.0)
    temperature[5] = 356.0  # above the critical 78 C
    temperature[60] = 320.0  # the coldest free core
    obs = Observation(**{**obs.__dict__, "temperature_K": temperature})
    decision = governor.decide(obs)
    assert decision.thread_core[5] == 60 and np.sum(decision.thread_core != placement) == 1


def test_pcgov_maps_on_low_amd_cores_and_pcmig_on_low_latency(system, context, nuca):
    for name in ("pcgov", "pcmig"):
        governor = make_governor(name)
        governor.setup(context)
        cores = governor.initial_placement(np.full(system.n_cores, 318.15))
        assert nuca.mean_latency_ns[cores].mean() < nuca.mean_latency_ns.mean()
