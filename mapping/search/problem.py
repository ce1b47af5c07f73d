"""The pymoo problem: genomes in, objectives out; evaluation through any concurrent.futures Executor.

``evaluate_population`` splits a population into chunks and maps :func:`score_chunk` (module level, plain
data, so it pickles) over an Executor: a local ProcessPoolExecutor, Dask's ``Client(addr).get_executor()``,
or none (in-process, vectorised).
"""

from __future__ import annotations

from concurrent.futures import Executor

import numpy as np
from pymoo.core.problem import Problem

from ailfm.mapping.evaluator import Evaluator

OBJECTIVES = ("edp", "pareto")


def score_chunk(evaluator: Evaluator, genomes: np.ndarray) -> np.ndarray:
    """(n, 2) latency (s) and energy (J) of a chunk of genomes."""
    result = evaluator.evaluate(genomes)
    return np.stack([result.latency_s, result.energy_J], axis=1)


def evaluate_population(evaluator: Evaluator, genomes: np.ndarray, executor: Executor | None = None,
                        n_chunks: int = 1) -> np.ndarray:
    """(P, 2) latency and energy; chunks go to ``executor`` when given."""
    genomes = np.atleast_2d(np.asarray(genomes, np.int64))
    if executor is None or n_chunks <= 1 or len(genomes) < 2 * n_chunks:
        return score_chunk(evaluator, genomes)
    chunks = np.array_split(genomes, n_chunks)
    return np.vstack(list(executor.map(score_chunk, [evaluator] * len(chunks), chunks)))


class MappingProblem(Problem):
    """Minimise EDP (one objective) or (latency, energy) (``objective="pareto"``) over genomes."""

    def __init__(self, evaluator: Evaluator, objective: str = "edp", executor: Executor | None = None,
                 n_chunks: int = 1):
        enc = evaluator.encoding
        super().__init__(n_var=enc.n_genes, n_obj=1 if objective == "edp" else 2, xl=0, xu=enc.upper_bounds(),
                         vtype=int)
        self.evaluator, self.objective = evaluator, objective
        self.executor, self.n_chunks = executor, n_chunks
        self.n_evaluated = 0

    def __getstate__(self):
        state = self.__dict__.copy()
        state["executor"] = None  # executors do not pickle; reattach after loading a checkpoint
        return state

    def _evaluate(self, x, out, *args, **kwargs):
        lat_energy = evaluate_population(self.evaluator, x, self.executor, self.n_chunks)
        self.n_evaluated += len(x)
        out["latency_s"] = lat_energy[:, 0]
        out["energy_J"] = lat_energy[:, 1]
        if self.objective == "edp":
            out["F"] = (lat_energy[:, 0] * lat_energy[:, 1])[:, None]
        else:
            out["F"] = lat_energy
