"""The Oracle: its look-ahead reproduces the loop, it keeps below T_max, and it never beats exhaustive search."""

from __future__ import annotations

import numpy as np

from ailfm.plugins.governors.base import Decision
from ailfm.plugins.imitation.oracle import OracleGovernor
from ailfm.plugins.imitation.rollout import simulation

HORIZON = 3


class _Probe(OracleGovernor):
    """f_max for ``start`` epochs, then at epoch ``start`` runs ``probe(self, obs)`` and holds ``action`` after."""

    def __init__(self, start, probe):
        super().__init__()
        self.start, self.probe, self.action = start, probe, None

    def decide(self, obs):
        if obs.epoch < self.start:
            return Decision(np.full(self.context.n_cores, self.context.system.dvfs.f_max_GHz))
        if obs.epoch == self.start:
            self.action = self.probe(self, obs)
        return self.action


def test_lookahead_reproduces_the_loop_and_candidates_are_independent(tiny_scenario):
    predictions = {}

    def probe(governor, obs):
        f_a = np.full(governor.context.n_cores, 3.0)
        f_b = np.full(governor.context.n_cores, 1.0)
        moved = obs.thread_core.copy()
        moved[0] = next(c for c in range(governor.context.n_cores) if c not in obs.thread_core)
        placements = np.array([obs.thread_core, moved, obs.thread_core])
        predictions["result"] = governor.context.lookahead.simulate(placements, np.array([f_a, f_b, f_a]), HORIZON)
        return Decision(f_a, obs.thread_core)

    start = tiny_scenario.warmup_epochs
    governor = _Probe(start, probe)
    result = simulation(tiny_scenario, governor).run((start + HORIZON) * 1e-3)
    predicted = predictions["result"]
    actual_instructions = result.per_core["instructions"][start:start + HORIZON].sum()
    actual_peak = result.epochs["peak_temp_C"].iloc[start:start + HORIZON].max() + 273.15
    assert np.isclose(predicted.instructions[0], actual_instructions, rtol=1e-9)
    assert np.isclose(predicted.peak_core_K[0], actual_peak, atol=1e-6)
    actual_energy = result.epochs["chip_power_W"].iloc[start:start + HORIZON].sum() * result.epoch_s
    assert np.isclose(predicted.energy_J[0], actual_energy, rtol=1e-9)
    assert predicted.instructions[0] == predicted.instructions[2]
    assert predicted.peak_core_K[0] == predicted.peak_core_K[2]
    assert predicted.instructions[1] != predicted.instructions[0]


def test_oracle_is_safe_and_never_beats_exhaustive_search(tiny_scenario):
    found = {}

    def probe(governor, obs):
        found["oracle"] = label = governor.query(obs)
        found["exhaustive"] = governor.oracle.exhaustive_best(governor.context.lookahead, obs.thread_kernel_type >= 0)
        return Decision(label.f_GHz, label.placement)

    governor = _Probe(tiny_scenario.warmup_epochs, probe)
    simulation(tiny_scenario, governor).run((tiny_scenario.warmup_epochs + 1) * 1e-3)
    oracle, exhaustive = found["oracle"], found["exhaustive"]
    assert exhaustive.evaluated == 56 * 16  # 8 * 7 placements of 2 threads x 4^2 levels
    assert oracle.safe and exhaustive.safe
    assert oracle.instructions <= exhaustive.instructions * (1 + 1e-12)
    assert oracle.evaluated < exhaustive.evaluated / 10


def test_oracle_rollout_labels_every_state_and_stays_below_tmax(oracle_rollout, tiny_scenario):
    assert oracle_rollout.queries == oracle_rollout.states == tiny_scenario.epochs
    assert oracle_rollout.time_above_tmax_s == 0.0
    assert oracle_rollout.features.shape == (tiny_scenario.epochs, 8, 38)
    fractions, occupancy = oracle_rollout.targets[..., 0], oracle_rollout.targets[..., 1]
    assert np.all((fractions >= 0) & (fractions <= 1)) and np.all(occupancy.sum(axis=1) == tiny_scenario.threads)


def _cool_tiny_system(tiny_system_path, tmp_path):
    """The tiny system with T_max out of reach (95 C), so V/f is the objective's choice alone."""
    from pathlib import Path

    text = Path(tiny_system_path).read_text()
    for old, new in (("t_max_C: 49.0", "t_max_C: 95.0"), ("dtm_trigger_C: 49.0", "dtm_trigger_C: 95.0"),
                     ("dtm_release_C: 48.0", "dtm_release_C: 94.0")):
        assert old in text
        text = text.replace(old, new)
    cool = tmp_path / "tiny-cool.yaml"
    cool.write_text(text)
    return cool


def test_the_objective_changes_the_oracles_choice(tiny_system_path, tiny_scenario, tmp_path):
    """With T_max out of reach (95 C on the tiny system) the throughput Oracle runs the threads at f_max; the
    energy objectives pick slower V/f, which their own scores rank above the throughput Oracle's action."""
    from dataclasses import replace

    from ailfm.plugins.imitation.objective import objective_score
    from ailfm.plugins.imitation.oracle import Oracle, OracleConfig

    cool = _cool_tiny_system(tiny_system_path, tmp_path)
    labels = {}

    def probe(governor, obs):
        context = governor.context
        for objective in ("throughput", "edp", "tokens-per-joule"):
            oracle = Oracle(context.system, context.power, context.nuca, OracleConfig(objective=objective))
            labels[objective] = oracle.label(context.lookahead, obs)
        return Decision(labels["throughput"].f_GHz, labels["throughput"].placement)

    scenario = replace(tiny_scenario, system=str(cool), warmup_epochs=2)
    simulation(scenario, _Probe(2, probe)).run(3e-3)
    fast = labels["throughput"]
    assert np.all(fast.f_GHz[fast.placement] == 4.0)  # f_max: nothing limits it
    for objective in ("edp", "tokens-per-joule"):
        label = labels[objective]
        assert label.safe and label.f_GHz[label.placement].max() < 4.0
        assert label.energy_J < fast.energy_J and label.instructions < fast.instructions
        assert label.score > objective_score(objective, fast.instructions, fast.energy_J)


def test_the_registrys_edp_oracle_is_the_edp_teacher(tiny_system_path, tiny_scenario, tmp_path):
    """``oracle-edp`` (the teacher of ``ail-edp``, as a governor) scores by EDP: on the cool tiny chip it runs
    slower than ``oracle`` and does more instructions^2 per joule over the same epochs."""
    from dataclasses import replace

    from ailfm.plugins.governors.registry import make_governor
    from ailfm.plugins.imitation.objective import objective_score

    scenario = replace(tiny_scenario, system=str(_cool_tiny_system(tiny_system_path, tmp_path)))
    scores, frequencies = {}, {}
    for name in ("oracle", "oracle-edp"):
        governor = make_governor(name)
        result = simulation(scenario, governor).run(6e-3)
        energy_J = result.epochs["chip_power_W"].sum() * result.epoch_s
        scores[name] = objective_score("edp", result.per_core["instructions"].sum(), energy_J)
        frequencies[name] = result.per_core["f_effective_GHz"].max()
    assert make_governor("oracle-edp").config.objective == "edp"
    assert frequencies["oracle-edp"] < frequencies["oracle"] == 4.0
    assert scores["oracle-edp"] > scores["oracle"]


def test_the_oracles_initial_label_is_the_best_candidate(tiny_scenario):
    """A roll-out that learns placement starts where the Oracle's comparison of the candidate initial placements
    (coolest, lowest-latency, the driver's own) over its placement horizon says, and labels that first state: the
    starting features (no thread placed) with 1 on the chosen cores."""
    from dataclasses import replace

    from ailfm.plugins.governors.placement import coolest_order, coolest_placement, lowest_latency
    from ailfm.plugins.imitation.features import FEATURE_NAMES
    from ailfm.plugins.imitation.oracle import OracleConfig
    from ailfm.plugins.imitation.rollout import RolloutGovernor, RolloutTask

    horizon = 6
    scenario = replace(tiny_scenario, warmup_epochs=0, epochs=1)
    governor = RolloutGovernor(RolloutTask(scenario, "oracle",
                                           oracle=OracleConfig(learn_placement=True, placement_horizon=horizon)))
    sim = simulation(scenario, governor)
    placed = sim.start(sim.system.thermal.epoch_s).thread_core
    context, oracle = sim.context, governor.oracle_governor.oracle
    n = context.n_threads
    hottest = coolest_order(context)[::-1][:n].copy()
    candidates = [coolest_placement(context), lowest_latency(context), hottest]
    alone = [oracle.best_of(context.lookahead, c[None], np.ones(n), np.ones(n, dtype=bool), 0.0, horizon,
                            context.lookahead.state()) for c in candidates]
    assert len({round(a.score, 3) for a in alone}) > 1  # the choice matters on this case

    def best(labels):
        return max(labels, key=lambda a: (a.safe, a.score))

    assert np.array_equal(placed, best(alone[:2]).placement)  # the Oracle drives: its own pick, from coolest
    label = governor.oracle_governor.initial_query(hottest)
    assert np.array_equal(label.placement, best(alone).placement) and label.score == best(alone).score
    occupancy = np.zeros(context.n_cores)
    occupancy[placed] = 1
    assert governor.label_epochs[0] == 0 and np.array_equal(governor.targets[0][:, 1], occupancy)
    assert not governor.features[0][:, FEATURE_NAMES.index("has_thread")].any()


def test_a_policy_driven_rollout_starts_where_its_policy_scores(tiny_scenario, small_policy):
    """With ``learn_placement`` a roll-out the policy drives starts on the ensemble's scored placement; DAgger (``all``)
    labels that first state by the Oracle without taking its placement, evaluation (``none``) labels nothing."""
    from dataclasses import replace

    from ailfm.plugins.governors.onnx_governor import initial_features
    from ailfm.plugins.governors.placement import coolest_placement, scored_placement
    from ailfm.plugins.imitation.oracle import OracleConfig
    from ailfm.plugins.imitation.rollout import RolloutGovernor, RolloutTask

    scenario = replace(tiny_scenario, warmup_epochs=0, epochs=1)
    for mode, labels in (("none", 0), ("all", 1)):
        governor = RolloutGovernor(RolloutTask(scenario, mode, small_policy,
                                               oracle=OracleConfig(learn_placement=True, placement_horizon=4)))
        sim = simulation(scenario, governor)
        start = sim.start(sim.system.thermal.epoch_s)
        outputs, _ = small_policy.predict(initial_features(governor.extractor, start.temperature_K))
        np.testing.assert_array_equal(start.thread_core, scored_placement(sim.context, outputs[:, 1]))
        assert not np.array_equal(start.thread_core, coolest_placement(sim.context))  # so the check discriminates
        assert len(governor.targets) == labels and governor.label_epochs == [0] * labels
