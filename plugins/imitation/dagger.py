"""Imitation learning from the Oracle: behavioural cloning, DAgger, and active DAgger, resumable and parallel.

Iteration 0 of every method rolls out the Oracle and labels every state it visits (the seed data set). Then, per
iteration ``i >= 1`` of ``rollouts`` roll-outs:

* ``bc``: the Oracle drives again and labels every state (behavioural cloning on Oracle-only trajectories);
* ``dagger``: the current policy drives and the Oracle labels every visited state (DAgger with beta = 0 after
  iteration 0, Ross, Gordon and Bagnell, AISTATS 2011);
* ``active``: the current policy drives and the Oracle labels only the states where the policy's bootstrap ensemble
  disagrees by more than ``threshold`` (query by committee).

After each iteration the ensemble is retrained on everything gathered so far and its quality measured on fixed
validation scenarios against the Oracle (``quality`` = the policy's objective score / the Oracle's, after the same
warm-up: instructions for ``throughput``, instructions / energy or instructions^2 / energy for the energy objectives,
``objective.py``; plus its time above T_max). The objective is the Oracle's (``OracleConfig.objective``).
Roll-outs and ensemble members run on a ``concurrent.futures.Executor`` (local process pool, or a Dask cluster's
executor). Every roll-out is written as a Parquet shard the moment it finishes and
recorded in ``manifest.json``; every trained ensemble is pickled. A run that is killed resumes from the manifest and,
because each task's scenario comes from its own ``SeedSequence`` child and the data set is assembled in (iteration,
task) order, ends with exactly the data and model of an uninterrupted run of the same seed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ailfm.errors import ConfigError, FormatError
from ailfm.files import read_json, refuse_other_config, write_atomic
from ailfm.plugins.imitation.contract import VF_RULES
from ailfm.plugins.imitation.features import FEATURE_NAMES, FEATURE_VERSION, N_FEATURES
from ailfm.plugins.imitation.objective import objective_score
from ailfm.plugins.imitation.oracle import OracleConfig
from ailfm.plugins.imitation.policy import Ensemble
from ailfm.plugins.imitation.rollout import RolloutResult, RolloutScenario, RolloutTask, rollout
from ailfm.pools import process_pool
from ailfm.traces.scenario import Scenario, request_lengths

METHODS = ("bc", "dagger", "active")
#: Leave-one-model-out split of issue 4: Llama-3-8B and ViT-L/16 are held out of training.
TRAIN_WORKLOADS = ("llama-2-7b", "opt-6.7b", "mistral-7b", "bert-large", "gpt2-xl")
HELD_OUT_WORKLOADS = ("llama-3-8b", "vit-l-16")
TARGET_COLUMNS = ("target_f_fraction", "target_occupancy")


@dataclass(frozen=True)
class TrainConfig:
    """One imitation-learning run (``ailfm ail train``; the shipped policies' options: ``bench/ail_reproduce.py``)."""

    method: str = "active"
    system: str = "snuca-64"
    workloads: tuple[str, ...] = TRAIN_WORKLOADS
    iterations: int = 5
    rollouts: int = 4
    warmup_epochs: tuple[int, int] = (40, 200)
    epochs: int = 40
    lengths: str = "fixed:16,4"
    requests: int = 24  # enough that no instance runs out of work within a roll-out
    instances: int = 3
    threads: int = 16
    threshold: float = 0.16  # ~ the median spread of the first ensembles on visited states (docs/ail.md)
    members: int = 4
    validation: int = 3
    seed: int = 0
    thermal_cells: int | None = None
    oracle: OracleConfig = field(default_factory=OracleConfig)
    vf_rule: str = VF_RULES[0]  # how the policy's V/f column becomes requests in roll-outs and in the exported file
    #: the regression target of an f_max label (1.0: f_max itself). The exported V/f rounds to the nearest level and
    #: clips at f_max, so a target above 1 lets the regression err low by that much near the top and still ask for
    #: f_max (``fmax_training_targets``); lower labels are unchanged
    fmax_target: float = 1.0

    def __post_init__(self):
        if self.method not in METHODS:
            raise ConfigError("method", f"unknown method {self.method!r}; known: {', '.join(METHODS)}")
        if self.iterations < 1 or self.rollouts < 1 or self.members < 1:
            raise ConfigError("iterations", "iterations, rollouts and members must be at least 1")
        for name in ("epochs", "validation", "seed"):  # checked here, before any roll-out runs
            if getattr(self, name) < (1 if name == "epochs" else 0):
                raise ConfigError(name, f"must be >= {1 if name == 'epochs' else 0}, got {getattr(self, name)}")
        if not training_systems(self):
            raise ConfigError("system", "name at least one training system")
        if not training_lengths(self):
            raise ConfigError("lengths", "name at least one request-length source")
        for source in training_lengths(self):  # read once here, before a run folder or a roll-out exists
            request_lengths(Scenario(lengths=source, requests=1), 0)
        if not 0 <= self.threshold < float("inf"):
            raise ConfigError("threshold", f"must be a finite number >= 0, got {self.threshold}")
        if not 1.0 <= self.fmax_target <= 2.0:
            raise ConfigError("fmax_target", f"must be in [1, 2] (V/f fractions), got {self.fmax_target!r}")
        if not 0 <= self.warmup_epochs[0] <= self.warmup_epochs[1]:
            raise ConfigError("warmup_epochs", f"need 0 <= min <= max, got {self.warmup_epochs}")
        if self.vf_rule not in VF_RULES:
            raise ConfigError("vf_rule", f"unknown rule {self.vf_rule!r}; known: {', '.join(VF_RULES)}")

    def to_json(self) -> dict:
        return json.loads(json.dumps(dataclasses.asdict(self)))


def training_systems(config: TrainConfig) -> tuple[str, ...]:
    """The systems roll-outs are drawn from: ``system`` is one name or several, comma-separated."""
    return tuple(name.strip() for name in config.system.split(",") if name.strip())


def training_lengths(config: TrainConfig) -> tuple[str, ...]:
    """The request-length sources roll-outs are drawn from: ``lengths`` is one or several, ``;``-separated (a
    ``fixed:P,O`` spelling holds a comma)."""
    return tuple(spec.strip() for spec in config.lengths.split(";") if spec.strip())


def _scenario(config: TrainConfig, rng: np.random.Generator, workloads: tuple[str, ...]) -> RolloutScenario:
    workload, seed = str(rng.choice(workloads)), int(rng.integers(0, 2**31))
    warmup = int(rng.integers(config.warmup_epochs[0], config.warmup_epochs[1] + 1))
    systems = training_systems(config)
    # drawn last, and only from several: a single-system run keeps the scenarios it had before systems were drawn
    system = systems[0] if len(systems) == 1 else str(rng.choice(systems))
    sources = training_lengths(config)  # likewise, after the system
    lengths = sources[0] if len(sources) == 1 else str(rng.choice(sources))
    return RolloutScenario(system=system, workload=workload, seed=seed, lengths=lengths,
                           requests=config.requests, instances=config.instances, threads=config.threads,
                           warmup_epochs=warmup, epochs=config.epochs, grid_cells=config.thermal_cells)


def iteration_scenarios(config: TrainConfig, iteration: int) -> list[RolloutScenario]:
    """The roll-out scenarios of an iteration: one ``SeedSequence`` child (one RNG stream) per task."""
    children = np.random.SeedSequence([config.seed, iteration]).spawn(config.rollouts)
    return [_scenario(config, np.random.default_rng(child), config.workloads) for child in children]


def validation_scenarios(config: TrainConfig) -> list[RolloutScenario]:
    """Fixed scenarios (their own seed stream) on which every iteration's policy is scored."""
    children = np.random.SeedSequence([config.seed, 10**6]).spawn(config.validation)
    return [_scenario(config, np.random.default_rng(child), config.workloads) for child in children]


def _mode(config: TrainConfig, iteration: int) -> str:
    if iteration == 0 or config.method == "bc":
        return "oracle"
    return "all" if config.method == "dagger" else "active"


# ---------------------------------------------------------------------------------------------------- shards


def shard_frame(result: RolloutResult) -> pd.DataFrame:
    """A roll-out's labels as a long table: one row per (state, core)."""
    n_states, n_cores = result.targets.shape[:2]
    frame = pd.DataFrame(result.features.reshape(-1, N_FEATURES), columns=list(FEATURE_NAMES))
    for k, name in enumerate(TARGET_COLUMNS):
        frame[name] = result.targets[..., k].reshape(-1)
    frame["epoch"] = np.repeat(result.epochs, n_cores)
    frame["core"] = np.tile(np.arange(n_cores), n_states).astype(np.int32)
    return frame


def fmax_training_targets(y: np.ndarray, fmax_target: float) -> np.ndarray:
    """The targets the ensemble is fitted to: column 0's f_max labels (fraction 1) set to ``fmax_target``."""
    if fmax_target == 1.0:
        return y
    y = y.copy()
    y[y[:, 0] >= 1.0, 0] = fmax_target
    return y


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Checkpoint:
    """``manifest.json`` + ``shards/*.parquet`` in one folder; each write is atomic.

    Trained ensembles are not stored: a pickle in a results folder could run code when read back. An iteration's
    ensemble is refitted from the shards it was trained on (same data, same seed: the same model), at most once per
    process."""

    def __init__(self, folder: str | Path, config: TrainConfig):
        self.folder = Path(folder)
        (self.folder / "shards").mkdir(parents=True, exist_ok=True)
        self.config = config
        self._ensembles: dict[int, Ensemble] = {}
        self.path = self.folder / "manifest.json"
        if self.path.is_file():
            self.manifest = read_json(self.path, "manifest")
            if not isinstance(self.manifest, dict) or not {"config", "shards", "iterations"} <= set(self.manifest):
                raise FormatError(self.path, None, "not a manifest of ailfm ail train (no config, shards and "
                                                   "iterations); use a new --out")
            refuse_other_config(self.path, _with_defaults(self.manifest["config"], TrainConfig().to_json()),
                                config.to_json())
        else:
            self.manifest = {"config": config.to_json(), "feature_version": FEATURE_VERSION, "shards": {},
                             "iterations": {}}
            self._save()

    def _save(self) -> None:
        write_atomic(self.path, (json.dumps(self.manifest, indent=1, sort_keys=True) + "\n").encode())

    @staticmethod
    def key(iteration: int, task: int) -> str:
        return f"it{iteration:03d}-task{task:03d}"

    def has_shard(self, key: str) -> bool:
        entry = self.manifest["shards"].get(key)
        return entry is not None and (self.folder / entry["file"]).is_file()

    def add_shard(self, key: str, result: RolloutResult) -> None:
        file = Path("shards") / f"{key}.parquet"
        tmp = self.folder / f"{file}.tmp"
        shard_frame(result).to_parquet(tmp, index=False)
        os.replace(tmp, self.folder / file)
        self.manifest["shards"][key] = {
            "file": str(file), "sha256": _sha256(self.folder / file), "states": int(result.states),
            "queries": int(result.queries), "instructions": result.instructions, "tokens": result.tokens,
            "time_above_tmax_s": result.time_above_tmax_s, "peak_temp_C": result.peak_temp_C}
        self._save()

    def shards_through(self, iteration: int) -> list[str]:
        return sorted(k for k in self.manifest["shards"] if int(k[2:5]) <= iteration)

    def data(self, iteration: int) -> tuple[np.ndarray, np.ndarray]:
        """Every label of iterations 0..iteration, in (iteration, task) order, as (X, Y)."""
        frames = []
        for key in self.shards_through(iteration):
            entry = self.manifest["shards"][key]
            path = self.folder / entry["file"]
            if _sha256(path) != entry["sha256"]:
                raise ConfigError("out", f"shard {key} does not match its checksum in the manifest", path=str(path))
            frames.append(pd.read_parquet(path))
        frame = pd.concat(frames, ignore_index=True)
        return (frame[list(FEATURE_NAMES)].to_numpy(np.float32),
                frame[list(TARGET_COLUMNS)].to_numpy(np.float64))

    def ensemble(self, iteration: int, executor: Executor | None = None) -> Ensemble:
        """The ensemble trained on the labels of iterations 0..iteration (fitted once per process)."""
        if iteration not in self._ensembles:
            x, y = self.data(iteration)
            y = fmax_training_targets(y, self.config.fmax_target)
            self._ensembles[iteration] = Ensemble.fit(x, y, seed=self.config.seed + iteration,
                                                      members=self.config.members, executor=executor)
        return self._ensembles[iteration]

    def record_iteration(self, iteration: int, values: dict) -> None:
        self.manifest["iterations"][str(iteration)] = values
        self._save()


class Interrupted(Exception):
    """Raised when ``max_new_shards`` shards have been written (tests and users stopping a run early)."""


# ---------------------------------------------------------------------------------------------------- the loop


def _run_tasks(tasks: dict[str, RolloutTask], executor: Executor, progress: bool, description: str,
               on_result) -> None:
    futures = {executor.submit(rollout, task): key for key, task in tasks.items()}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(futures), desc=description, unit="rollout", leave=False)
    try:
        for future in as_completed(futures):
            on_result(futures[future], future.result())
            if bar is not None:
                bar.update(1)
    finally:
        for future in futures:
            future.cancel()
        if bar is not None:
            bar.close()


def oracle_reference(config: TrainConfig, checkpoint: Checkpoint, executor: Executor, progress: bool) -> list[dict]:
    """The Oracle's roll-outs of the validation scenarios (computed once, kept in the manifest)."""
    if "oracle_validation" not in checkpoint.manifest:
        tasks = {str(k): RolloutTask(s, "oracle", oracle=config.oracle)
                 for k, s in enumerate(validation_scenarios(config))}
        results: dict[str, RolloutResult] = {}
        _run_tasks(tasks, executor, progress, "oracle validation", results.__setitem__)
        checkpoint.manifest["oracle_validation"] = [_metrics(results[str(k)]) for k in range(len(tasks))]
        checkpoint._save()
    return checkpoint.manifest["oracle_validation"]


def _with_defaults(stored: dict, defaults: dict) -> dict:
    """A stored configuration with the fields added since it was written at their defaults (an older run resumes:
    their defaults are what it ran with)."""
    completed = dict(stored)
    for key, value in defaults.items():
        if key not in completed:
            completed[key] = value
        elif isinstance(value, dict) and isinstance(completed[key], dict):
            completed[key] = _with_defaults(completed[key], value)
    return completed


def _metrics(result: RolloutResult) -> dict:
    return {"instructions": result.instructions, "energy_J": result.energy_J, "tokens": result.tokens,
            "peak_temp_C": result.peak_temp_C, "time_above_tmax_s": result.time_above_tmax_s}


def evaluate(config: TrainConfig, ensemble: Ensemble, reference: list[dict], executor: Executor,
             progress: bool) -> dict:
    """The ensemble's policy on the validation scenarios, relative to the Oracle, by the Oracle's objective."""
    tasks = {str(k): RolloutTask(s, "none", ensemble, oracle=config.oracle, vf_rule=config.vf_rule)
             for k, s in enumerate(validation_scenarios(config))}
    results: dict[str, RolloutResult] = {}
    _run_tasks(tasks, executor, progress, "validation", results.__setitem__)
    objective = config.oracle.objective
    ratios = [objective_score(objective, results[str(k)].instructions, results[str(k)].energy_J)
              / objective_score(objective, reference[k]["instructions"], reference[k].get("energy_J", float("nan")))
              for k in range(len(tasks)) if reference[k]["instructions"] > 0]
    return {"quality": float(np.mean(ratios)) if ratios else float("nan"),
            "time_above_tmax_s": float(sum(results[k].time_above_tmax_s for k in results)),
            "peak_temp_C": float(np.nanmax([results[k].peak_temp_C for k in results]))}


def train(config: TrainConfig, out: str | Path | Checkpoint, executor: Executor | None = None, *,
          max_workers: int | None = None, progress: bool = True,
          max_new_shards: int | None = None) -> tuple[Ensemble, dict]:
    """Run (or resume) an imitation-learning run in ``out`` (a folder or its open Checkpoint, whose ensembles stay
    cached for the export); returns the final ensemble and the per-iteration record."""
    if executor is None:
        with process_pool(max_workers) as pool:
            return train(config, out, pool, progress=progress, max_new_shards=max_new_shards)
    checkpoint = out if isinstance(out, Checkpoint) else Checkpoint(out, config)
    reference = oracle_reference(config, checkpoint, executor, progress) if config.validation else []
    written = [0]
    for iteration in range(config.iterations):
        mode = _mode(config, iteration)
        tasks = {}
        for task_index, scenario in enumerate(iteration_scenarios(config, iteration)):
            key = Checkpoint.key(iteration, task_index)
            if not checkpoint.has_shard(key):
                policy = checkpoint.ensemble(iteration - 1, executor) if mode != "oracle" else None
                tasks[key] = RolloutTask(scenario, mode, policy, config.threshold, config.oracle, config.vf_rule)

        def keep(key: str, result: RolloutResult) -> None:
            if max_new_shards is not None and written[0] >= max_new_shards:
                raise Interrupted(f"stopped after {written[0]} new shards")
            checkpoint.add_shard(key, result)
            written[0] += 1

        if tasks:
            _run_tasks(tasks, executor, progress, f"{config.method} iteration {iteration} ({mode})", keep)
        if str(iteration) not in checkpoint.manifest["iterations"]:
            shards = [checkpoint.manifest["shards"][k] for k in checkpoint.shards_through(iteration)]
            record = {"queries": int(sum(s["queries"] for s in shards)),
                      "states": int(sum(s["states"] for s in shards))}
            if reference:
                record.update(evaluate(config, checkpoint.ensemble(iteration, executor), reference, executor,
                                       progress))
            checkpoint.record_iteration(iteration, record)
    return checkpoint.ensemble(config.iterations - 1, executor), checkpoint.manifest["iterations"]


def best_iteration(record: dict) -> int:
    """The iteration whose ensemble scored best on the validation scenarios (the later one on ties): the one exported.
    Validation quality moves by a few per cent between iterations (3 scenarios of 40 epochs), so the last iteration
    is not always the best."""
    return max((int(k) for k in record), key=lambda k: (record[str(k)].get("quality", float("-inf")), k))
