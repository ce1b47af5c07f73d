"""Encoding-aware variation operators: plain functions on one genome, plus thin pymoo wrappers.

A genome is ``[segmentation bits (L - 1), layer_to_chip (B x L) row-major]`` (see encoding.py). Functions
take and return copies; randomness comes only from the ``rng`` argument.

Operators (after the Compass paper's description; probabilities are ours):

* crossover: uniform over segmentation bits, then, segment by segment (segments of the child's bits), the
  whole segment's mapping for all micro-batches comes from one parent or the other;
* segmentation mutation: flip each bit with probability 1 / (L - 1), shift each boundary by one layer with
  probability 0.1;
* mapping mutations: ``replace`` one (micro-batch, layer); ``swap_layers`` (adjacent, one micro-batch);
  ``swap_micro_batches`` on one layer; ``shuffle_segment`` (one micro-batch); ``remap_segment`` (one
  micro-batch, random chiplets); ``swap_segments`` (all micro-batches); ``swap_micro_batch_rows`` (whole
  mappings of two micro-batches); and ours, which trade weight reuse against parallelism:
  ``copy_micro_batch_segment`` (a micro-batch takes another one's chiplets on a segment), ``unify_layer`` (all
  micro-batches of a layer on one chiplet: weights loaded once) and ``split_layer`` (a contiguous block of a
  layer's micro-batches moves to another chiplet).

A mutation applies a segmentation mutation with probability 0.3, then 1 + Poisson(0.5) mapping operators drawn
with weights that move with search progress p in [0, 1]: disruptive operators (shuffle/remap/swap segments, swap
rows) from 0.3 to 0.05, local ones from 0.1 to 0.3, so early generations explore and late ones refine. (On the
scenario table's llama/GPT blocks this mix beat applying every operator independently, and the two layer
operators added about 3 points of EDP; measured with bench/compass_scenarios.py-style runs of 100 generations.)
"""

from __future__ import annotations

import numpy as np
from pymoo.core.crossover import Crossover
from pymoo.core.mating import Mating
from pymoo.core.mutation import Mutation
from pymoo.core.population import Population
from pymoo.core.sampling import Sampling
from pymoo.core.selection import Selection

from ailfm.mapping.encoding import Encoding, Pins

BOUNDARY_SHIFT_PROBABILITY = 0.1
SEGMENTATION_MUTATION_PROBABILITY = 0.3


def _segments(bits: np.ndarray) -> list[np.ndarray]:
    """Layer index ranges of the segments defined by boundary bits."""
    cuts = np.flatnonzero(bits) + 1
    return np.split(np.arange(len(bits) + 1), cuts)


def _parts(genome: np.ndarray, enc: Encoding) -> tuple[np.ndarray, np.ndarray]:
    g = genome.copy()
    return g[:enc.n_bits], g[enc.n_bits:].reshape(enc.n_micro_batches, enc.n_layers)


def _join(bits: np.ndarray, chips: np.ndarray) -> np.ndarray:
    return np.concatenate([bits, chips.ravel()])


def crossover_segments(p1: np.ndarray, p2: np.ndarray, enc: Encoding, rng: np.random.Generator) -> np.ndarray:
    """Uniform bits, then each segment's whole mapping (all micro-batches) from one parent."""
    b1, c1 = _parts(p1, enc)
    b2, c2 = _parts(p2, enc)
    bits = np.where(rng.random(enc.n_bits) < 0.5, b1, b2)
    chips = c1.copy()
    for seg in _segments(bits):
        if rng.random() < 0.5:
            chips[:, seg] = c2[:, seg]
    return _join(bits, chips)


def mutate_segmentation(genome: np.ndarray, enc: Encoding, rng: np.random.Generator) -> np.ndarray:
    bits, chips = _parts(genome, enc)
    flip = rng.random(enc.n_bits) < 1.0 / max(enc.n_bits, 1)  # one flip per genome on average
    bits[flip] ^= 1
    for i in np.flatnonzero(bits):
        if rng.random() < BOUNDARY_SHIFT_PROBABILITY:
            j = i + (1 if rng.random() < 0.5 else -1)
            if 0 <= j < enc.n_bits and not bits[j]:
                bits[i], bits[j] = 0, 1
    return _join(bits, chips)


def replace(genome, enc, rng):
    bits, chips = _parts(genome, enc)
    chips[rng.integers(enc.n_micro_batches), rng.integers(enc.n_layers)] = rng.integers(enc.n_chiplets)
    return _join(bits, chips)


def swap_layers(genome, enc, rng):
    bits, chips = _parts(genome, enc)
    if enc.n_layers > 1:
        b, l = rng.integers(enc.n_micro_batches), rng.integers(enc.n_layers - 1)
        chips[b, [l, l + 1]] = chips[b, [l + 1, l]]
    return _join(bits, chips)


def swap_micro_batches(genome, enc, rng):
    bits, chips = _parts(genome, enc)
    if enc.n_micro_batches > 1:
        a, b = rng.choice(enc.n_micro_batches, 2, replace=False)
        l = rng.integers(enc.n_layers)
        chips[[a, b], l] = chips[[b, a], l]
    return _join(bits, chips)


def shuffle_segment(genome, enc, rng):
    bits, chips = _parts(genome, enc)
    segs = _segments(bits)
    seg = segs[rng.integers(len(segs))]
    b = rng.integers(enc.n_micro_batches)
    chips[b, seg] = rng.permutation(chips[b, seg])
    return _join(bits, chips)


def remap_segment(genome, enc, rng):
    bits, chips = _parts(genome, enc)
    segs = _segments(bits)
    seg = segs[rng.integers(len(segs))]
    chips[rng.integers(enc.n_micro_batches), seg] = rng.integers(enc.n_chiplets, size=len(seg))
    return _join(bits, chips)


def swap_segments(genome, enc, rng):
    """Exchange the chiplets of two segments (all micro-batches; the shorter length is swapped)."""
    bits, chips = _parts(genome, enc)
    segs = _segments(bits)
    if len(segs) > 1:
        i, j = rng.choice(len(segs), 2, replace=False)
        n = min(len(segs[i]), len(segs[j]))
        a, b = segs[i][:n], segs[j][:n]
        chips[:, a], chips[:, b] = chips[:, b].copy(), chips[:, a].copy()
    return _join(bits, chips)


def swap_micro_batch_rows(genome, enc, rng):
    bits, chips = _parts(genome, enc)
    if enc.n_micro_batches > 1:
        a, b = rng.choice(enc.n_micro_batches, 2, replace=False)
        chips[[a, b]] = chips[[b, a]]
    return _join(bits, chips)


def unify_layer(genome, enc, rng):
    """Every micro-batch of one layer on the chiplet of one of them (weights loaded once)."""
    bits, chips = _parts(genome, enc)
    layer = rng.integers(enc.n_layers)
    chips[:, layer] = chips[rng.integers(enc.n_micro_batches), layer]
    return _join(bits, chips)


def split_layer(genome, enc, rng):
    """A contiguous block of one layer's micro-batches moves to a random chiplet (more parallelism)."""
    bits, chips = _parts(genome, enc)
    layer = rng.integers(enc.n_layers)
    first = rng.integers(enc.n_micro_batches)
    last = rng.integers(first, enc.n_micro_batches) + 1
    chips[first:last, layer] = rng.integers(enc.n_chiplets)
    return _join(bits, chips)


def copy_micro_batch_segment(genome, enc, rng):
    bits, chips = _parts(genome, enc)
    if enc.n_micro_batches > 1:
        a, b = rng.choice(enc.n_micro_batches, 2, replace=False)
        segs = _segments(bits)
        seg = segs[rng.integers(len(segs))]
        chips[b, seg] = chips[a, seg]
    return _join(bits, chips)


LOCAL_OPERATORS = (replace, swap_layers, swap_micro_batches, copy_micro_batch_segment, unify_layer, split_layer)
DISRUPTIVE_OPERATORS = (shuffle_segment, remap_segment, swap_segments, swap_micro_batch_rows)


def operator_probabilities(progress: float) -> tuple[float, float]:
    """(local, disruptive) probability of applying each operator at search progress in [0, 1]."""
    p = min(max(progress, 0.0), 1.0)
    return 0.1 + 0.2 * p, 0.3 - 0.25 * p


def mutate(genome: np.ndarray, enc: Encoding, rng: np.random.Generator, progress: float) -> np.ndarray:
    """With probability 0.3 a segmentation mutation; then 1 + Poisson(0.5) mapping operators, each drawn with
    weights from :func:`operator_probabilities` (small steps: the seeds are already good mappings)."""
    out = mutate_segmentation(genome, enc, rng) if rng.random() < SEGMENTATION_MUTATION_PROBABILITY else genome
    local, disruptive = operator_probabilities(progress)
    ops = LOCAL_OPERATORS + DISRUPTIVE_OPERATORS
    weights = np.array([local] * len(LOCAL_OPERATORS) + [disruptive] * len(DISRUPTIVE_OPERATORS))
    for _ in range(1 + rng.poisson(0.5)):
        out = ops[rng.choice(len(ops), p=weights / weights.sum())](out, enc, rng)
    return out


def uniform_genomes(enc: Encoding, n: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform random genomes (bits and chiplets)."""
    return rng.integers(0, enc.upper_bounds() + 1, size=(n, enc.n_genes))


def grouped_genomes(enc: Encoding, n: int, rng: np.random.Generator) -> np.ndarray:
    """Random layer-pipelined genomes: random segment boundaries (each bit set with probability 0.1); in each
    segment the layers take distinct chiplets of a random permutation, and each layer's micro-batches are cut
    into 1-4 contiguous blocks on distinct chiplets (consecutive micro-batches then share weights)."""
    out = np.empty((n, enc.n_genes), np.int64)
    mb = np.arange(enc.n_micro_batches)
    for k in range(n):
        bits = (rng.random(enc.n_bits) < 0.1).astype(np.int64)
        chips = np.empty((enc.n_micro_batches, enc.n_layers), np.int64)
        for seg in _segments(bits):
            perm = rng.permutation(enc.n_chiplets)
            for i, layer in enumerate(seg):
                blocks = int(rng.integers(1, min(4, enc.n_micro_batches) + 1))
                own = rng.choice(enc.n_chiplets, blocks, replace=False) if blocks > 1 else perm[[i % enc.n_chiplets]]
                chips[:, layer] = own[mb * blocks // enc.n_micro_batches]
        out[k] = _join(bits, chips)
    return out


def random_genomes(enc: Encoding, n: int, rng: np.random.Generator) -> np.ndarray:
    """The search's sampling distribution: half uniform genomes, half random layer-pipelined ones."""
    n_grouped = n // 2
    return np.vstack([grouped_genomes(enc, n_grouped, rng), uniform_genomes(enc, n - n_grouped, rng)])


# ---------------------------------------------------------------------------------------------- pymoo
class SeededSampling(Sampling):
    """Initial population: the given seed genomes (e.g. fixed baselines), then uniform random ones."""

    def __init__(self, enc: Encoding, pins: Pins, seeds: np.ndarray | None = None):
        super().__init__()
        self.enc, self.pins = enc, pins
        self.seeds = np.zeros((0, enc.n_genes), np.int64) if seeds is None else np.atleast_2d(seeds)

    def _do(self, problem, n_samples, *args, random_state=None, **kwargs):
        seeds = self.seeds[:n_samples]
        rand = random_genomes(self.enc, n_samples - len(seeds), random_state)
        return self.pins.apply(np.vstack([seeds, rand]).astype(np.int64))


class TournamentOfK(Selection):
    """Tournament selection: the best (lowest first objective) of k individuals drawn with replacement."""

    def __init__(self, k: int = 5):
        super().__init__()
        self.k = k

    def _do(self, problem, pop, n_select, n_parents, random_state=None, **kwargs):
        f = pop.get("F")[:, 0]
        cand = random_state.integers(len(pop), size=(n_select * n_parents, self.k))
        best = cand[np.arange(len(cand)), np.argmin(f[cand], axis=1)]
        return best.reshape(n_select, n_parents)


class SegmentCrossover(Crossover):
    """Two parents -> one child by :func:`crossover_segments`."""

    def __init__(self, enc: Encoding, pins: Pins, prob: float = 0.9):
        super().__init__(n_parents=2, n_offsprings=1, prob=prob)
        self.enc, self.pins = enc, pins

    def _do(self, problem, X, *args, random_state=None, **kwargs):
        _, n_matings, _ = X.shape
        out = np.empty((1, n_matings, self.enc.n_genes), np.int64)
        for k in range(n_matings):
            out[0, k] = crossover_segments(X[0, k], X[1, k], self.enc, random_state)
        self.pins.apply(out[0])
        return out


class MappingMutation(Mutation):
    """:func:`mutate` with progress = generation / planned generations."""

    def __init__(self, enc: Encoding, pins: Pins, n_gen: int):
        super().__init__(prob=1.0)
        self.enc, self.pins, self.n_gen = enc, pins, max(n_gen, 1)

    def _do(self, problem, X, *args, random_state=None, algorithm=None, **kwargs):
        progress = 0.0 if algorithm is None else (algorithm.n_gen or 0) / self.n_gen
        out = np.stack([mutate(x.astype(np.int64), self.enc, random_state, progress) for x in X])
        return self.pins.apply(out)


class EliteLocalSearchMating(Mating):
    """Memetic mating: a fraction ``local_share`` of each generation's offspring are :func:`mutate` moves (the
    same moves simulated annealing makes) applied to one of the ``n_elite`` best individuals; the rest come
    from selection, crossover and mutation. With the GA's elitist survival this is a (mu + lambda) local
    search around the incumbents inside the GA, so the evaluation budget is shared by exploitation and
    recombination instead of recombination alone."""

    def __init__(self, selection, crossover, mutation, enc: Encoding, pins: Pins, n_gen: int,
                 local_share: float, n_elite: int, **kwargs):
        super().__init__(selection, crossover, mutation, **kwargs)
        self.enc, self.pins, self.n_gen = enc, pins, max(n_gen, 1)
        self.local_share, self.n_elite = local_share, n_elite

    def _do(self, problem, pop, n_offsprings, random_state=None, algorithm=None, **kwargs):
        n_local = int(round(self.local_share * n_offsprings))
        parts = []
        if n_offsprings - n_local > 0:
            parts.append(super()._do(problem, pop, n_offsprings - n_local, random_state=random_state,
                                     algorithm=algorithm, **kwargs))
        if n_local > 0:
            f = pop.get("F")
            edp = f[:, 0] if f.shape[1] == 1 else f[:, 0] * f[:, 1]
            elite = np.argsort(edp, kind="stable")[:self.n_elite]
            X = pop.get("X").astype(np.int64)[random_state.choice(elite, n_local)]
            progress = 0.0 if algorithm is None else (algorithm.n_gen or 0) / self.n_gen
            moves = np.stack([mutate(x, self.enc, random_state, progress) for x in X])
            parts.append(Population.new("X", self.pins.apply(moves)))
        return Population.merge(*parts) if len(parts) > 1 else parts[0]
