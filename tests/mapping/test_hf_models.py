"""Hugging Face configs on the defaults: uneven tensor splits, grouped-query attention, FFN widths that do not
split evenly, mixtures of experts, sliding windows, and malformed fields named with their line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ailfm.cli import main
from ailfm.errors import ConfigError
from ailfm.mapping.models import LlmConfig, load_model
from ailfm.mapping.workload import (
    Iteration,
    Request,
    ServingWorkload,
    build_jobs,
    load_lengths,
    make_workload,
    routed_tokens,
    split_tensors,
    tile_count,
)

CONFIGS = Path(__file__).parent / "hf_configs"
QKV, ATTN, OUT, FFN1, FFN2 = range(5)


def one_iteration(model: LlmConfig, tensor_parallel: int, requests: tuple[Request, ...]) -> ServingWorkload:
    return ServingWorkload(model, (Iteration("mixed", requests),), 1, tensor_parallel)


def gemms_of(ops, job: int) -> list[tuple[int, int, int, int]]:
    """(M, K, N, count) of one job's GEMMs."""
    sel = ops.gemm_job == job
    return [(*map(int, mkn), int(c)) for mkn, c in zip(ops.gemm_mkn[sel], ops.gemm_count[sel], strict=True)]


@pytest.mark.parametrize("name", ["qwen2-7b-like", "phi-3-mini-like", "mistral-7b-like", "mixtral-8x7b-like",
                                  "qwen1.5-moe-like"])
def test_search_runs_on_the_defaults(name, tmp_path, capsys):
    out = tmp_path / "run"
    command = ["map", "search", "--model", str(CONFIGS / name / "config.json"), "--out", str(out), "--pop", "4",
               "--gen", "1", "--workers", "1", "--no-progress"]
    code = main(command)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["tensor_parallel"] == 8 and summary["edp_Js"] > 0
    assert len(json.loads((out / "best_mapping.json").read_text())["layer_to_chip"][0]) == 5 * 8
    notes = summary["notes"]
    assert [line for line in captured.err.splitlines() if "note:" in line] == [f"ailfm map: note: {n}" for n in notes]
    if name == "qwen2-7b-like":
        assert len(notes) == 1 and "heads 4 tiles of 4, 4 tiles of 3" in notes[0]
    elif "moe" in name or "mixtral" in name:
        assert len(notes) == 1 and "uniform router" in notes[0]
    elif name == "phi-3-mini-like":  # 4096 positions: 170 of the Azure conversation requests reach 4097-7052 tokens
        assert notes == ["170 of 2000 requests of lengths 'azure-conv' are longer than the 4096 positions of "
                         "phi-3-mini-like and are rejected, as a serving engine rejects them (the longest: 7052 "
                         "tokens); --beyond-context serves them"]
    else:
        assert notes == []


def test_qwen2_heads_split_unevenly_with_one_kv_group_per_tile():
    model = load_model(CONFIGS / "qwen2-7b-like" / "config.json")
    assert (model.n_heads, model.n_kv_heads, model.d_head, model.d_ffn) == (28, 4, 128, 18944)
    split = split_tensors(model, 8)
    assert split.heads == (4, 3) * 4          # each K/V group of 7 query heads on 2 tiles
    assert split.kv_heads == (1,) * 8 and split.kv_owned == (1, 0) * 4
    decode = Request(1, 500)
    ops = build_jobs(one_iteration(model, 8, (Request(20, 0), decode)))
    t = 8
    for tile in range(t):
        heads = split.heads[tile]
        assert gemms_of(ops, QKV * t + tile)[0] == (21, 3584, (heads + 2) * 128, 1)
        # QK^T and PV per K/V group: the tile's query heads stack into M
        assert (heads, 128, 501, 1) in gemms_of(ops, ATTN * t + tile)
        assert (heads, 501, 128, 1) in gemms_of(ops, ATTN * t + tile)
        assert ops.kv_read_bytes[0, 0, ATTN * t + tile] == 500 * 2 * 128
    # the new K/V of the 4 groups go to the cache once, though 8 tiles project them
    assert ops.kv_write_bytes[0, 0, :t].sum() == 21 * 2 * 4 * 128
    assert ops.weight_bytes[0, 0, :t].sum() == 3584 * (28 + 2 * 8) * 128


def test_gqa_kv_sizes_follow_the_kv_heads():
    model = load_model(CONFIGS / "mistral-7b-like" / "config.json")
    ops = build_jobs(one_iteration(model, 8, (Request(1, 1000),)))
    for tile in range(8):  # 4 query heads and 1 K/V head per tile
        assert gemms_of(ops, QKV * 8 + tile) == [(1, 4096, 6 * 128, 1)]
        assert gemms_of(ops, ATTN * 8 + tile) == [(4, 128, 1001, 1), (4, 1001, 128, 1)]
    assert ops.kv_write_bytes.sum() == 2 * 8 * 128
    assert ops.kv_read_bytes.sum() == 1000 * 2 * 8 * 128
    ops4 = build_jobs(one_iteration(model, 4, (Request(1, 1000),)))  # 2 groups of 4 heads per tile
    assert gemms_of(ops4, ATTN * 4) == [(4, 128, 1001, 2), (4, 1001, 128, 2)]
    assert ops4.kv_read_bytes.sum() == ops.kv_read_bytes.sum()


def test_straddling_tiles_project_every_group_they_use():
    model = LlmConfig("gqa28", 3584, 28, 4, 128, 18944, True, 1)
    split = split_tensors(model, 6)  # 6 tiles: contiguous heads 5,5,5,5,4,4 over groups of 7
    assert split.heads == (5, 5, 5, 5, 4, 4)
    assert split.head_groups == ((5,), (2, 3), (4, 1), (5,), (1, 3), (4,))
    assert split.kv_owned == (1, 1, 1, 0, 1, 0)
    assert "4 K/V heads projected 9 times" in split.note(model)


@settings(max_examples=60, deadline=None)  # widths >= heads, as in every real model
@given(n_kv=st.integers(1, 12), per_group=st.integers(1, 9), d_model=st.integers(108, 5000),
       d_ffn=st.integers(108, 20000), data=st.data())
def test_every_split_covers_the_block_once(n_kv, per_group, d_model, d_ffn, data):
    n_heads = n_kv * per_group
    tiles = data.draw(st.integers(1, n_heads))
    model = LlmConfig("m", d_model, n_heads, n_kv, 64, d_ffn, False, 1)
    split = split_tensors(model, tiles)
    for sizes, total in ((split.heads, n_heads), (split.model_cols, d_model), (split.ffn_cols, d_ffn)):
        assert sum(sizes) == total and max(sizes) - min(sizes) <= 1 and min(sizes) >= 1 and len(sizes) == tiles
    assert sum(split.kv_owned) == n_kv and min(split.kv_heads) >= 1
    assert all(sum(groups) == heads for groups, heads in zip(split.head_groups, split.heads, strict=True))
    assert (split.note(model) is None) == (n_heads % tiles == 0 and d_model % tiles == 0 and d_ffn % tiles == 0
                                          and sum(split.kv_heads) == n_kv)


def test_ffn_width_that_does_not_split_evenly():
    model = LlmConfig("odd", 1000, 10, 10, 100, 1001, True, 1)
    ops = build_jobs(one_iteration(model, 8, (Request(3, 0),)))
    ffn1 = [gemms_of(ops, FFN1 * 8 + tile)[0] for tile in range(8)]
    assert [n for _, _, n, _ in ffn1] == [2 * 126] + [2 * 125] * 7
    assert ops.weight_bytes[0, 0, FFN1 * 8:].sum() == 3 * 1000 * 1001
    assert [gemms_of(ops, OUT * 8 + tile)[0][2] for tile in range(8)] == [125] * 8
    # 10 heads over 8 tiles: 2, 2, then 1s; the larger tiles take longer and bound the stage
    assert split_tensors(model, 8).heads == (2, 2, 1, 1, 1, 1, 1, 1)


def test_more_tiles_than_heads_uses_one_tile_per_head(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"n_embd": 768, "n_head": 12, "n_layer": 12, "n_inner": None,
                                "activation_function": "gelu_new", "model_type": "gpt2"}))
    model = load_model(path)
    assert (model.d_ffn, model.gated_ffn) == (4 * 768, False)  # null n_inner: the 4 d_model default
    assert tile_count(model, 16) == 12
    wl = make_workload(model, "orca", load_lengths("azure-conv"), n_slots=4, n_steps=1, tensor_parallel=16)
    assert wl.tensor_parallel == 12 and wl.n_layers == 60
    assert "tensor_parallel 16 > 12 heads" in wl.notes[0]


def test_moe_tokens_follow_a_uniform_router():
    mixtral = load_model(CONFIGS / "mixtral-8x7b-like" / "config.json")
    assert (mixtral.n_experts, mixtral.experts_per_token, mixtral.d_ffn) == (8, 2, 14336)
    assert routed_tokens(1, mixtral) == ((1, 2),)            # one token: its 2 experts
    assert routed_tokens(2, mixtral) == ((1, 4),)            # 8 (1 - 0.75^2) = 3.5 -> 4 experts touched
    assert routed_tokens(1000, mixtral) == ((250, 8),)       # T k / E each
    assert routed_tokens(7, mixtral) == ((2, 7),)            # 8 (1 - 0.75^7) = 6.9 -> 7 experts, 2 each
    assert routed_tokens(5, mixtral) == ((2, 4), (1, 2))     # 6.1 -> 6 experts share 10 assignments
    ops = build_jobs(one_iteration(mixtral, 8, (Request(1000, 0),)))
    assert (250, 4096, 2 * 1792, 8) in gemms_of(ops, FFN1 * 8)
    assert (1000, 4096, 8, 1) in gemms_of(ops, FFN1 * 8)      # the router on every tile
    assert (250, 14336, 512, 8) in gemms_of(ops, FFN2 * 8)
    ffn = ops.weight_bytes[0, 0, FFN1 * 8:].sum()
    assert ffn == 8 * 3 * 4096 * 14336 + 8 * 4096 * 8      # every expert once, the router per tile
    decode = build_jobs(one_iteration(mixtral, 8, (Request(1, 300),)))
    assert decode.weight_bytes[0, 0, FFN1 * 8:].sum() == 2 * 3 * 4096 * 14336 + 8 * 4096 * 8


def test_qwen_moe_shared_expert():
    model = load_model(CONFIGS / "qwen1.5-moe-like" / "config.json")
    assert (model.n_experts, model.experts_per_token, model.d_ffn, model.d_shared_expert) == (60, 4, 1408, 5632)
    ops = build_jobs(one_iteration(model, 8, (Request(1, 100),)))
    assert gemms_of(ops, FFN1 * 8) == [(1, 2048, 60, 1), (1, 2048, 2 * 176, 4), (1, 2048, 2 * 704, 1)]
    assert gemms_of(ops, FFN2 * 8) == [(1, 1408, 256, 4), (1, 5632, 256, 1)]
    experts = 60 * 3 * 2048 * 1408 + 3 * 2048 * 5632 + 2048 * 60
    assert model.block_weight_bytes() == 2048 * (16 + 32) * 128 + 2048 * 2048 + experts


def test_sliding_window_caps_the_keys(tmp_path):
    doc = json.loads((CONFIGS / "mistral-7b-like" / "config.json").read_text())
    doc["sliding_window"] = 64
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))
    model = load_model(path)
    ops = build_jobs(one_iteration(model, 8, (Request(1, 100),)))
    assert gemms_of(ops, ATTN * 8) == [(4, 128, 64, 1), (4, 64, 128, 1)]
    assert ops.kv_read_bytes[0, 0, ATTN * 8] == 63 * 2 * 128
    doc["model_type"] = "gemma2"  # windows on every other layer: full attention, with a note
    path.write_text(json.dumps(doc))
    model = load_model(path)
    assert model.attention_window == 0 and "some layers only" in model.notes[0]


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"hidden_size": None}, "hidden_size", "missing required field"),
    ({"num_attention_heads": 30, "head_dim": None}, "num_attention_heads", "does not divide hidden size"),
    ({"num_key_value_heads": 5}, "num_key_value_heads", "does not divide 32 attention heads"),
    ({"hidden_size": 4096.5}, "hidden_size", "expected an integer"),
    ({"intermediate_size": "big"}, "intermediate_size", "expected a number"),
    ({"num_hidden_layers": -2}, "num_hidden_layers", "must be > 0"),
    ({"num_local_experts": 8}, "num_experts_per_tok", "missing required field"),
    ({"num_local_experts": 8, "num_experts_per_tok": 9}, "num_experts_per_tok", "more than the 8 experts"),
    ({"num_local_experts": 0, "num_experts_per_tok": 2}, "num_local_experts", "must be > 0"),
    ({"sliding_window": 0}, "sliding_window", "must be > 0"),
    ({"kv_lora_rank": 512}, "kv_lora_rank", "multi-head latent attention"),
])
def test_malformed_config_names_file_field_and_line(tmp_path, capsys, change, field, message):
    doc = json.loads((CONFIGS / "mistral-7b-like" / "config.json").read_text())
    for key, value in change.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc, indent=1))
    with pytest.raises(ConfigError) as err:
        load_model(path)
    assert err.value.field == field and message in err.value.reason and err.value.path == str(path)
    lines = path.read_text().splitlines()
    if field in doc:
        assert f'"{field}"' in lines[err.value.line - 1]
    assert main(["map", "evaluate", "--model", str(path), "--mapping", "none.json"]) == 2
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert len(err_lines) == 1 and str(path) in err_lines[0] and field in err_lines[0]


def test_nested_text_config_is_read_and_errors_name_it(tmp_path):
    inner = json.loads((CONFIGS / "mistral-7b-like" / "config.json").read_text())
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "llava", "text_config": inner}, indent=1))
    assert load_model(path).n_kv_heads == 8
    inner["num_attention_heads"] = "x"
    path.write_text(json.dumps({"model_type": "llava", "text_config": inner}, indent=1))
    with pytest.raises(ConfigError) as err:
        load_model(path)
    assert err.value.field == "text_config.num_attention_heads"
    assert '"num_attention_heads"' in path.read_text().splitlines()[err.value.line - 1]


def test_dense_models_keep_their_weights():
    mistral = load_model(CONFIGS / "mistral-7b-like" / "config.json")
    ops = build_jobs(one_iteration(mistral, 8, (Request(5, 0),)))
    assert ops.weight_bytes.sum() == mistral.block_weight_bytes() == load_model("llama-3-8b").block_weight_bytes()
    assert np.all(ops.tokens == 5)
