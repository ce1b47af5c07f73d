"""The ONNX governor contract: a conforming file runs as a governor; any mismatch is refused with a clear message."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from ailfm.errors import ConfigError
from ailfm.plugins.imitation.contract import INPUT_NAME, OUTPUT_NAME, load_policy


def test_exported_policy_matches_scikit_learn(policy_file, small_policy, oracle_rollout):
    policy = load_policy(policy_file)
    features = oracle_rollout.features[0]
    assert np.allclose(policy(features), small_policy.policy.predict(features), atol=1e-4)
    assert policy.metadata["ailfm.training"] == "test fixture"


def _write(model, tmp_path, name="bad.onnx"):
    path = tmp_path / name
    path.write_bytes(model.SerializeToString())
    return path


def _edited(policy_file, edit):
    model = onnx.load(str(policy_file))
    edit(model)
    return model


def _set_meta(key, value):
    def edit(model):
        for entry in model.metadata_props:
            if entry.key == key:
                entry.value = value
    return edit


def _drop_meta(model):
    keep = [(p.key, p.value) for p in model.metadata_props if p.key != "ailfm.feature_version"]
    del model.metadata_props[:]
    for key, value in keep:
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value


def _rename_input(model):
    for node in model.graph.node:
        node.input[:] = ["features" if i == INPUT_NAME else i for i in node.input]
    model.graph.input[0].name = "features"


def _double_input(model):
    model.graph.input[0].type.tensor_type.elem_type = TensorProto.DOUBLE


def _fixed_rows(model):
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 64


def _narrow_input(model):
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 12


def _wide_output(model):
    model.graph.output[0].type.tensor_type.shape.dim[1].dim_value = 3


def _renamed_output(model):
    model.graph.output[0].name = "y"


@pytest.mark.parametrize("edit, message", [
    (_drop_meta, "missing metadata_props ailfm.feature_version"),
    (_set_meta("ailfm.contract", "other/9"), "contract 'other/9'"),
    (_set_meta("ailfm.feature_version", "ailfm-core-features/0"), "feature version 'ailfm-core-features/0'"),
    (_set_meta("ailfm.feature_names", "a,b"), "feature order differs"),
    (_rename_input, r"inputs \['features'\], expected exactly \['core_features'\]"),
    (_double_input, "has dtype DOUBLE, expected FLOAT"),
    (_fixed_rows, "fixed first dimension 64"),
    (_narrow_input, r"has shape \['\?', 12\], expected \[n_cores, 38\]"),
    (_wide_output, r"output 'core_actions' has shape \['\?', 3\], expected \[n_cores, 2\]"),
    (_renamed_output, f"no output named '{OUTPUT_NAME}'"),
])
def test_mismatches_are_refused_with_the_reason(policy_file, tmp_path, edit, message):
    path = _write(_edited(policy_file, edit), tmp_path)
    with pytest.raises(ConfigError, match=message) as err:
        load_policy(path)
    assert str(path) in str(err.value)


def test_the_objective_round_trips_and_version_1_files_load_as_throughput(small_policy, tmp_path):
    from ailfm.plugins.governors.onnx_governor import shipped_policy_path
    from ailfm.plugins.imitation.contract import CONTRACT_VERSION
    from ailfm.plugins.imitation.policy import to_onnx

    path = tmp_path / "edp.onnx"
    path.write_bytes(to_onnx(small_policy.policy, "test", objective="edp"))
    policy = load_policy(path)
    assert policy.objective == "edp" and policy.metadata["ailfm.contract"] == CONTRACT_VERSION
    model = _edited(path, _set_meta("ailfm.contract", "ailfm-governor-onnx/1"))
    keep = [(p.key, p.value) for p in model.metadata_props if p.key != "ailfm.objective"]
    del model.metadata_props[:]
    for key, value in keep:
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    assert load_policy(_write(model, tmp_path, "v1.onnx")).objective == "throughput"
    shipped = load_policy(shipped_policy_path())
    assert shipped.objective == "throughput"
    with pytest.raises(ConfigError, match="ailfm.objective is 'speed'"):
        load_policy(_write(_edited(path, _set_meta("ailfm.objective", "speed")), tmp_path, "speed.onnx"))


def test_not_an_onnx_file(tmp_path):
    garbage = tmp_path / "policy.onnx"
    garbage.write_bytes(b"\x00\xffthis is not protobuf\x13" * 7)
    with pytest.raises(ConfigError, match="not an ONNX model"):
        load_policy(garbage)
    with pytest.raises(ConfigError, match="no such ONNX file"):
        load_policy(tmp_path / "missing.onnx")


def test_a_plain_onnx_model_without_metadata_is_refused(tmp_path):
    node = helper.make_node("Identity", ["x"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 38])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 38])])
    path = _write(helper.make_model(graph), tmp_path, "plain.onnx")
    with pytest.raises(ConfigError, match="missing metadata_props ailfm.contract"):
        load_policy(path)


def test_any_conforming_file_is_a_governor_by_path(policy_file, tiny_scenario):
    from ailfm.plugins.governors.registry import make_governor
    from ailfm.plugins.imitation.rollout import simulation

    governor = make_governor(str(policy_file))
    result = simulation(tiny_scenario, governor).run(0.01)
    assert result.summary["tokens"] >= 0 and len(result.epochs) == 10
    assert np.all(np.isin(result.per_core["f_GHz"], governor.context.levels_GHz))
