"""Same-budget search baselines: random search and simulated annealing over the same genomes and engine.

Simulated annealing runs ``n_chains`` independent chains in lock-step (one vectorised evaluation per step);
a move is one application of the GA's mutation (operators.py, with the same progress schedule). Acceptance is
Metropolis on log EDP, so the temperature is scale-free: a move that makes EDP worse by a factor r is accepted
with probability r^(-1/T). T falls geometrically from ``t_start`` (a 10 % worse move accepted with
probability ~0.39 at T = 0.1) to ``t_end`` over the chain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ailfm import interrupts
from ailfm.mapping.encoding import Pins
from ailfm.mapping.evaluator import Evaluator
from ailfm.mapping.search.operators import mutate, random_genomes


@dataclass(frozen=True)
class BaselineSearchResult:
    best_genome: np.ndarray
    best_edp: float
    evaluations: int
    history: np.ndarray  # best EDP after each batch of evaluations


def random_search(evaluator: Evaluator, budget: int, seed: int = 0, pins: Pins | None = None,
                  seeds: np.ndarray | None = None, batch: int = 256) -> BaselineSearchResult:
    """Evaluate ``budget`` genomes: the given seed genomes first, then uniform random ones."""
    enc = evaluator.encoding
    pins = Pins.none(enc) if pins is None else pins
    rng = np.random.default_rng(seed)
    pending = np.zeros((0, enc.n_genes), np.int64) if seeds is None else np.atleast_2d(seeds)[:budget]
    best, best_edp, done, history = None, np.inf, 0, []
    while done < budget:
        interrupts.check()
        n = min(batch, budget - done)
        genomes = np.vstack([pending[:n], random_genomes(enc, n - len(pending[:n]), rng)])
        pending = pending[n:]
        pins.apply(genomes)
        edp = evaluator.evaluate(genomes).edp
        i = int(np.argmin(edp))
        if edp[i] < best_edp:
            best, best_edp = genomes[i].copy(), float(edp[i])
        done += n
        history.append(best_edp)
    return BaselineSearchResult(best, best_edp, done, np.asarray(history))


def simulated_annealing(evaluator: Evaluator, budget: int, seed: int = 0, pins: Pins | None = None,
                        seeds: np.ndarray | None = None, n_chains: int = 16, t_start: float = 0.1,
                        t_end: float = 1e-3) -> BaselineSearchResult:
    """Multi-chain SA with ``budget`` evaluations in total; chain k starts from seed genome k (if given)."""
    enc = evaluator.encoding
    pins = Pins.none(enc) if pins is None else pins
    rng = np.random.default_rng(seed)
    n_chains = max(1, min(n_chains, budget))
    start = random_genomes(enc, n_chains, rng)
    if seeds is not None:
        seeds = np.atleast_2d(seeds)[:n_chains]
        start[:len(seeds)] = seeds
    current = pins.apply(start)
    current_edp = evaluator.evaluate(current).edp
    i = int(np.argmin(current_edp))
    best, best_edp = current[i].copy(), float(current_edp[i])
    steps = max(1, (budget - n_chains) // n_chains)
    history = [best_edp]
    for step in range(steps):
        interrupts.check()
        progress = step / steps
        temperature = t_start * (t_end / t_start) ** progress
        proposal = pins.apply(np.stack([mutate(x, enc, rng, progress) for x in current]))
        edp = evaluator.evaluate(proposal).edp
        delta = np.log(edp) - np.log(current_edp)
        accept = (delta <= 0) | (rng.random(n_chains) < np.exp(-np.maximum(delta, 0) / temperature))
        current[accept] = proposal[accept]
        current_edp[accept] = edp[accept]
        i = int(np.argmin(current_edp))
        if current_edp[i] < best_edp:
            best, best_edp = current[i].copy(), float(current_edp[i])
        history.append(best_edp)
    return BaselineSearchResult(best, best_edp, n_chains * (steps + 1), np.asarray(history))
