"""Models, hardware, lengths and mapping files: presets load, malformed files name the field and line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from reference_data import AZURE_TRACES, require_shared

from ailfm.errors import ConfigError, FormatError
from ailfm.mapping.encoding import Encoding, Mapping, read_mapping, read_pins
from ailfm.mapping.hardware import HARDWARE_PRESETS, load_hardware
from ailfm.mapping.models import load_model
from ailfm.mapping.workload import STRATEGIES, load_lengths, make_workload, read_lengths_csv
from ailfm.traces.configs import shipped_models


def test_presets_load():
    for name in HARDWARE_PRESETS:
        hw = load_hardware(name)
        assert hw.n_chiplets == int(name.rsplit("-", 1)[1])
        assert hw.dram_router_weight.sum() == pytest.approx(1.0)
    he = load_hardware("he-36")
    kinds = [he.types[k].dataflow for k in he.chiplet_type]
    assert kinds.count("os") == 18 and kinds.count("ws") == 18
    assert load_model("llama-3-70b").n_kv_heads == 8
    assert set(shipped_models()) >= {"gpt-3-6.7b", "gpt-3-13b", "llama-3-8b", "llama-3-70b"}


def test_hf_config_json(tmp_path):
    cfg = {"model_type": "llama", "hidden_size": 4096, "num_attention_heads": 32, "num_key_value_heads": 8,
           "intermediate_size": 14336, "num_hidden_layers": 32, "hidden_act": "silu"}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg, indent=1))
    model = load_model(path)
    assert (model.d_model, model.n_kv_heads, model.d_head, model.gated_ffn) == (4096, 8, 128, True)
    assert model.block_weight_bytes() == load_model("llama-3-8b").block_weight_bytes()


def test_malformed_model_names_field_and_line(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{\n "hidden_size": 4096,\n "num_attention_heads": "many",\n "num_hidden_layers": 2\n}\n')
    with pytest.raises(ConfigError) as err:
        load_model(path)
    assert err.value.field == "num_attention_heads" and err.value.line == 3
    path.write_text('{\n "hidden_size": 4096,\n "num_attention_heads": 32,\n}\n')
    with pytest.raises(FormatError) as err:
        load_model(path)
    assert err.value.line == 4
    path.write_text('{"hidden_size": 4096, "num_hidden_layers": 2}')
    with pytest.raises(ConfigError, match="num_attention_heads"):
        load_model(path)
    with pytest.raises(ConfigError, match="not a known model"):
        load_model("no-such-model")


HW_YAML = """name: bad
mesh: {cols: 2, rows: 1}
chiplet_types:
  a: {dataflow: os, macs: 1024, buffer_KiB: 512}
  b: {dataflow: ws, macs: 64, buffer_KiB: 512}
layout: [[a, b]]
"""


@pytest.mark.parametrize(("old", "new", "field", "line"), [
    ("", "", None, None),
    ("macs: 64", "macs: -4", "chiplet_types.b.macs", 5),
    ("dataflow: ws", "dataflow: systolic", "chiplet_types.b.dataflow", 5),
    ("layout: [[a, b]]", "layout: [[a, c]]", "layout[0][1]", 6),
    ("mesh: {cols: 2, rows: 1}", "mesh: {cols: 2}", "mesh.rows", 2),
    ("macs: 64,", "macs: 64, array: [4, 8],", "chiplet_types.b.array", 5),
    ("macs: 64,", "macs: 64, array: [8],", "chiplet_types.b.array", 5),
    ("macs: 64,", "macs: 64, register_bytes: 0,", "chiplet_types.b.register_bytes", 5),
    ("macs: 64,", "macs: 64, register_bytes: two,", "chiplet_types.b.register_bytes", 5),
    ("macs: 64,", "macs: 64, accumulator_KiB: -1,", "chiplet_types.b.accumulator_KiB", 5),
    ("macs: 64,", "macs: 64, partial_sum_bytes: 2.5,", "chiplet_types.b.partial_sum_bytes", 5),
    ("macs: 64,", "macs: 64, weights_via_buffer: maybe,", "chiplet_types.b.weights_via_buffer", 5),
    ("macs: 64,", "macs: 64, ports_bytes_per_cycle: {input: 0},", "chiplet_types.b.ports_bytes_per_cycle.input", 5),
    ("macs: 64,", "macs: 64, ports_bytes_per_cycle: {psum: 8},", "chiplet_types.b.ports_bytes_per_cycle.psum", 5),
    ("macs: 64,", "macs: 64, ports_bytes_per_cycle: 8,", "chiplet_types.b.ports_bytes_per_cycle", 5),
    ("macs: 64,", "macs: 64, port_width: 8,", "chiplet_types.b.port_width", 5),
])
def test_malformed_hardware_names_field_and_line(tmp_path, old, new, field, line):
    path = tmp_path / "hw.yaml"
    path.write_text(HW_YAML.replace(old, new) if old else HW_YAML)
    if field is None:
        assert load_hardware(path).n_chiplets == 2
        return
    with pytest.raises(ConfigError) as err:
        load_hardware(path)
    assert err.value.field == field and err.value.line == line and str(path) in str(err.value)


def test_chiplet_design_fields_override_the_documented_defaults(tmp_path):
    path = tmp_path / "hw.yaml"
    path.write_text(HW_YAML.replace("macs: 64,", "macs: 64, array: [4, 16], register_bytes: 4, accumulator_KiB: 8, "
                                    "ports_bytes_per_cycle: {input: 2, output: 64}, weights_via_buffer: true,"))
    hw = load_hardware(path)
    a, b = hw.types
    assert a.array_shape == (32, 32) and a.register_bytes == 8 and a.accumulator_KiB == 0  # Tesla-NPU-like os
    assert b.array_shape == (4, 16) and b.register_bytes == 4 and b.accumulator_KiB == 8
    assert (b.input_port_Bpc, b.weight_port_Bpc, b.output_port_Bpc) == (2, 16, 64)
    assert b.weights_via_buffer
    ws = load_hardware("he-36").types[1]
    assert (ws.dataflow, ws.register_bytes, ws.accumulator_KiB, ws.weights_via_buffer) == ("ws", 2, 512, False)


def test_mapping_files_round_trip_and_errors(tmp_path):
    enc = Encoding(2, 3, 4)
    mapping = Mapping(np.array([1, 0]), np.array([[0, 1, 2], [3, 3, 0]]))
    path = tmp_path / "m.json"
    path.write_text(mapping.to_json(model="tiny"))
    back = read_mapping(path, enc)
    assert (back.layer_to_chip == mapping.layer_to_chip).all() and (back.segmentation == mapping.segmentation).all()
    doc = json.loads(path.read_text())
    doc["layer_to_chip"][1][2] = 9
    path.write_text(json.dumps(doc, indent=1))
    with pytest.raises(ConfigError) as err:
        read_mapping(path, enc)
    assert err.value.field == "layer_to_chip[1][2]" and err.value.line is not None
    doc["layer_to_chip"][1][2] = "x"
    path.write_text(json.dumps(doc, indent=1))
    with pytest.raises(ConfigError, match=r"layer_to_chip\[1\]\[2\]"):
        read_mapping(path, enc)
    pins = tmp_path / "pins.json"
    pins.write_text(json.dumps({"layer_to_chip": [[None, 2, None], [None, None, 1]]}))
    p = read_pins(pins, enc)
    genomes = np.zeros((3, enc.n_genes), np.int64)
    p.apply(genomes)
    assert (genomes[:, 2 + 1] == 2).all() and (genomes[:, 2 + 5] == 1).all() and p.mask.sum() == 2


def test_lengths_and_strategies(tmp_path):
    src = load_lengths("azure-conv")
    assert len(src.prompt_tokens) == 2000 and src.prompt_tokens.min() >= 1
    for strategy in STRATEGIES:
        wl = make_workload(load_model("llama-3-8b"), strategy, src, seed=3)
        tokens = [sum(r.new_tokens for r in it.requests) for it in wl.iterations]
        assert min(tokens) >= 1 and max(tokens) > 1
        assert make_workload(load_model("llama-3-8b"), strategy, src, seed=3) == wl
    bad = tmp_path / "lens.csv"
    bad.write_text("prompt_tokens,output_tokens\n10,5\n7,zero\n")
    with pytest.raises(FormatError) as err:
        read_lengths_csv(bad)
    assert err.value.line == 3
    with pytest.raises(FormatError, match="not found"):
        load_lengths(tmp_path / "missing.csv")


def test_packaged_lengths_come_from_the_azure_trace():
    import pandas as pd

    trace = pd.read_csv(require_shared(AZURE_TRACES) / "AzureLLMInferenceTrace_conv.csv")
    sample = load_lengths("azure-conv")
    pairs = set(zip(trace.ContextTokens, trace.GeneratedTokens, strict=True))
    assert all((p, o) in pairs for p, o in zip(sample.prompt_tokens[:200], sample.output_tokens[:200], strict=True))
