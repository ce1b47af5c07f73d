"""The one model registry: every shipped model, the field-name variants, errors that name the field and file, old
names, and the same models for the kernel traces and for Compass."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from ailfm.errors import ConfigError, FormatError
from ailfm.mapping.models import LlmConfig, load_model
from ailfm.traces.configs import RENAMED_MODELS, load_model_config, shipped_models
from ailfm.traces.decompose import pass_kernels

HF_CONFIGS = Path(__file__).parents[1] / "mapping" / "hf_configs"

REQUIRED_MODELS = {"llama-2-7b", "llama-3-8b", "opt-6.7b", "mistral-7b", "bert-large", "vit-l-16", "gpt2-xl", "gpt2"}


def test_required_models_are_shipped():
    assert REQUIRED_MODELS <= set(shipped_models())


@pytest.mark.parametrize("name", sorted(REQUIRED_MODELS))
def test_parameter_count_within_2_percent_of_published(name):
    model = load_model_config(name)
    assert model.published_parameters is not None and model.source
    assert model.parameter_count() == pytest.approx(model.published_parameters, rel=0.02)


def test_family_conventions_follow_the_config_fields():
    llama3, gpt2, opt, vit, bert = (load_model_config(n) for n in ("llama-3-8b", "gpt2-xl", "opt-6.7b", "vit-l-16",
                                                                   "bert-large"))
    assert (llama3.num_kv_heads, llama3.head_dim, llama3.gated_mlp, llama3.norm, llama3.rotary) == (8, 128, True,
                                                                                                   "rmsnorm", True)
    assert (gpt2.hidden_size, gpt2.num_layers, gpt2.num_heads, gpt2.intermediate_size) == (1600, 48, 25, 6400)
    assert (opt.intermediate_size, opt.activation, opt.rotary) == (16384, "relu", False)
    assert (vit.num_patches, vit.max_positions, vit.is_encoder, vit.vocab_size) == (196, 197, True, 0)
    assert bert.is_encoder and bert.post_norm and not llama3.is_encoder


def _write(tmp_path, fields, name="config.json"):
    path = tmp_path / name
    path.write_text(json.dumps(fields))
    return path


def test_any_config_json_path_loads(tmp_path):
    path = _write(tmp_path, {"model_type": "llama", "hidden_size": 256, "num_hidden_layers": 2,
                             "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 688,
                             "vocab_size": 1000, "max_position_embeddings": 512, "rms_norm_eps": 1e-6,
                             "hidden_act": "silu"})
    model = load_model_config(path)
    assert (model.name, model.kv_dim, model.gated_mlp) == (tmp_path.name, 128, True)


@pytest.mark.parametrize(("fields", "field"), [
    ({"num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 10, "max_position_embeddings": 8},
     "hidden_size"),
    ({"hidden_size": 64, "num_hidden_layers": -2, "num_attention_heads": 4, "vocab_size": 10,
      "max_position_embeddings": 8}, "num_hidden_layers"),
    ({"n_embd": 64, "n_layer": 2, "n_head": 5, "vocab_size": 10, "n_positions": 8}, "n_head"),
    ({"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 3,
      "vocab_size": 10, "max_position_embeddings": 8}, "num_key_value_heads"),
    ({"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 10,
      "max_position_embeddings": 8, "hidden_act": "mish"}, "hidden_act"),
    ({"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "image_size": 30, "patch_size": 16},
     "patch_size"),
])
def test_malformed_config_names_field_and_file(tmp_path, fields, field):
    path = _write(tmp_path, fields)
    with pytest.raises(ConfigError) as err:
        load_model_config(path)
    assert err.value.field == field and err.value.path == str(path)
    assert str(path) in str(err.value) and field in str(err.value)


def test_invalid_json_names_line(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{\n  "hidden_size": 64,\n  "n_layer": ,\n}')
    with pytest.raises(FormatError) as err:
        load_model_config(path)
    assert err.value.line == 3 and f"{path}:3" in str(err.value)


def test_unknown_name_lists_shipped_models():
    with pytest.raises(ConfigError, match="llama-2-7b"):
        load_model_config("no-such-model")


@pytest.mark.parametrize("name", shipped_models())
def test_one_registry_serves_both_pipelines(name):
    """Compass's block shapes are the registry's model, under the registry's name."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a shipped name is current: no note
        model, block = load_model_config(name), load_model(name)
    assert block == LlmConfig.of(model) and block.name == model.name == name
    assert (block.d_model, block.n_heads, block.n_kv_heads, block.d_head, block.d_ffn, block.n_blocks) == (
        model.hidden_size, model.num_heads, model.num_kv_heads, model.head_dim, model.intermediate_size,
        model.num_layers)


@pytest.mark.parametrize(("old", "new"), sorted(RENAMED_MODELS.items()))
def test_old_names_load_the_new_model_with_a_note(old, new):
    for loader in (load_model_config, load_model):
        with pytest.warns(FutureWarning, match=f"'{old}' is now called '{new}'"):
            assert loader(old) == loader(new)


def test_old_name_on_the_command_line_prints_one_note(tmp_path):
    out = tmp_path / "t.csv"
    run = subprocess.run([sys.executable, "-m", "ailfm.cli", "trace", "generate", "--model", "gpt3-6.7b",
                          "--requests", "1", "--lengths", "fixed:4,1", "--out", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and out.is_file()
    note = "ailfm: note: model 'gpt3-6.7b' is now called 'gpt-3-6.7b'; the old name will go"
    assert run.stderr.splitlines() == [note]


def test_the_richer_configs_read_once_for_both():
    """The reader of GQA, explicit head sizes and MoE is the traces' one: Compass's test configs load here, a dense
    one gives a kernel table, a mixture of experts is refused by the traces (not modelled there) naming the field."""
    qwen = load_model_config(HF_CONFIGS / "qwen2-7b-like" / "config.json")
    assert (qwen.name, qwen.num_kv_heads, qwen.gated_mlp, qwen.num_experts) == ("qwen2-7b-like", 4, True, 0)
    assert len(pass_kernels(qwen, 8).names) > 0
    mixtral = load_model_config(HF_CONFIGS / "mixtral-8x7b-like")
    assert (mixtral.num_experts, mixtral.experts_per_token, mixtral.intermediate_size) == (8, 2, 14336)
    with pytest.raises(ConfigError) as err:
        pass_kernels(mixtral, 8)
    assert err.value.field == "num_experts" and "mixture-of-experts" in err.value.reason


def test_a_trace_needs_the_vocabulary(tmp_path):
    path = _write(tmp_path, {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
                             "num_attention_heads": 4, "rms_norm_eps": 1e-6, "max_position_embeddings": 64})
    model = load_model_config(path)  # Compass needs no vocabulary
    assert model.vocab_size == 0 and load_model(path).d_model == 64
    with pytest.raises(ConfigError, match="vocab_size"):
        pass_kernels(model, 4)
