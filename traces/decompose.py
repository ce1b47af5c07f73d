"""A forward pass of a transformer as the sequence of kernels llama.cpp runs, with each kernel's work.

A request is a prefill pass over its prompt (matrix-matrix products, GEMM) and then one decode pass
per further output token (matrix-vector products, GEMV, and attention over the growing KV cache).
Encoders (BERT, ViT) run only the prefill pass. Each kernel's work is counted in natural units
(FLOPs for the matrix kernels, elements for the element-wise ones) and bytes touched, from the model's
shapes. The kernel order follows llama.cpp's graph builders (``llm_build_*`` in ``src/llama-model.cpp``):
norm, Q/K/V projections, RoPE, KV-cache store, K·Q, softmax, V·softmax, output projection, residual add,
norm, FFN, residual add; then the final norm and the LM head over the last token only (llama.cpp
computes logits for the last prompt token alone unless asked for all).

A kernel is split across the T threads of an instance as ggml does for its row-parallel operators:
the rows of the output are cut into contiguous chunks of ``ceil(rows / T)``, thread ``i`` takes chunk
``i`` and all threads meet at a barrier after the kernel (``ggml_graph_compute_thread``).

Everything here is pure numpy over the decode steps of a request, so a request with hundreds of
output tokens is a handful of array operations.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from ailfm.errors import ConfigError
from ailfm.traces.configs import ModelConfig


class KernelType(StrEnum):
    """The kernel types of a trace; each has one row in the characterisation table."""

    GEMM = "gemm"
    GEMV = "gemv"
    ATTN_SCORES = "attn_scores"
    SOFTMAX = "softmax"
    ATTN_CONTEXT = "attn_context"
    RMSNORM = "rmsnorm"
    LAYERNORM = "layernorm"
    SILU = "silu"
    GELU = "gelu"
    RELU = "relu"
    ROPE = "rope"
    KV_APPEND = "kv_append"
    EMBEDDING = "embedding"
    ADD = "add"


#: Work unit of each kernel type: FLOPs for products, elements for element-wise kernels.
WORK_UNIT: dict[KernelType, str] = {
    **{k: "flop" for k in (KernelType.GEMM, KernelType.GEMV, KernelType.ATTN_SCORES, KernelType.ATTN_CONTEXT)},
    **{k: "element" for k in KernelType if k not in (KernelType.GEMM, KernelType.GEMV, KernelType.ATTN_SCORES,
                                                      KernelType.ATTN_CONTEXT)},
}

#: Arithmetic operations per element of the element-wise kernels (our counting of the reference formulas:
#: RMSNorm x*x, sum, scale, *w; LayerNorm sum, x-mean, square, sum, scale, *g, +b; softmax max, x-max, exp,
#: sum, /sum; SiLU-gated x/(1+exp(-x)) * up with exp as one; GELU tanh form 0.5x(1+tanh(a(x+bx^3))) as 8;
#: RoPE one rotation of a pair (4 mul + 2 add) per 2 elements; a residual add 1; copies and gathers 0).
FLOPS_PER_ELEMENT: dict[KernelType, float] = {
    KernelType.RMSNORM: 4.0, KernelType.LAYERNORM: 7.0, KernelType.SOFTMAX: 5.0, KernelType.SILU: 5.0,
    KernelType.GELU: 8.0, KernelType.RELU: 1.0, KernelType.ROPE: 3.0, KernelType.ADD: 1.0,
    KernelType.KV_APPEND: 0.0, KernelType.EMBEDDING: 0.0,
}


@dataclass(frozen=True)
class Precision:
    """Bytes per stored value. Defaults are llama.cpp's for an F16 model: F16 weights and KV cache, F32 activations."""

    weight_bytes: float = 2.0
    activation_bytes: float = 4.0
    kv_bytes: float = 2.0


@dataclass(frozen=True)
class KernelTable:
    """The kernels of one pass, evaluated at S steps (prefill: S = 1; decode: one column per step).

    Attributes
    ----------
    names : tuple[str, ...]
        Kernel instance names (``q_proj``, ``lm_head``...), length K.
    kinds : tuple[KernelType, ...]
        Kernel types, length K.
    layers : np.ndarray
        Transformer layer of each kernel, -1 outside the layers (embedding, final norm, head), shape (K,).
    work_units, flops, bytes_read, bytes_written, stream_bytes, rows : np.ndarray
        Shape (K, S). ``stream_bytes`` is the part of ``bytes_read`` that is weights or KV cache: data last
        touched one whole pass earlier. ``rows`` is the count of output rows that the threads share.
    """

    names: tuple[str, ...]
    kinds: tuple[KernelType, ...]
    layers: np.ndarray
    work_units: np.ndarray
    flops: np.ndarray
    bytes_read: np.ndarray
    bytes_written: np.ndarray
    stream_bytes: np.ndarray
    rows: np.ndarray

    @property
    def bytes_touched(self) -> np.ndarray:
        """Bytes read plus bytes written, shape (K, S)."""
        return self.bytes_read + self.bytes_written


class _Builder:
    """Accumulates kernels of one pass; each method appends one kernel evaluated over the S steps."""

    def __init__(self, n_tokens: int, n_steps: int, precision: Precision):
        self.n, self.shape, self.p = n_tokens, (n_steps,), precision
        self.rows_out: list[tuple] = []

    def _add(self, name, kind, layer, units, flops, read, written, stream, rows):
        ones = np.ones(self.shape)
        self.rows_out.append((name, kind, layer, *(ones * v for v in (units, flops, read, written, stream, rows))))

    def linear(self, name: str, layer: int, m: int, n_out: int, k_in: int, bias: bool) -> None:
        """y[m, n_out] = x[m, k_in] @ W.T (+ b): GEMM for several tokens, GEMV for one."""
        flops = 2.0 * m * n_out * k_in + (m * n_out if bias else 0)
        weights = n_out * k_in * self.p.weight_bytes + (n_out * self.p.weight_bytes if bias else 0)
        read = weights + m * k_in * self.p.activation_bytes
        kind = KernelType.GEMM if m > 1 else KernelType.GEMV
        self._add(name, kind, layer, flops, flops, read, m * n_out * self.p.activation_bytes, weights, n_out)

    def elementwise(self, name: str, kind: KernelType, layer: int, rows: float, cols: float, *, inputs: int = 1,
                    params: float = 0.0, out_bytes: float | None = None) -> None:
        """An element-wise kernel over rows x cols activations; ``params`` weights are read once."""
        a = self.p.activation_bytes
        units = np.asarray(rows, dtype=float) * cols
        out = a if out_bytes is None else out_bytes
        self._add(name, kind, layer, units, FLOPS_PER_ELEMENT[kind] * units, inputs * units * a + params,
                  units * out, params, rows)

    def table(self, num_layers: int) -> KernelTable:
        """The pass, with the kernels recorded for layer 0 repeated for every layer (all layers are alike)."""
        layer_rows = [r for r in self.rows_out if r[2] == 0]
        first = self.rows_out.index(layer_rows[0])
        pre, post = self.rows_out[:first], self.rows_out[first + len(layer_rows):]
        ordered = pre + layer_rows * num_layers + post
        names, kinds, _, *arrays = zip(*ordered, strict=True)
        layers = np.concatenate([np.full(len(pre), -1), np.repeat(np.arange(num_layers), len(layer_rows)),
                                 np.full(len(post), -1)]).astype(np.int32)
        return KernelTable(tuple(names), tuple(kinds), layers, *(np.stack(a) for a in arrays))


def check_traceable(model: ModelConfig) -> None:
    """Refuse, naming the field, a model the kernel decomposition cannot describe (the registry reads more than the
    decomposition models: Compass maps mixture-of-experts blocks, the traces do not)."""
    if model.num_experts:
        raise ConfigError("num_experts", f"{model.name}: mixture-of-experts MLPs are not in the kernel traces (one "
                                         "dense MLP per layer); ailfm map models them", path=model.source)
    if not model.is_vision:
        for value, field in ((model.vocab_size, "vocab_size"), (model.max_positions, "max_position_embeddings")):
            if not value:
                raise ConfigError(field, f"{model.name}: missing; a kernel trace needs the vocabulary (embedding, "
                                         "LM head) and the context limit", path=model.source)


def pass_kernels(model: ModelConfig, n_tokens: int, n_past: np.ndarray | int = 0,
                 precision: Precision = Precision()) -> KernelTable:
    """Kernels of one forward pass over ``n_tokens`` new tokens after ``n_past`` cached ones.

    Parameters
    ----------
    model : ModelConfig
        The model's shapes.
    n_tokens : int
        Tokens processed by the pass: the prompt length for a prefill, 1 for a decode step. For a ViT
        the input is one image and this is ignored (patches + [CLS]).
    n_past : array of int
        Tokens already in the KV cache, one value per step evaluated (decode: P, P+1, ...).
    precision : Precision
        Bytes per weight, activation and KV-cache value.
    """
    check_traceable(model)
    past = np.atleast_1d(np.asarray(n_past, dtype=float))
    n = model.num_patches + 1 if model.is_vision else int(n_tokens)
    if n < 1:
        raise ValueError(f"a pass needs at least one token, got {n_tokens}")
    kv_len = past + n
    h, d, heads, kv_heads, kv = model.hidden_size, model.head_dim, model.num_heads, model.num_kv_heads, model.kv_dim
    a, c, w = precision.activation_bytes, precision.kv_bytes, precision.weight_bytes
    norm = KernelType.RMSNORM if model.norm == "rmsnorm" else KernelType.LAYERNORM
    norm_params = (1 if norm is KernelType.RMSNORM else 2) * h * w
    bias = model.linear_bias
    b = _Builder(n, past.size, precision)

    if model.is_vision:
        b.linear("patch_embed", -1, model.num_patches, h, model.num_channels * model.patch_size**2, True)
        b.elementwise("pos_embed", KernelType.ADD, -1, n, h, params=n * h * w)
    else:
        tables = 1 + (not model.rotary) + (model.type_vocab_size > 0)
        b._add("embedding", KernelType.EMBEDDING, -1, n * h, 0.0, tables * n * h * w, n * h * a, tables * n * h * w,
               n)
        if model.post_norm:
            b.elementwise("embed_norm", norm, -1, n, h, params=norm_params)
    layer = 0  # every layer runs the same kernels: build one, and table() repeats it num_layers times
    if not model.post_norm:
        b.elementwise("attn_norm", norm, layer, n, h, params=norm_params)
    b.linear("q_proj", layer, n, model.q_dim, h, bias)
    b.linear("k_proj", layer, n, kv, h, bias)
    b.linear("v_proj", layer, n, kv, h, bias)
    if model.rotary:
        b.elementwise("rope", KernelType.ROPE, layer, n * (heads + kv_heads), d)
    if not model.is_encoder:
        b.elementwise("kv_append", KernelType.KV_APPEND, layer, 2 * n * kv_heads, d, out_bytes=c)
    k_cache = kv_len * kv * (c if not model.is_encoder else a)
    scores = 2.0 * heads * n * kv_len * d
    b._add("attn_scores", KernelType.ATTN_SCORES, layer, scores, scores, n * model.q_dim * a + k_cache,
           heads * n * kv_len * a, k_cache, heads * n)
    b.elementwise("softmax", KernelType.SOFTMAX, layer, heads * n, kv_len)
    b._add("attn_context", KernelType.ATTN_CONTEXT, layer, scores, scores, heads * n * kv_len * a + k_cache,
           n * model.q_dim * a, k_cache, heads * n)
    b.linear("o_proj", layer, n, h, model.q_dim, bias)
    b.elementwise("attn_residual", KernelType.ADD, layer, n, h, inputs=2)
    b.elementwise("ffn_norm", norm, layer, n, h, params=norm_params)
    f = model.intermediate_size
    act = {"silu": KernelType.SILU, "gelu": KernelType.GELU, "relu": KernelType.RELU}[model.activation]
    if model.gated_mlp:
        b.linear("gate_proj", layer, n, f, h, bias)
        b.linear("up_proj", layer, n, f, h, bias)
        b.elementwise("act", act, layer, n, f, inputs=2)
    else:
        b.linear("fc1", layer, n, f, h, bias)
        b.elementwise("act", act, layer, n, f)
    b.linear("down_proj", layer, n, h, f, bias)
    b.elementwise("ffn_residual", KernelType.ADD, layer, n, h, inputs=2)
    if model.post_norm:
        b.elementwise("out_norm", norm, layer, n, h, params=norm_params)
    if model.is_vision:
        b.elementwise("final_norm", norm, -1, n, h, params=norm_params)
        if model.num_labels:
            b.linear("classifier", -1, 1, model.num_labels, h, True)
    elif not model.is_encoder:
        b.elementwise("final_norm", norm, -1, 1, h, params=norm_params)
        b.linear("lm_head", -1, 1, model.vocab_size, h, False)
    return b.table(model.num_layers)


def thread_rows(rows: np.ndarray, threads: int) -> np.ndarray:
    """Rows of each thread under ggml's split (contiguous chunks of ceil(rows/T)); shape rows.shape + (T,)."""
    rows = np.asarray(rows, dtype=np.int64)
    chunk = -(-rows // threads)
    start = chunk[..., None] * np.arange(threads)
    return np.clip(rows[..., None] - start, 0, chunk[..., None])


def per_thread_work(total: np.ndarray, rows: np.ndarray, threads: int) -> np.ndarray:
    """Share of ``total`` (instructions, bytes...) done by each thread; sums to ``total`` over the last axis."""
    rows = np.asarray(rows, dtype=np.int64)
    return np.asarray(total, dtype=float)[..., None] * thread_rows(rows, threads) / np.maximum(rows, 1)[..., None]


def busiest_thread_fraction(rows: np.ndarray, threads: int) -> np.ndarray:
    """Fraction of a kernel's work on its busiest thread: the one every other thread waits for at the barrier."""
    rows = np.asarray(rows, dtype=np.int64)
    return -(-rows // threads) / np.maximum(rows, 1)


def active_threads(rows: np.ndarray, threads: int) -> np.ndarray:
    """Threads that get at least one row (the others go straight to the barrier)."""
    rows = np.asarray(rows, dtype=np.int64)
    return -(-rows // -(-rows // threads))
