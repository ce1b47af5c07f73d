"""The pymoo problem: genomes in, objectives out; evaluation through any concurrent.futures Executor.

``evaluate_population`` splits a population into chunks and maps :func:`score_chunk` (module level, plain
data, so it pickles) over an Executor: a local ProcessPoolExecutor, Dask's ``Client(addr).get_executor()``,
or none (in-process, vectorised).

The scorer is an ``Evaluator`` (thermal-blind) or a ``ThermalEvaluator`` (latency and energy after DTM
throttling, plus the peak chiplet temperature): objectives ``edp`` (one), ``pareto`` (latency, energy) and
``edp-peak`` (EDP, peak temperature; thermal only); ``max_peak_K`` adds the constraint peak <= limit.
"""

from __future__ import annotations

from concurrent.futures import Executor

import numpy as np
from pymoo.core.problem import Problem

from ailfm.mapping.evaluator import Evaluator

OBJECTIVES = ("edp", "pareto", "edp-peak")
THERMAL_OBJECTIVES = ("edp-peak",)


def score_chunk(evaluator: Evaluator, genomes: np.ndarray, columns: tuple[str, ...] = ("latency_s", "energy_J")
                ) -> np.ndarray:
    """(n, len(columns)) scores of a chunk of genomes: latency (s), energy (J) and, from a ThermalEvaluator, the
    peak chiplet temperature (``peak_K``)."""
    result = evaluator.evaluate(genomes)
    return np.stack([getattr(result, name) for name in columns], axis=1)


def evaluate_population(evaluator: Evaluator, genomes: np.ndarray, executor: Executor | None = None,
                        n_chunks: int = 1, columns: tuple[str, ...] = ("latency_s", "energy_J")) -> np.ndarray:
    """(P, len(columns)) scores; chunks go to ``executor`` when given."""
    genomes = np.atleast_2d(np.asarray(genomes, np.int64))
    if executor is None or n_chunks <= 1 or len(genomes) < 2 * n_chunks:
        return score_chunk(evaluator, genomes, columns)
    chunks = np.array_split(genomes, n_chunks)
    return np.vstack(list(executor.map(score_chunk, [evaluator] * len(chunks), chunks, [columns] * len(chunks))))


class MappingProblem(Problem):
    """Minimise EDP (one objective), (latency, energy) (``pareto``) or (EDP, peak temperature) (``edp-peak``)
    over genomes, with peak temperature <= ``max_peak_K`` when given."""

    def __init__(self, evaluator: Evaluator, objective: str = "edp", executor: Executor | None = None,
                 n_chunks: int = 1, max_peak_K: float | None = None):
        enc = evaluator.encoding
        super().__init__(n_var=enc.n_genes, n_obj=1 if objective == "edp" else 2, xl=0, xu=enc.upper_bounds(),
                         vtype=int, n_ieq_constr=0 if max_peak_K is None else 1)
        self.evaluator, self.objective, self.max_peak_K = evaluator, objective, max_peak_K
        self.executor, self.n_chunks = executor, n_chunks
        thermal = objective in THERMAL_OBJECTIVES or max_peak_K is not None
        self.columns = ("latency_s", "energy_J", "peak_K") if thermal else ("latency_s", "energy_J")
        self.n_evaluated = 0

    def __getstate__(self):
        state = self.__dict__.copy()
        state["executor"] = None  # executors do not pickle; reattach after loading a checkpoint
        return state

    def _evaluate(self, x, out, *args, **kwargs):
        scores = evaluate_population(self.evaluator, x, self.executor, self.n_chunks, self.columns)
        self.n_evaluated += len(x)
        out["latency_s"] = scores[:, 0]
        out["energy_J"] = scores[:, 1]
        edp = scores[:, 0] * scores[:, 1]
        if self.objective == "edp":
            out["F"] = edp[:, None]
        elif self.objective == "pareto":
            out["F"] = scores[:, :2]
        else:
            out["F"] = np.stack([edp, scores[:, 2]], axis=1)
        if self.max_peak_K is not None:
            out["G"] = (scores[:, 2] - self.max_peak_K)[:, None]

    def edp(self, F: np.ndarray) -> np.ndarray:
        """The EDP of objective rows ``F``."""
        return F[:, 0] * F[:, 1] if self.objective == "pareto" else F[:, 0]
