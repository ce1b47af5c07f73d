"""The shielded ablation baselines run the ONNX governors' own shield and placement path."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from ailfm.plugins.governors.cpufreq import Ondemand
from ailfm.plugins.governors.onnx_governor import OnnxGovernor
from ailfm.plugins.governors.placement import coolest_placement
from ailfm.plugins.governors.registry import make_governor
from ailfm.plugins.imitation.contract import INPUT_NAME, N_OUTPUTS, OUTPUT_NAME, contract_metadata
from ailfm.plugins.imitation.features import FEATURE_NAMES, N_FEATURES
from ailfm.plugins.imitation.rollout import simulation


def _constant_policy(path, f_fraction: float, score: float, score_weights: dict[str, float] | None = None,
                     metadata: dict[str, str | None] | None = None, vf_weights: dict[str, float] | None = None):
    """A conforming ONNX policy: ``features @ w + [f_fraction, score]`` on every core, ``w`` zero but for the
    placement score's ``score_weights`` and the V/f fraction's ``vf_weights`` (by feature name): with none, a policy
    that learned nothing. ``metadata`` overrides (None: drop) contract metadata."""
    matrix = np.zeros((N_FEATURES, N_OUTPUTS), dtype=np.float32)
    for column, named in enumerate((vf_weights, score_weights)):
        for name, weight in (named or {}).items():
            matrix[FEATURE_NAMES.index(name), column] = weight
    weights = numpy_helper.from_array(matrix, "w")
    bias = numpy_helper.from_array(np.array([f_fraction, score], dtype=np.float32), "b")
    nodes = [helper.make_node("MatMul", [INPUT_NAME, "w"], ["zero"]), helper.make_node("Add", ["zero", "b"],
                                                                                        [OUTPUT_NAME])]
    graph = helper.make_graph(nodes, "constant", [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT,
                                                                                ["n_cores", N_FEATURES])],
                              [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["n_cores", N_OUTPUTS])],
                              [weights, bias])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    crafted = contract_metadata("constant test policy", initial_placement="scores", vf_rule="per-core")
    for key, value in {**crafted, **(metadata or {})}.items():
        if value is not None:
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
    path.write_bytes(model.SerializeToString())
    return path


def test_shielded_performance_is_a_constant_f_max_onnx_policy(tiny_scenario, tmp_path):
    """f_max requests, coolest placement, the same shield: epoch for epoch what an ONNX file that outputs V/f
    fraction 1 and placement score 0 does under the ``ail`` machinery."""
    epochs = 60
    runs = []
    for governor in (make_governor("shielded-performance"),
                     OnnxGovernor(_constant_policy(tmp_path / "constant.onnx", 1.0, 0.0))):
        sim = simulation(tiny_scenario, governor)
        runs.append(sim.run(epochs * sim.system.thermal.epoch_s))
    ablation, constant = runs
    t_max_K = sim.system.thermal.t_max_K
    assert ablation.per_core["f_GHz"].min() < sim.system.dvfs.f_max_GHz  # the shield acted: the limit binds
    assert ablation.per_core["temperature_K"].max() <= t_max_K
    for key in ("f_GHz", "f_effective_GHz", "temperature_K", "instructions"):
        assert np.array_equal(ablation.per_core[key], constant.per_core[key]), key
    assert ablation.summary["migrations"] == 0


def test_shielded_ondemand_only_lowers_ondemand_and_stays_below_the_limit(tiny_scenario):
    governor = make_governor("shielded-ondemand")
    reference = Ondemand()
    sim = simulation(tiny_scenario, governor)
    reference.setup(sim.context)
    obs = sim.start(80 * sim.system.thermal.epoch_s)
    lowered = 0
    while not sim.finished:
        decision = governor.decide(obs)
        requested = reference.decide(obs).f_GHz
        assert decision.thread_core is None  # threads never move
        assert np.all(decision.f_GHz <= requested + 1e-9)
        lowered += int(np.any(decision.f_GHz < requested - 1e-9))
        obs = sim.step(decision)
    assert lowered > 0
    assert sim.result().per_core["temperature_K"].max() <= sim.system.thermal.t_max_K


def _start(system: str, governor):
    """Where ``governor`` places Llama-2-7B's 3 x 16 threads on ``system`` (the first observation), and the context."""
    from ailfm.plugins.imitation.rollout import RolloutScenario

    scenario = RolloutScenario(system=system, workload="llama-2-7b", lengths="fixed:4,2", requests=3, instances=3,
                               threads=16, warmup_epochs=0, epochs=1)
    sim = simulation(scenario, governor)
    return sim.start(sim.system.thermal.epoch_s).thread_core, sim.context


@pytest.mark.parametrize("system", ["snuca-64", "snuca-64-2l"])
def test_the_initial_placement_follows_the_policys_scores(system, tmp_path):
    """A constant score is exactly the coolest placement (so the shielded ablations keep their meaning); scores that
    favour low NUCA latency put the threads on the lowest-latency cores; a version 2 file keeps the coolest cores
    whatever it scores."""
    constant, context = _start(system, OnnxGovernor(_constant_policy(tmp_path / "c.onnx", 1.0, 0.0)))
    assert np.array_equal(constant, coolest_placement(context))
    assert np.array_equal(constant, _start(system, make_governor("shielded-performance"))[0])
    near = OnnxGovernor(_constant_policy(tmp_path / "near.onnx", 1.0, 0.0, {"nuca_latency": -1.0}))
    placed, _ = _start(system, near)
    latency = context.nuca.mean_latency_ns
    assert np.array_equal(np.sort(latency[placed]), np.sort(latency)[:len(placed)])
    assert not np.array_equal(np.sort(placed), np.sort(constant))  # the two placements differ on these systems
    old = _constant_policy(tmp_path / "v2.onnx", 1.0, 0.0, {"nuca_latency": -1.0},
                           {"ailfm.contract": "ailfm-governor-onnx/2", "ailfm.initial_placement": None})
    assert np.array_equal(_start(system, OnnxGovernor(old))[0], constant)


def test_an_unknown_initial_placement_is_refused(tmp_path):
    from ailfm.errors import ConfigError
    from ailfm.plugins.imitation.contract import load_policy

    with pytest.raises(ConfigError, match="ailfm.initial_placement is 'random'"):
        load_policy(_constant_policy(tmp_path / "bad.onnx", 1.0, 0.0, metadata={"ailfm.initial_placement": "random"}))
    with pytest.raises(ConfigError, match="ailfm.initial_placement is None"):
        load_policy(_constant_policy(tmp_path / "none.onnx", 1.0, 0.0, metadata={"ailfm.initial_placement": None}))


def test_the_vf_rule_is_read_from_the_file_and_checked(tmp_path):
    """``ailfm.vf_rule``: a version 3 file (without it) is per-core; an unknown rule is one clear error; a
    per-instance policy whose outputs differ from core to core runs each instance's threads at one frequency."""
    from ailfm.errors import ConfigError
    from ailfm.plugins.imitation.contract import load_policy

    v3 = _constant_policy(tmp_path / "v3.onnx", 1.0, 0.0,
                          metadata={"ailfm.contract": "ailfm-governor-onnx/3", "ailfm.vf_rule": None})
    assert load_policy(v3).vf_rule == "per-core"
    with pytest.raises(ConfigError, match="ailfm.vf_rule is 'per-chip'"):
        load_policy(_constant_policy(tmp_path / "bad.onnx", 1.0, 0.0, metadata={"ailfm.vf_rule": "per-chip"}))
    with pytest.raises(ConfigError, match="ailfm.vf_rule is None"):
        load_policy(_constant_policy(tmp_path / "none.onnx", 1.0, 0.0, metadata={"ailfm.vf_rule": None}))
    from ailfm.plugins.imitation.rollout import RolloutScenario

    scenario = RolloutScenario(system="snuca-64", workload="llama-2-7b", lengths="fixed:4,2", requests=3,
                               instances=3, threads=16, warmup_epochs=0, epochs=1)
    spread = {}
    for rule in ("per-core", "per-instance"):
        # V/f fraction falls with the core's NUCA latency: different on the cores of one instance
        governor = OnnxGovernor(_constant_policy(tmp_path / f"{rule}.onnx", 0.9, 0.0, metadata={"ailfm.vf_rule": rule},
                                                 vf_weights={"nuca_latency": -0.2}))
        sim = simulation(scenario, governor)
        obs = sim.start(sim.system.thermal.epoch_s)
        f_GHz, _ = governor.request(obs)
        instance = sim.context.thread_instance
        spread[rule] = [np.ptp(f_GHz[obs.thread_core[instance == i]]) for i in range(3)]
    assert max(spread["per-core"]) > 0 and spread["per-instance"] == [0, 0, 0]
