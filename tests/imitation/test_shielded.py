"""The shielded ablation baselines run the ONNX governors' own shield and placement path."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from ailfm.plugins.governors.cpufreq import Ondemand
from ailfm.plugins.governors.onnx_governor import OnnxGovernor
from ailfm.plugins.governors.registry import make_governor
from ailfm.plugins.imitation.contract import INPUT_NAME, N_OUTPUTS, OUTPUT_NAME, contract_metadata
from ailfm.plugins.imitation.features import N_FEATURES
from ailfm.plugins.imitation.rollout import simulation


def _constant_policy(path, f_fraction: float, score: float):
    """A conforming ONNX policy that learned nothing: ``features @ 0 + [f_fraction, score]`` on every core."""
    weights = numpy_helper.from_array(np.zeros((N_FEATURES, N_OUTPUTS), dtype=np.float32), "w")
    bias = numpy_helper.from_array(np.array([f_fraction, score], dtype=np.float32), "b")
    nodes = [helper.make_node("MatMul", [INPUT_NAME, "w"], ["zero"]), helper.make_node("Add", ["zero", "b"],
                                                                                        [OUTPUT_NAME])]
    graph = helper.make_graph(nodes, "constant", [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT,
                                                                                ["n_cores", N_FEATURES])],
                              [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["n_cores", N_OUTPUTS])],
                              [weights, bias])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    for key, value in contract_metadata("constant test policy").items():
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
