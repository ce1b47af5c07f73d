"""Serving workloads: requests of varying lengths, batched by a serving strategy, split into micro-batches.

Pipeline: a :class:`LengthSource` (prompt/output token counts) feeds a continuous-batching emulation
(:func:`emulate_slots`) that reaches a steady state after a random warm-up; a serving strategy
(:data:`STRATEGIES`) then builds the iterations to score (mixed prefill and decode, no padding: every
request keeps its own length and its own attention operators). :func:`build_jobs` turns the
iterations into operators per (micro-batch, mapping layer) for the cost model.

Mapping layers of one block, each split into ``tensor_parallel`` tiles (the tiles are how tensor
parallelism is expressed, as in Compass; :class:`TensorSplit` says which heads and columns each tile holds):

``qkv``  fused Q/K/V projection for the tile's heads and the K/V heads they use (new K/V go to the KV cache),
``attn`` attention of the tile's heads for every request, one QK^T and one PV GEMM per K/V head group
         (history K/V read from DRAM),
``out``  output projection (the tile's share of the d_model columns), residual add,
``ffn1`` up (and gate) projection (the tile's share of the d_ffn columns; of every expert's for a mixture of
         experts, with the router) with the activation,
``ffn2`` down projection (the tile's share of the d_model columns), residual add.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ailfm.errors import ConfigError
from ailfm.mapping.models import LlmConfig
from ailfm.traces.lengths import read_length_trace

STAGES = ("qkv", "attn", "out", "ffn1", "ffn2")

# Element-wise operation counts per element (our estimates; each counts one vector-unit operation):
# softmax = max, subtract, exp, sum, divide; RMS/LayerNorm = square, sum, rsqrt-scale, multiply;
# GeLU/SiLU = a 4-operation polynomial/sigmoid approximation (+1 multiply by the gate for SwiGLU).
OPS_SOFTMAX = 5
OPS_NORM = 4
OPS_ACTIVATION = 4
OPS_RESIDUAL = 1
OPS_EXPERT_COMBINE = 2  # scale an expert's output by its router weight, add it to the token's sum

AZURE_CITATION = (
    "Azure LLM inference trace 2023 (CC-BY 4.0): P. Patel, E. Choukse, C. Zhang, A. Shah, I. Goiri, S. Maleki, "
    "R. Bianchini, 'Splitwise: Efficient generative LLM inference using phase splitting', ISCA 2024."
)
PACKAGED_LENGTHS = {"azure-conv": "azure_conv_lengths.csv", "azure-code": "azure_code_lengths.csv"}


# ---------------------------------------------------------------------------------------------- lengths
@dataclass(frozen=True)
class LengthSource:
    """Prompt and output token counts of requests, in arrival order."""

    name: str
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray

    def __post_init__(self):
        if len(self.prompt_tokens) == 0 or len(self.prompt_tokens) != len(self.output_tokens):
            raise ConfigError("lengths", f"{self.name}: needs equally many (>0) prompt and output lengths")


def read_lengths_csv(path: str | Path, name: str | None = None) -> LengthSource:
    """Read a CSV with columns ``ContextTokens,GeneratedTokens`` (Azure trace) or ``prompt_tokens,output_tokens``,
    with the project's one length reader (``ailfm.traces.lengths``); every request decodes at least one token."""
    frame = read_length_trace(path, arrivals=False, min_output_tokens=1)
    return LengthSource(name or Path(path).stem, frame["prompt_tokens"].to_numpy(np.int64),
                        frame["output_tokens"].to_numpy(np.int64))


def load_lengths(spec: str | Path) -> LengthSource:
    """A packaged source name (``azure-conv``, ``azure-code``: samples of the Azure trace, see AZURE_CITATION)
    or a path to a CSV of lengths."""
    if str(spec) in PACKAGED_LENGTHS:
        ref = resources.files("ailfm.mapping.presets") / PACKAGED_LENGTHS[str(spec)]
        with resources.as_file(ref) as path:
            return read_lengths_csv(path, str(spec))
    return read_lengths_csv(spec)


# ---------------------------------------------------------------------------------------------- serving
@dataclass(frozen=True)
class Request:
    """One request's share of an iteration: ``new_tokens`` processed on top of ``history_tokens`` cached."""

    new_tokens: int
    history_tokens: int


@dataclass(frozen=True)
class Iteration:
    """One forward pass of the serving engine over a batch of requests."""

    label: str
    requests: tuple[Request, ...]


@dataclass(frozen=True)
class SlotState:
    """The steady-state batch after warm-up: per slot, tokens already in context, and the next arrivals."""

    context_tokens: np.ndarray
    new_prompts: np.ndarray


def emulate_slots(lengths: LengthSource, n_slots: int, rng: np.random.Generator,
                  warmup_iterations: tuple[int, int] = (300, 500), n_new: int = 4) -> SlotState:
    """Continuous batching: each slot decodes one token per iteration and takes the next request when done.

    Requests are drawn sequentially from a random offset of the source; the warm-up length is random in
    ``warmup_iterations`` so the slot mix (phases of requests) is a steady-state sample.
    """
    n = len(lengths.prompt_tokens)
    cursor = int(rng.integers(n))
    prompt = np.zeros(n_slots, np.int64)
    target = np.zeros(n_slots, np.int64)
    generated = np.zeros(n_slots, np.int64)
    done = np.ones(n_slots, bool)
    for _ in range(int(rng.integers(*warmup_iterations, endpoint=True))):
        for slot in np.flatnonzero(done):
            prompt[slot] = lengths.prompt_tokens[cursor % n]
            target[slot] = lengths.output_tokens[cursor % n]
            generated[slot] = 0
            cursor += 1
        generated += 1  # the first iteration of a request is its prefill, which emits one token
        done = generated >= target
    new = np.array([lengths.prompt_tokens[(cursor + i) % n] for i in range(n_new)], np.int64)
    return SlotState(context_tokens=prompt + generated, new_prompts=new)


def _decodes(state: SlotState, n: int, step: int) -> list[Request]:
    return [Request(1, int(c) + step) for c in state.context_tokens[:n]]


def chunked_iterations(state: SlotState, n_slots: int, n_steps: int) -> tuple[Iteration, ...]:
    """Sarathi-like chunked prefill: each iteration carries one prompt chunk (ceil(prompt / n_steps) tokens,
    history = chunks already done) plus n_slots - 1 decodes."""
    prompt = int(state.new_prompts[0])
    chunk = -(-prompt // n_steps)
    its = []
    for j in range(n_steps):
        size = min(chunk, prompt - j * chunk)
        head = [Request(size, j * chunk)] if size > 0 else []
        its.append(Iteration("chunked", tuple(head + _decodes(state, n_slots - 1, j))))
    return tuple(its)


def vllm_iterations(state: SlotState, n_slots: int, n_steps: int) -> tuple[Iteration, ...]:
    """vLLM-style: a prefill-only iteration for the new prompt, then n_steps decode-only iterations."""
    prompt = int(state.new_prompts[0])
    its = [Iteration("prefill", (Request(prompt, 0),))]
    for j in range(n_steps):
        its.append(Iteration("decode", tuple(_decodes(state, n_slots - 1, j) + [Request(1, prompt + j)])))
    return tuple(its)


def orca_iterations(state: SlotState, n_slots: int, n_steps: int) -> tuple[Iteration, ...]:
    """Orca-style: one mixed iteration (the new prompt's full prefill + n_slots - 1 decodes),
    then n_steps - 1 decode iterations."""
    prompt = int(state.new_prompts[0])
    its = [Iteration("mixed", tuple([Request(prompt, 0)] + _decodes(state, n_slots - 1, 0)))]
    for j in range(1, n_steps):
        its.append(Iteration("decode", tuple(_decodes(state, n_slots - 1, j) + [Request(1, prompt + j - 1)])))
    return tuple(its)


STRATEGIES = {"chunked": chunked_iterations, "vllm": vllm_iterations, "orca": orca_iterations}


# ---------------------------------------------------------------------------------------------- tensor split
def balanced_split(total: int, parts: int) -> tuple[int, ...]:
    """``total`` cut into ``parts`` sizes that differ by at most one, larger first."""
    base, extra = divmod(total, parts)
    return (base + 1,) * extra + (base,) * (parts - extra)


@dataclass(frozen=True)
class TensorSplit:
    """Which heads and columns each of the ``tiles`` tensor-parallel tiles of a block holds.

    Heads, d_model columns and FFN columns are cut as evenly as they go (sizes differ by at most one); when the
    tile count does not divide them the tiles differ in size, and since every stage waits for all tiles of the
    stage before it, the largest tile bounds the stage (the list schedule charges exactly that). Query heads
    sharing a K/V head (grouped-query attention) stay on one tile when the tile count allows; a tile holding
    query heads of a group computes that group's K/V projection, so a group spread over several tiles is
    projected on each of them (as vLLM replicates K/V heads when tp > n_kv_heads), its new K/V written to the
    cache once (by the group's first tile) and its history read by every tile that uses it.
    """

    tiles: int
    head_groups: tuple[tuple[int, ...], ...]  # per tile: query heads of each K/V group it holds
    kv_owned: tuple[int, ...]                  # per tile: K/V groups whose new K/V it writes to the cache
    model_cols: tuple[int, ...]                # per tile: d_model columns (out, ffn2)
    ffn_cols: tuple[int, ...]                  # per tile: d_ffn columns (of every expert for a MoE)
    shared_cols: tuple[int, ...]               # per tile: columns of the shared expert (0 without one)

    @property
    def heads(self) -> tuple[int, ...]:
        return tuple(sum(g) for g in self.head_groups)

    @property
    def kv_heads(self) -> tuple[int, ...]:
        """K/V heads each tile projects and reads."""
        return tuple(len(g) for g in self.head_groups)

    def note(self, model: LlmConfig) -> str | None:
        """One line on what is uneven or replicated, None when every tile is alike."""
        uneven = []
        for what, sizes in (("heads", self.heads), ("d_model columns", self.model_cols),
                            ("FFN columns", self.ffn_cols), ("shared-expert columns", self.shared_cols)):
            if len(set(sizes)) > 1:
                counts = sorted(((size, sizes.count(size)) for size in set(sizes)), reverse=True)
                tiles = ", ".join(f"{n} {_plural(n, 'tile')} of {size}" for size, n in counts)
                uneven.append(f"{what} {tiles}")
        parts = [f"uneven split ({'; '.join(uneven)}), the largest tile bounds each stage"] if uneven else []
        if sum(self.kv_heads) > model.n_kv_heads:
            parts.append(f"{model.n_kv_heads} K/V {_plural(model.n_kv_heads, 'head')} projected "
                         f"{sum(self.kv_heads)} times, on every tile that uses them (cache written once, read by each)")
        return f"tensor_parallel {self.tiles} on {model.name}: {'; '.join(parts)}" if parts else None


def _plural(n: int, word: str) -> str:
    return word if n == 1 else f"{word}s"


def split_tensors(model: LlmConfig, tiles: int) -> TensorSplit:
    """The :class:`TensorSplit` of ``model`` over ``tiles`` tiles (1 <= tiles <= n_heads)."""
    if not 1 <= tiles <= model.n_heads:
        raise ConfigError("tensor_parallel", f"{tiles} tiles for the {model.n_heads} heads of {model.name}: "
                          f"give 1..{model.n_heads}")
    n_kv, per_group = model.n_kv_heads, model.heads_per_kv_head
    if tiles % n_kv == 0:  # each K/V group gets tiles / n_kv tiles of its own
        groups = tuple((q,) for _ in range(n_kv) for q in balanced_split(per_group, tiles // n_kv))
        first = set(np.arange(0, tiles, tiles // n_kv).tolist())
        owned = tuple(int(i in first) for i in range(tiles))
    else:  # contiguous heads; a tile may straddle groups
        bounds = np.concatenate([[0], np.cumsum(balanced_split(model.n_heads, tiles))])
        group_of_head = np.arange(model.n_heads) // per_group
        groups = tuple(tuple(np.bincount(group_of_head[a:b])[group_of_head[a]:].tolist())
                       for a, b in zip(bounds[:-1], bounds[1:], strict=True))
        first_group = [int(group_of_head[a]) for a in bounds[:-1]]
        last_group = [int(group_of_head[b - 1]) for b in bounds[1:]]
        owned = tuple(last - first + 1 - (i > 0 and last_group[i - 1] == first)
                      for i, (first, last) in enumerate(zip(first_group, last_group, strict=True)))
    return TensorSplit(tiles, groups, owned, balanced_split(model.d_model, tiles),
                       balanced_split(model.d_ffn, tiles), balanced_split(model.d_shared_expert, tiles))


def routed_tokens(n_tokens: int, model: LlmConfig) -> tuple[tuple[int, int], ...]:
    """(tokens, experts) pairs: how many experts of a MoE FFN get how many of ``n_tokens`` tokens.

    Uniform router (an assumption; real routers are skewed): each token picks ``experts_per_token`` distinct
    experts at random, so E (1 - (1 - k/E)^T) experts are touched on average, rounded, and the T k assignments
    are spread over them as evenly as integers go (T k / E each once T >> E). A dense FFN is one expert that
    gets every token.
    """
    if not model.is_moe:
        return ((n_tokens, 1),)
    n_e, k = model.n_experts, model.experts_per_token
    touched = int(np.floor(n_e * (1.0 - (1.0 - k / n_e) ** n_tokens) + 0.5))
    touched = min(max(touched, k), n_e)
    sizes = balanced_split(n_tokens * k, touched)
    return tuple((size, sizes.count(size)) for size in sorted(set(sizes), reverse=True))


def tile_count(model: LlmConfig, tensor_parallel: int) -> int:
    """Tiles per stage for a requested ``tensor_parallel``: at most one per head (a tile without heads would
    have no attention to run)."""
    if tensor_parallel < 1:
        raise ConfigError("tensor_parallel", f"must be >= 1, got {tensor_parallel}")
    return min(tensor_parallel, model.n_heads)


def scenario_notes(model: LlmConfig, tensor_parallel: int) -> tuple[str, ...]:
    """Modelling choices a run of ``model`` with ``tensor_parallel`` tiles asked for should print: fewer tiles
    than asked for, an uneven split, the MoE router assumption, and what the config reader did not model."""
    notes = list(model.notes)
    tiles = tile_count(model, tensor_parallel)
    if tiles != tensor_parallel:
        notes.append(f"tensor_parallel {tensor_parallel} > {model.n_heads} heads of {model.name}: "
                     f"using {tiles} tiles (one head each)")
    uneven = split_tensors(model, tiles).note(model)
    if uneven:
        notes.append(uneven)
    if model.is_moe:
        notes.append(f"{model.name}: mixture of experts ({model.n_experts} experts, top-{model.experts_per_token}"
                     f"{f', shared expert {model.d_shared_expert}' if model.d_shared_expert else ''}): tokens per "
                     "expert from a uniform router (E(1-(1-k/E)^T) experts touched, T k tokens spread evenly); "
                     "each tile holds its share of every expert's columns")
    return tuple(notes)


@dataclass(frozen=True)
class ServingWorkload:
    """What a mapping is scored on: a model, the iterations of a serving strategy, and how they are split.

    ``requested_tensor_parallel`` is the tile count the user asked for when it was reduced to the head count.
    """

    model: LlmConfig
    iterations: tuple[Iteration, ...]
    n_micro_batches: int
    tensor_parallel: int
    n_blocks: int = 1
    strategy: str = "custom"
    lengths: str = "custom"
    requested_tensor_parallel: int | None = None
    rejected_note: str | None = None  # requests longer than the model's context, left out (make_workload)

    def __post_init__(self):
        for name, value in (("n_micro_batches", self.n_micro_batches), ("tensor_parallel", self.tensor_parallel),
                            ("n_blocks", self.n_blocks)):
            if value < 1:
                raise ConfigError(name, f"must be >= 1, got {value}")
        split_tensors(self.model, self.tensor_parallel)  # validates the tile count
        if not self.iterations:
            raise ConfigError("iterations", "a workload needs at least one iteration")

    @property
    def split(self) -> TensorSplit:
        return split_tensors(self.model, self.tensor_parallel)

    @property
    def notes(self) -> tuple[str, ...]:
        """One line per modelling choice the user should see (see :func:`scenario_notes`)."""
        notes = scenario_notes(self.model, self.requested_tensor_parallel or self.tensor_parallel)
        return notes + ((self.rejected_note,) if self.rejected_note else ())

    @property
    def n_layers(self) -> int:
        """Mapping layers: 5 stages x tensor_parallel tiles per block."""
        return len(STAGES) * self.tensor_parallel * self.n_blocks


def make_workload(model: LlmConfig, strategy: str, lengths: LengthSource, *, n_slots: int = 32,
                  n_micro_batches: int = 8, n_steps: int = 3, tensor_parallel: int = 8, n_blocks: int = 1,
                  seed: int = 0, beyond_context: bool = False) -> ServingWorkload:
    """The default scenario builder: warm-up emulation, then the strategy's iterations. A ``tensor_parallel``
    above the model's head count is reduced to it (``ServingWorkload.notes`` says so). Requests longer than the
    model's context are rejected unless ``beyond_context`` (see :func:`within_context`)."""
    rejected_note = None
    if not beyond_context:
        lengths, rejected_note = within_context(model, lengths)
    if strategy not in STRATEGIES:
        raise ConfigError("serving", f"unknown strategy {strategy!r}; known: {', '.join(sorted(STRATEGIES))}")
    if n_slots < 2 or n_steps < 1:
        raise ConfigError("n_slots", "needs n_slots >= 2 and n_steps >= 1")
    tiles = tile_count(model, tensor_parallel)
    state = emulate_slots(lengths, n_slots, np.random.default_rng(seed))
    its = STRATEGIES[strategy](state, n_slots, n_steps)
    return ServingWorkload(model, its, n_micro_batches, tiles, n_blocks, strategy, lengths.name,
                           tensor_parallel if tiles != tensor_parallel else None, rejected_note)


def within_context(model: LlmConfig, lengths: LengthSource) -> tuple[LengthSource, str | None]:
    """The requests that fit the model's ``max_position_embeddings`` (prompt + output), and a note counting the
    others: a serving engine rejects a request longer than its context (vLLM does) and serves the rest. Refused,
    naming the model's field, when no request fits. The cost model itself has no context limit, so
    ``--beyond-context`` serves every request, as the Compass paper's GPT-3 runs on the Azure traces do (2048
    positions, requests up to 7052 tokens)."""
    total = lengths.prompt_tokens + lengths.output_tokens
    fits = total <= model.max_positions if model.max_positions else np.ones(len(total), bool)
    if fits.all():
        return lengths, None
    if not fits.any():
        key, path, line = model.context_field
        raise ConfigError(key, f"{model.name}: {model.max_positions} positions is shorter than every request of "
                               f"lengths {lengths.name!r} (the shortest: {int(total.min())} tokens); serve shorter "
                               "requests, or add --beyond-context to cost them anyway", path=path, line=line)
    kept = LengthSource(lengths.name, lengths.prompt_tokens[fits], lengths.output_tokens[fits])
    rejected = int((~fits).sum())
    return kept, (f"{rejected} of {len(total)} requests of lengths {lengths.name!r} are longer than the "
                  f"{model.max_positions} positions of {model.name} and are rejected, as a serving engine rejects "
                  "them (the longest: "
                  f"{int(total.max())} tokens); --beyond-context serves them")


def split_micro_batches(iteration: Iteration, n_micro_batches: int) -> list[list[Request]]:
    """Prefill/chunk requests first, then decodes by descending context, cut into contiguous groups
    (some groups are empty when there are fewer requests than micro-batches)."""
    reqs = sorted(iteration.requests, key=lambda r: (r.new_tokens == 1, -(r.history_tokens + r.new_tokens)))
    bounds = np.linspace(0, len(reqs), n_micro_batches + 1).round().astype(int)
    return [reqs[bounds[b]:bounds[b + 1]] for b in range(n_micro_batches)]


# ---------------------------------------------------------------------------------------------- operators
@dataclass(frozen=True)
class LayerGraph:
    """The mapping layers of the mapped blocks and their producers (same for every micro-batch)."""

    names: tuple[str, ...]
    stage: np.ndarray          # index into STAGES per layer
    predecessors: tuple[tuple[int, ...], ...]
    last_block_output: np.ndarray  # bool per layer: output leaves the mapped blocks (written to DRAM)


def layer_graph(workload: ServingWorkload) -> LayerGraph:
    t = workload.tensor_parallel
    names, stage, preds, final = [], [], [], []
    for blk in range(workload.n_blocks):
        base = blk * len(STAGES) * t
        for s, sname in enumerate(STAGES):
            for tile in range(t):
                names.append(f"b{blk}.{sname}{tile}")
                stage.append(s)
                if s == 0:
                    prev = base - t  # every ffn2 tile of the previous block, none for the first block
                    preds.append(tuple(range(prev, base)) if blk else ())
                elif s == 1:
                    preds.append((base + tile,))
                else:
                    start = base + (s - 1) * t
                    preds.append(tuple(range(start, start + t)))
                final.append(blk == workload.n_blocks - 1 and s == len(STAGES) - 1)
    return LayerGraph(tuple(names), np.asarray(stage), tuple(preds), np.asarray(final))


@dataclass(frozen=True)
class JobOperators:
    """Operators and data volumes of every (iteration, micro-batch, layer) job, as flat arrays.

    GEMMs: ``gemm_job`` (flat job index i*B*L + b*L + l), shapes M x K x N, ``gemm_count`` identical copies
    (heads), ``gemm_weight_is_activation`` (attention: the "weight" operand is K or V).
    Element-wise: ``elt_job``, ``elt_elements``, ``elt_ops`` per element.
    Per job (I, B, L): bytes of weights, KV-cache reads and writes, the block input read from DRAM,
    the job's output, and token count (0 = an empty micro-batch).
    """

    shape: tuple[int, int, int]
    gemm_job: np.ndarray
    gemm_mkn: np.ndarray
    gemm_count: np.ndarray
    elt_job: np.ndarray
    elt_elements: np.ndarray
    elt_ops: np.ndarray
    weight_bytes: np.ndarray
    kv_read_bytes: np.ndarray
    kv_write_bytes: np.ndarray
    input_read_bytes: np.ndarray
    output_bytes: np.ndarray
    tokens: np.ndarray


def build_jobs(workload: ServingWorkload, bytes_per_element: int = 1) -> JobOperators:
    """Operators of every job; activations, weights and KV cache use ``bytes_per_element`` (8-bit: 1)."""
    m, split = workload.model, workload.split
    t = split.tiles
    n_it, n_mb, n_l = len(workload.iterations), workload.n_micro_batches, workload.n_layers
    gate = 2 if m.gated_ffn else 1
    gemms: list[tuple[int, int, int, int, int]] = []
    elts: list[tuple[int, int, int]] = []
    shape3 = (n_it, n_mb, n_l)
    weight = np.zeros(shape3)
    kv_read = np.zeros(shape3)
    kv_write = np.zeros(shape3)
    inp = np.zeros(shape3)
    out = np.zeros(shape3)
    tokens = np.zeros(shape3, np.int64)
    per_block = len(STAGES) * t
    for i, iteration in enumerate(workload.iterations):
        for b, reqs in enumerate(split_micro_batches(iteration, n_mb)):
            n_tok = sum(r.new_tokens for r in reqs)
            if n_tok == 0:
                continue
            routed = routed_tokens(n_tok, m)
            n_routed = sum(size * count for size, count in routed)   # token-expert assignments
            n_touched = sum(count for _, count in routed)            # experts whose weights are read
            for layer in range(n_l):
                job = (i * n_mb + b) * n_l + layer
                blk, rem = divmod(layer, per_block)
                stage, tile = divmod(rem, t)
                heads, kv = split.heads[tile], split.kv_heads[tile]
                d_t, f_t, s_t = split.model_cols[tile], split.ffn_cols[tile], split.shared_cols[tile]
                tokens[i, b, layer] = n_tok
                if stage == 0:
                    qkv_cols = (heads + 2 * kv) * m.d_head
                    gemms.append((job, n_tok, m.d_model, qkv_cols, 1))
                    elts.append((job, n_tok * m.d_model, OPS_NORM))
                    weight[i, b, layer] = m.d_model * qkv_cols
                    kv_write[i, b, layer] = n_tok * 2 * split.kv_owned[tile] * m.d_head
                    out[i, b, layer] = n_tok * qkv_cols
                    if blk == 0:
                        inp[i, b, layer] = n_tok * m.d_model
                elif stage == 1:
                    # the query heads of one K/V group share its K and V: their rows stack into one GEMM's M
                    for r in reqs:
                        ctx, history = r.history_tokens + r.new_tokens, r.history_tokens
                        if m.attention_window:  # sliding window: no query sees more keys than the window
                            ctx, history = min(ctx, m.attention_window), min(history, m.attention_window - 1)
                        for q, count in sorted(Counter(split.head_groups[tile]).items()):
                            gemms.append((job, r.new_tokens * q, m.d_head, ctx, count))
                            gemms.append((job, r.new_tokens * q, ctx, m.d_head, count))
                        elts.append((job, r.new_tokens * ctx * heads, OPS_SOFTMAX))
                        kv_read[i, b, layer] += history * 2 * kv * m.d_head
                    out[i, b, layer] = n_tok * heads * m.d_head
                elif stage == 2:
                    gemms.append((job, n_tok, m.n_heads * m.d_head, d_t, 1))
                    elts.append((job, n_tok * d_t, OPS_RESIDUAL))
                    weight[i, b, layer] = m.n_heads * m.d_head * d_t
                    out[i, b, layer] = n_tok * d_t
                elif stage == 3:
                    elts.append((job, n_tok * m.d_model, OPS_NORM))
                    if m.is_moe:  # the router, replicated on every tile: logits, softmax and top-k
                        gemms.append((job, n_tok, m.d_model, m.n_experts, 1))
                        elts.append((job, n_tok * m.n_experts, OPS_SOFTMAX))
                        weight[i, b, layer] += m.d_model * m.n_experts
                    for size, count in routed:
                        gemms.append((job, size, m.d_model, f_t * gate, count))
                    elts.append((job, n_routed * f_t, OPS_ACTIVATION + gate - 1))
                    weight[i, b, layer] += n_touched * m.d_model * f_t * gate
                    if s_t:
                        gemms.append((job, n_tok, m.d_model, s_t * gate, 1))
                        elts.append((job, n_tok * s_t, OPS_ACTIVATION + gate - 1))
                        weight[i, b, layer] += m.d_model * s_t * gate
                    out[i, b, layer] = n_routed * f_t + n_tok * s_t
                else:
                    for size, count in routed:
                        gemms.append((job, size, m.d_ffn, d_t, count))
                    weight[i, b, layer] = n_touched * m.d_ffn * d_t
                    if m.d_shared_expert:
                        gemms.append((job, n_tok, m.d_shared_expert, d_t, 1))
                        weight[i, b, layer] += m.d_shared_expert * d_t
                    if m.is_moe:
                        elts.append((job, n_routed * d_t, OPS_EXPERT_COMBINE))
                    elts.append((job, n_tok * d_t, OPS_RESIDUAL))
                    out[i, b, layer] = n_tok * d_t
    g = np.asarray(gemms, np.int64).reshape(-1, 5)
    e = np.asarray(elts, np.int64).reshape(-1, 3)
    scale = float(bytes_per_element)
    return JobOperators(shape3, g[:, 0], g[:, 1:4].astype(float), g[:, 4].astype(float), e[:, 0],
                        e[:, 1].astype(float), e[:, 2].astype(float), weight * scale, kv_read * scale,
                        kv_write * scale, inp * scale, out * scale, tokens)
