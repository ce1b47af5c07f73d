"""GA (single-objective EDP) and NSGA-II (latency/energy Pareto front) mapping search on pymoo.

The run loop is ours so that it can log every generation (search.csv), show a tqdm bar, stop early, respect
an evaluation budget and checkpoint: the algorithm's state (population genomes, objectives and survival ranks, its
random generator, counters) and the log are written as one npz file every ``checkpoint_every`` generations, read back
without pickle (``allow_pickle=False``), so a checkpoint in a shared results folder cannot run code. The checkpoint
records the run's configuration; resuming under another one is refused, naming the fields. A run restarted with the
same arguments and checkpoint continues from it and ends with the same result as an uninterrupted run.

The single-objective GA is memetic: ``local_share`` (default 0.8) of each generation's offspring are mutation
moves around the ``n_elite`` (4) best individuals (operators.EliteLocalSearchMating), the rest come from
tournament selection, segment crossover and mutation. On the scenario table's Llama-3-8B / GPT-3 6.7B cases
(measured with the earlier cost model, before the 32-bit WS partial sums) this took the GA from 17-18 % to
28-36 % below the best fixed baseline at the same 24,000 evaluations (plain GA:
the population converged within ~60 generations; shares 0.5-0.95 and 1-16 elites were within a few points).
Moves of one operator instead of 1 + Poisson(0.5) looked better on five scenarios but not on the full table
(-29.8 % vs -30.0 % on geometric mean), and simulated annealing with those moves beat that GA on GPT-3 6.7B
vLLM conversation; the GA keeps exactly simulated annealing's moves.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.algorithms.soo.nonconvex.ga import GA
from pymoo.core.duplicate import DefaultDuplicateElimination
from pymoo.core.population import Population
from tqdm.auto import tqdm

from ailfm import interrupts
from ailfm.errors import ConfigError, FormatError
from ailfm.files import config_hash, refuse_other_config, write_atomic
from ailfm.mapping.encoding import Pins
from ailfm.mapping.evaluator import Evaluator
from ailfm.mapping.search.operators import (
    EliteLocalSearchMating,
    MappingMutation,
    SeededSampling,
    SegmentCrossover,
    TournamentOfK,
)
from ailfm.mapping.search.problem import OBJECTIVES, MappingProblem

LOG_COLUMNS = ("generation", "evaluations", "best_edp", "best_latency_s", "best_energy_J", "mean_edp", "elapsed_s")


@dataclass(frozen=True)
class SearchSettings:
    """Budgets and knobs of one search."""

    pop_size: int = 120
    n_gen: int = 200
    seed: int = 0
    objective: str = "edp"
    max_evaluations: int | None = None
    patience: int | None = None       # generations without relative improvement > tolerance
    tolerance: float = 1e-4
    tournament: int = 5
    checkpoint_every: int = 10
    local_share: float = 0.8          # share of offspring made by local moves around the elite (memetic step)
    n_elite: int = 4
    max_peak_K: float | None = None   # constraint: peak chiplet temperature (needs a ThermalEvaluator)

    def __post_init__(self):
        if self.objective not in OBJECTIVES:
            raise ConfigError("objective", f"unknown {self.objective!r}; known: {', '.join(OBJECTIVES)}")
        if self.pop_size < 2 or self.n_gen < 1:
            raise ConfigError("pop_size", "needs pop_size >= 2 and n_gen >= 1")
        if not 0.0 <= self.local_share <= 1.0:
            raise ConfigError("local_share", f"must be in [0, 1], got {self.local_share}")
        if self.n_elite < 1:
            raise ConfigError("n_elite", f"must be >= 1, got {self.n_elite}")
        if self.max_peak_K is not None and not self.max_peak_K > 0:
            raise ConfigError("max_peak_K", f"must be > 0 K, got {self.max_peak_K}")


@dataclass
class SearchResult:
    """Best genome (EDP) and, for NSGA-II, the Pareto set; the log rows of every generation."""

    best_genome: np.ndarray
    best_edp: float
    best_latency_s: float
    best_energy_J: float
    evaluations: int
    generations: int
    stopped: str
    pareto_genomes: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))
    pareto_F: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    log: list[dict] = field(default_factory=list)


def make_algorithm(evaluator: Evaluator, settings: SearchSettings, pins: Pins, seeds: np.ndarray | None):
    enc = evaluator.encoding
    common = dict(pop_size=settings.pop_size, sampling=SeededSampling(enc, pins, seeds),
                  crossover=SegmentCrossover(enc, pins), mutation=MappingMutation(enc, pins, settings.n_gen),
                  eliminate_duplicates=True)
    if settings.objective == "edp":
        selection = TournamentOfK(settings.tournament)
        if settings.local_share > 0:
            common["mating"] = EliteLocalSearchMating(selection, common["crossover"], common["mutation"], enc, pins,
                                                      settings.n_gen, settings.local_share, settings.n_elite,
                                                      eliminate_duplicates=DefaultDuplicateElimination())
        return GA(selection=selection, **common)
    return NSGA2(**common)


def run_search(evaluator: Evaluator, settings: SearchSettings, *, pins: Pins | None = None,
               seeds: np.ndarray | None = None, executor: Executor | None = None, n_chunks: int = 1,
               checkpoint: str | Path | None = None, log_path: str | Path | None = None,
               progress: bool = False, stop_after_generations: int | None = None,
               config: dict | None = None) -> SearchResult:
    """Run (or resume from ``checkpoint``) a GA/NSGA-II search.

    ``config`` (JSON-able; default: the settings) is stored in the checkpoint; a checkpoint made under another one
    is refused. ``stop_after_generations`` ends the call early after that many generations of this call (used to
    emulate a kill in tests); the checkpoint then lets a later call finish the run.
    """
    enc = evaluator.encoding
    pins = Pins.none(enc) if pins is None else pins
    checkpoint = None if checkpoint is None else Path(checkpoint)
    config = {**{k: v for k, v in dataclasses.asdict(settings).items()
                 if k != "checkpoint_every" and not (k == "max_peak_K" and v is None)}, **(config or {})}
    problem = MappingProblem(evaluator, settings.objective, executor, n_chunks, settings.max_peak_K)
    algorithm = make_algorithm(evaluator, settings, pins, seeds)
    algorithm.setup(problem, termination=("n_gen", settings.n_gen), seed=settings.seed, verbose=False)
    log, elapsed_before = [], 0.0
    if checkpoint is not None and checkpoint.exists():
        log, elapsed_before = _restore(algorithm, checkpoint, config)
    if log_path is not None:
        _rewrite_log(Path(log_path), log)
    t0 = time.perf_counter()
    bar = tqdm(total=settings.n_gen, initial=len(log), disable=not progress, desc="mapping search", unit="gen")
    stopped = "generations"
    steps = 0
    while algorithm.has_next():
        interrupts.check()  # a Ctrl-C swallowed by a finaliser still ends the search
        if settings.max_evaluations is not None and algorithm.evaluator.n_eval >= settings.max_evaluations:
            stopped = "evaluation budget"
            break
        if _stalled(log, settings):
            stopped = "early stop (no improvement)"
            break
        algorithm.next()
        row = _log_row(evaluator, algorithm, len(log) + 1, elapsed_before + time.perf_counter() - t0)
        log.append(row)
        if log_path is not None:
            _append_log(Path(log_path), row)
        bar.update(1)
        bar.set_postfix(best_edp=f"{row['best_edp']:.4g}")
        steps += 1
        if checkpoint is not None and (len(log) % settings.checkpoint_every == 0 or not algorithm.has_next()):
            write_atomic(checkpoint, _state(algorithm, log, elapsed_before + time.perf_counter() - t0, config))
        if stop_after_generations is not None and steps >= stop_after_generations:
            stopped = "interrupted"
            break
    bar.close()
    return _result(evaluator, algorithm, log, stopped)


def _stalled(log: list[dict], settings: SearchSettings) -> bool:
    if settings.patience is None or len(log) <= settings.patience:
        return False
    old = log[-settings.patience - 1]["best_edp"]
    return log[-1]["best_edp"] > old * (1 - settings.tolerance)


def _best_index(algorithm) -> int:
    """The lowest-EDP individual among the feasible ones (the least infeasible if none is)."""
    pop = algorithm.pop
    edp = algorithm.problem.edp(pop.get("F"))
    G = pop.get("G")
    if G is None or G.size == 0:
        return int(np.argmin(edp))
    violation = np.maximum(G, 0.0).sum(axis=1)
    if (violation <= 0).any():
        return int(np.argmin(np.where(violation <= 0, edp, np.inf)))
    return int(np.argmin(violation))


def _best(evaluator: Evaluator, algorithm) -> tuple[np.ndarray, float, float]:
    """Best-EDP genome of the current population, its latency and energy (re-scored: one genome)."""
    X = algorithm.pop.get("X").astype(np.int64)
    i = _best_index(algorithm)
    result = evaluator.evaluate(X[i:i + 1])
    return X[i], float(result.latency_s[0]), float(result.energy_J[0])


def _log_row(evaluator: Evaluator, algorithm, generation: int, elapsed_s: float) -> dict:
    _, lat, energy = _best(evaluator, algorithm)
    edp = algorithm.problem.edp(algorithm.pop.get("F"))
    return {"generation": generation, "evaluations": int(algorithm.evaluator.n_eval),
            "best_edp": lat * energy, "best_latency_s": lat, "best_energy_J": energy,
            "mean_edp": float(np.mean(edp)), "elapsed_s": round(elapsed_s, 3)}


def _rewrite_log(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, LOG_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def _append_log(path: Path, row: dict) -> None:
    with path.open("a", newline="") as handle:
        csv.DictWriter(handle, LOG_COLUMNS).writerow(row)


def _result(evaluator: Evaluator, algorithm, log: list[dict], stopped: str) -> SearchResult:
    genome, lat, energy = _best(evaluator, algorithm)
    result = SearchResult(genome, lat * energy, lat, energy, int(algorithm.evaluator.n_eval), len(log), stopped,
                          log=log)
    if algorithm.problem.n_obj == 2:
        opt = algorithm.opt
        result.pareto_genomes = opt.get("X").astype(np.int64)
        result.pareto_F = opt.get("F")
    return result


# ------------------------------------------------------------------------------------------------ checkpoints

CHECKPOINT_FORMAT = "ailfm-map-search-checkpoint/1"


def _state(algorithm, log: list[dict], elapsed_s: float, config: dict) -> bytes:
    """The npz bytes of an initialised algorithm: what ``_restore`` needs to continue bit for bit."""
    pop = algorithm.pop
    data_keys = sorted(k for k, v in pop[0].data.items() if isinstance(v, int | float | np.number))
    meta = {"format": CHECKPOINT_FORMAT, "config": config, "config_hash": config_hash(config), "log": log,
            "elapsed_s": elapsed_s, "n_iter": int(algorithm.n_iter), "n_eval": int(algorithm.evaluator.n_eval),
            "rng": algorithm.random_state.bit_generator.state, "data_keys": data_keys}
    arrays = {"X": pop.get("X").astype(np.int64), "F": pop.get("F").astype(np.float64),
              "G": pop.get("G").astype(np.float64), "H": pop.get("H").astype(np.float64)}
    for key in data_keys:
        arrays[f"data_{key}"] = np.array([ind.data[key] for ind in pop])
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
    return buffer.getvalue()


def _restore(algorithm, path: Path, config: dict) -> tuple[list[dict], float]:
    """Put a set-up algorithm in the state saved at ``path``; returns the log and the elapsed time before."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            arrays = {name: saved[name] for name in saved.files}
        meta = json.loads(arrays.pop("meta").tobytes().decode())
        if meta.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"format {meta.get('format')!r}, this ailfm reads {CHECKPOINT_FORMAT!r}")
        X, F, G, H = (arrays[name] for name in "XFGH")
        data = {key: arrays[f"data_{key}"] for key in meta["data_keys"]}
        rng_state, n_iter, n_eval = meta["rng"], int(meta["n_iter"]), int(meta["n_eval"])
        log, elapsed = list(meta["log"]), float(meta["elapsed_s"])
    except FormatError:
        raise
    except Exception as err:  # a truncated zip, a missing array or key, bad JSON: the file is not our checkpoint
        raise FormatError(path, None, f"not a readable map search checkpoint ({type(err).__name__}: {err}); delete "
                                      "it to start the search again") from None
    refuse_other_config(path, meta.get("config", {}), config, why={
        "n_gen": "the mutation schedule depends on the generation count, so a run cannot be extended to more "
                 "generations (it would not match a run made with them)"})
    pop = Population.new("X", X)
    for i, ind in enumerate(pop):
        ind.F, ind.G, ind.H = F[i], G[i], H[i]
        ind.evaluated = {"F", "G", "H"}
        ind.data.update({key: values[i].item() for key, values in data.items()})
    algorithm.pop = pop
    algorithm.is_initialized = True
    algorithm.n_iter = n_iter
    algorithm.evaluator.n_eval = n_eval
    algorithm.random_state.bit_generator.state = rng_state
    algorithm.start_time = time.time()
    algorithm._set_optimum()  # pymoo's hook: the optimum of the restored population (NSGA-II: its first front)
    algorithm.termination.update(algorithm)
    return log, elapsed
