"""Crafted ONNX governors: files that pass the static contract but compute a wrong shape, NaN or inf (for the
run-time checks' tests and the malformed-input corpus)."""

from __future__ import annotations

from onnx import TensorProto, helper

from ailfm.plugins.imitation.contract import INPUT_NAME, OUTPUT_NAME, contract_metadata
from ailfm.plugins.imitation.features import N_FEATURES


def crafted_policy(path, kind: str):
    """Write ``crafted_policy_bytes(kind)`` to ``path``; returns the path."""
    path.write_bytes(crafted_policy_bytes(kind))
    return path


def crafted_policy_bytes(kind: str) -> bytes:
    """A contract-conforming ONNX file whose output is [1, 2] ("shape"), all NaN ("nan") or all inf ("inf")."""
    starts = helper.make_tensor("starts", TensorProto.INT64, [1], [0])
    ends = helper.make_tensor("ends", TensorProto.INT64, [1], [2])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    initialisers = [starts, ends, axes]
    nodes = []
    source = INPUT_NAME
    if kind == "shape":
        nodes.append(helper.make_node("ReduceMean", [INPUT_NAME], ["mean"], axes=[0], keepdims=1))
        source = "mean"
    nodes.append(helper.make_node("Slice", [source, "starts", "ends", "axes"], ["two"]))
    if kind == "shape":
        nodes.append(helper.make_node("Identity", ["two"], [OUTPUT_NAME]))
    else:
        initialisers.append(helper.make_tensor("bad", TensorProto.FLOAT, [1], [float(kind)]))
        nodes.append(helper.make_node("Add", ["two", "bad"], [OUTPUT_NAME]))
    graph = helper.make_graph(nodes, "crafted", [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT,
                                                                               ["n_cores", N_FEATURES])],
                              [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["n_cores", 2])],
                              initialisers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    metadata = contract_metadata(f"crafted: {kind}", initial_placement="scores", vf_rule="per-core")
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    return model.SerializeToString()
