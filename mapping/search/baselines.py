"""Fixed mapping strategies, expressed in the same encoding and scored by the same engine.

* ``pipeline``: one segment, layer l on chiplet l mod N (snake order along the mesh), every micro-batch alike;
* ``gemini_lp``: Gemini-like layer pipelining (Cai et al., HPCA 2024): consecutive layers form groups; in a
  group each layer gets chiplets in proportion to its compute (at least one), adjacent on the mesh, and its
  micro-batches are split into contiguous blocks over them (so a chiplet sees consecutive micro-batches of one
  layer and reuses its weights). The group count is chosen among several (1, per stage, per block, and sizes
  that fit the chiplet count) by evaluating each with the engine, as Gemini's search would;
* ``tensor_parallel``: one segment per stage; tile i of every layer on its own chiplet (spread over the mesh);
* ``data_parallel``: one segment; micro-batch b runs every layer on its own chiplet;
* ``tensor_data_parallel``: one segment per stage; (micro-batch b, tile i) on chiplet (b t + i) mod N.

Two diagnostics (``DIAGNOSTICS``) are reported beside them but are not baselines: the Gemini-like groupings with
one chiplet per layer, and on the chiplets of one type only.
"""

from __future__ import annotations

import numpy as np

from ailfm.mapping.encoding import Mapping
from ailfm.mapping.evaluator import Evaluator


def snake_order(cols: int, rows: int) -> np.ndarray:
    """Chiplets in boustrophedon order, so consecutive entries are mesh neighbours."""
    order = []
    for y in range(rows):
        xs = range(cols) if y % 2 == 0 else range(cols - 1, -1, -1)
        order.extend(y * cols + x for x in xs)
    return np.asarray(order)


def spread(n: int, n_chiplets: int) -> np.ndarray:
    """n chiplet indices spread evenly over 0..n_chiplets-1 (wrapping when n > n_chiplets)."""
    if n >= n_chiplets:
        return np.arange(n) % n_chiplets
    return np.floor(np.arange(n) * n_chiplets / n).astype(int)


def _mapping(bits: np.ndarray, chips: np.ndarray) -> Mapping:
    return Mapping(bits.astype(np.int64), chips.astype(np.int64))


def pipeline(ev: Evaluator) -> Mapping:
    enc, hw = ev.encoding, ev.hardware
    snake = snake_order(hw.mesh_cols, hw.mesh_rows)
    chips = np.tile(snake[np.arange(enc.n_layers) % enc.n_chiplets], (enc.n_micro_batches, 1))
    return _mapping(np.zeros(enc.n_bits), chips)


def _stage_bits(ev: Evaluator) -> np.ndarray:
    stage = ev.stage_of_layer
    return (stage[1:] != stage[:-1]).astype(np.int64)


def tensor_parallel(ev: Evaluator) -> Mapping:
    enc = ev.encoding
    t = ev.workload.tensor_parallel
    tile = np.arange(enc.n_layers) % t
    chips = np.tile(spread(t, enc.n_chiplets)[tile], (enc.n_micro_batches, 1))
    return _mapping(_stage_bits(ev), chips)


def data_parallel(ev: Evaluator) -> Mapping:
    enc = ev.encoding
    per_mb = spread(enc.n_micro_batches, enc.n_chiplets)
    return _mapping(np.zeros(enc.n_bits), np.repeat(per_mb[:, None], enc.n_layers, axis=1))


def tensor_data_parallel(ev: Evaluator) -> Mapping:
    enc = ev.encoding
    t = ev.workload.tensor_parallel
    tile = np.arange(enc.n_layers) % t
    chips = (np.arange(enc.n_micro_batches)[:, None] * t + tile[None, :]) % enc.n_chiplets
    return _mapping(_stage_bits(ev), chips)


def layer_compute_s(ev: Evaluator) -> np.ndarray:
    """Compute time of every layer summed over iterations and micro-batches (mean over chiplet types)."""
    per_job = ev.compute_time_s.mean(axis=1).sum(axis=0)  # (J,)
    return per_job.reshape(ev.encoding.n_micro_batches, ev.encoding.n_layers).sum(axis=0)


def layer_groups_mapping(ev: Evaluator, groups: list[np.ndarray], chiplet_type: int | None = None) -> Mapping:
    """Gemini-like allocation for the given consecutive-layer groups (on every chiplet, or on one type's)."""
    enc, hw = ev.encoding, ev.hardware
    snake = snake_order(hw.mesh_cols, hw.mesh_rows)
    if chiplet_type is not None:
        snake = snake[np.asarray(hw.chiplet_type)[snake] == chiplet_type]
    n_chiplets = len(snake)
    work = layer_compute_s(ev)
    chips = np.zeros((enc.n_micro_batches, enc.n_layers), np.int64)
    bits = np.zeros(enc.n_bits, np.int64)
    for group in groups:
        if group[0] > 0:
            bits[group[0] - 1] = 1
        n = len(group)
        if n >= n_chiplets:
            counts = np.ones(n, int)
        else:
            share = work[group] / max(work[group].sum(), 1e-30) * n_chiplets
            counts = np.maximum(1, np.floor(share).astype(int))
            while counts.sum() > n_chiplets:
                counts[np.argmax(counts)] -= 1
            while counts.sum() < n_chiplets:  # hand out the rest by largest remaining share per chiplet
                counts[np.argmax(share / (counts + 1))] += 1
        start = 0
        for layer, k in zip(group, counts, strict=True):
            own = snake[(start + np.arange(k)) % n_chiplets]
            start += k
            k_used = min(k, enc.n_micro_batches)
            block = np.floor(np.arange(enc.n_micro_batches) * k_used / enc.n_micro_batches).astype(int)
            chips[:, layer] = own[block]
    return _mapping(bits, chips)


def gemini_candidates(ev: Evaluator, chiplet_type: int | None = None) -> list[Mapping]:
    """Gemini-like layer-pipelined mappings for every candidate layer grouping (on every chiplet, or one type's)."""
    enc = ev.encoding
    n_chiplets = enc.n_chiplets if chiplet_type is None else ev.hardware.chiplet_type.count(chiplet_type)
    layers = np.arange(enc.n_layers)
    stage_bits = _stage_bits(ev)
    candidates = [[layers], np.split(layers, np.flatnonzero(stage_bits) + 1)]
    per_block = enc.n_layers // ev.workload.n_blocks
    candidates.append(np.split(layers, np.arange(per_block, enc.n_layers, per_block)))
    for size in sorted({max(1, n_chiplets // k) for k in (1, 2, 3, 4, 6)}):
        candidates.append(np.split(layers, np.arange(size, enc.n_layers, size)))
    return [layer_groups_mapping(ev, [np.asarray(g) for g in groups if len(g)], chiplet_type)
            for groups in candidates]


def _lowest_edp(ev: Evaluator, mappings: list[Mapping]) -> Mapping:
    genomes = np.stack([ev.encoding.encode(m) for m in mappings])
    return mappings[int(np.argmin(ev.evaluate(genomes).edp))]


def gemini_lp(ev: Evaluator) -> Mapping:
    """The best Gemini-like layer-pipelined mapping over several group sizes."""
    return _lowest_edp(ev, gemini_candidates(ev))


def gemini_one_type(ev: Evaluator) -> Mapping:
    """Diagnostic: the best Gemini-like grouping placed on the chiplets of a single type (a heterogeneity-aware
    variant Gemini does not have; it shows how much of a search's gain is just avoiding the slower type)."""
    return _lowest_edp(ev, [m for t in sorted(set(ev.hardware.chiplet_type)) for m in gemini_candidates(ev, t)])


def one_chiplet_per_layer(ev: Evaluator) -> Mapping:
    """Diagnostic: the best Gemini-like grouping with all micro-batches of a layer on one chiplet (weights read
    once per layer), the other end of Gemini's reuse / parallelism trade-off."""
    n_mb = ev.encoding.n_micro_batches
    return _lowest_edp(ev, [_mapping(m.segmentation, np.tile(m.layer_to_chip[:1], (n_mb, 1)))
                            for m in gemini_candidates(ev)])


BASELINES = {
    "gemini_lp": gemini_lp,
    "pipeline": pipeline,
    "tensor_parallel": tensor_parallel,
    "data_parallel": data_parallel,
    "tensor_data_parallel": tensor_data_parallel,
}


# reported beside the baselines, never used as seeds or as the reference of "best fixed"
DIAGNOSTICS = {
    "one_chiplet_per_layer": one_chiplet_per_layer,
    "gemini_one_type": gemini_one_type,
}


def baseline_mappings(ev: Evaluator) -> dict[str, Mapping]:
    return {name: make(ev) for name, make in BASELINES.items()}


def diagnostic_mappings(ev: Evaluator) -> dict[str, Mapping]:
    return {name: make(ev) for name, make in DIAGNOSTICS.items()}

