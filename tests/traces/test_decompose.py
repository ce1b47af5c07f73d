"""Kernel decomposition: FLOPs against closed forms, phases per model family, and ggml's thread split."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ailfm.traces.configs import load_model_config
from ailfm.traces.decompose import (
    KernelType,
    active_threads,
    busiest_thread_fraction,
    pass_kernels,
    per_thread_work,
    thread_rows,
)

PRODUCTS = {KernelType.GEMM, KernelType.GEMV}
ATTENTION = {KernelType.ATTN_SCORES, KernelType.ATTN_CONTEXT}


def _flops_of(table, kinds):
    rows = [i for i, k in enumerate(table.kinds) if k in kinds]
    return table.flops[rows].sum(axis=0)


def _linear_weights(model):
    """Weights of all projections and the LM head, from the closed form (no embeddings, norms or biases)."""
    h, f, kv = model.hidden_size, model.intermediate_size, model.kv_dim
    per_layer = 2 * h * h + 2 * h * kv + (3 if model.gated_mlp else 2) * h * f
    return model.num_layers * per_layer


@pytest.mark.parametrize("name", ["llama-2-7b", "llama-3-8b", "mistral-7b"])
def test_decode_step_flops_match_closed_form(name):
    model = load_model_config(name)
    context = np.array([0, 99, 1023])
    table = pass_kernels(model, 1, context)
    expected_products = 2.0 * (_linear_weights(model) + model.vocab_size * model.hidden_size)
    np.testing.assert_allclose(_flops_of(table, PRODUCTS), expected_products)
    # Q.K^T and P.V: 2 * heads * head_dim = 2 * hidden FLOPs per cached token each, in every layer
    np.testing.assert_allclose(_flops_of(table, ATTENTION), 4.0 * model.num_layers * model.hidden_size * (context + 1))
    assert set(table.kinds) & PRODUCTS == {KernelType.GEMV}


def test_prefill_is_gemm_with_quadratic_attention():
    model = load_model_config("llama-2-7b")
    prompt = 512
    table = pass_kernels(model, prompt)
    gemm = _flops_of(table, {KernelType.GEMM})
    np.testing.assert_allclose(gemm, 2.0 * prompt * _linear_weights(model))
    np.testing.assert_allclose(_flops_of(table, ATTENTION), 4.0 * model.num_layers * model.hidden_size * prompt**2)
    # the LM head runs on the last prompt token only, as llama.cpp computes its logits
    lm_head = table.names.index("lm_head")
    assert table.kinds[lm_head] is KernelType.GEMV
    assert table.flops[lm_head, 0] == 2.0 * model.vocab_size * model.hidden_size


@pytest.mark.parametrize("name", ["bert-large", "vit-l-16"])
def test_encoders_have_no_kv_cache_and_no_lm_head(name):
    table = pass_kernels(load_model_config(name), 128)
    assert KernelType.KV_APPEND not in table.kinds and "lm_head" not in table.names
    assert KernelType.GEMM in table.kinds


def test_vit_tokens_come_from_the_image():
    vit = load_model_config("vit-l-16")
    table = pass_kernels(vit, 5)
    patch = table.names.index("patch_embed")
    assert table.flops[patch, 0] == 2.0 * 196 * vit.hidden_size * 3 * 16 * 16 + 196 * vit.hidden_size  # + bias
    assert table.rows[table.names.index("attn_norm"), 0] == 197


def test_elementwise_work_is_counted_per_element():
    model = load_model_config("llama-2-7b")
    table = pass_kernels(model, 7, 3)
    i = table.names.index("act")
    assert table.kinds[i] is KernelType.SILU and table.work_units[i, 0] == 7 * model.intermediate_size
    i = table.names.index("softmax")
    assert table.work_units[i, 0] == model.num_heads * 7 * 10
    i = table.names.index("kv_append")
    assert table.bytes_written[i, 0] == 2 * 7 * model.kv_dim * 2  # K and V rows in F16


def test_weights_are_streamed_bytes():
    model = load_model_config("mistral-7b")
    table = pass_kernels(model, 1, 0)
    weights = (_linear_weights(model) + model.vocab_size * model.hidden_size) * 2.0
    stream = table.stream_bytes[[i for i, k in enumerate(table.kinds) if k in PRODUCTS]].sum()
    assert stream == weights


@given(rows=st.integers(1, 100_000), threads=st.integers(1, 128), total=st.floats(0, 1e12))
def test_thread_split_sums_to_the_kernel(rows, threads, total):
    split = thread_rows(np.array(rows), threads)
    assert split.sum() == rows and split.shape == (threads,)
    assert split.max() == -(-rows // threads)
    work = per_thread_work(np.array(total), np.array(rows), threads)
    assert work.sum() == pytest.approx(total, rel=1e-9, abs=1e-6)
    assert work.max() == pytest.approx(total * busiest_thread_fraction(np.array(rows), threads), rel=1e-9, abs=1e-6)
    assert active_threads(np.array(rows), threads) == np.count_nonzero(split)


def test_single_row_kernels_run_on_one_thread():
    # ggml splits by rows: a decode-step RMSNorm has one row, so thread 0 works alone
    assert list(thread_rows(np.array(1), 4)) == [1, 0, 0, 0]
    assert active_threads(np.array([1, 20, 4096]), 16).tolist() == [1, 10, 16]
