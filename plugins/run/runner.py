"""Runs described as data: ``RunConfig`` -> workload, thermal model, governor -> ``SimulationResult``; and sweeps.

Everything here takes and returns plain data so it pickles: ``sweep`` maps ``run_record`` over configs with any
``concurrent.futures.Executor`` (a local process pool by default, ``Client(address).get_executor()`` for Dask). The
simulation itself is deterministic; a config's ``seed`` picks the trace's request window (``generate_trace``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from concurrent.futures import Executor, as_completed
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from ailfm.errors import ConfigError
from ailfm.files import prepare_output_folder, run_lock
from ailfm.plugins.engine.workload import Workload, workload_from_trace
from ailfm.plugins.epoch.chip_thermal import build_thermal
from ailfm.plugins.epoch.cosim import CoSimulation, SimulationResult
from ailfm.plugins.governors.registry import make_governor
from ailfm.plugins.run.config import RunConfig
from ailfm.plugins.run.outputs import CHUNK_EPOCHS, RunFolder, finished, read_run
from ailfm.plugins.system.description import load_system
from ailfm.pools import process_pool

TRACE_SUFFIXES = (".parquet", ".csv")


def load_workload(config: RunConfig) -> Workload:
    """The workload a config names (trace files are validated on load by ``ailfm.traces.read_trace``)."""
    from ailfm.traces import Scenario, generate_trace, read_trace

    path = Path(config.workload)
    if path.suffix in TRACE_SUFFIXES:
        if not path.is_file():
            raise ConfigError("workload", f"no such trace file: {path}")
        return workload_from_trace(read_trace(path), name=path.stem)
    scenario = Scenario(instances=config.instances, threads_per_instance=config.threads, requests=config.requests,
                        lengths=config.lengths)
    return workload_from_trace(generate_trace(config.workload, scenario, seed=config.seed))


def check_threads_fit(config: RunConfig) -> None:
    """A generated workload's ``instances x threads`` against the system's cores, before any output is written (a
    trace's threads are checked by the engine when it is read)."""
    if Path(config.workload).suffix in TRACE_SUFFIXES:
        return
    n_cores = load_system(config.system).n_cores
    if config.instances * config.threads > n_cores:
        raise ConfigError("threads", f"{config.instances} instances x {config.threads} threads = "
                                     f"{config.instances * config.threads} threads do not fit on the {n_cores} cores "
                                     f"of {config.system} (one thread per core)")


@lru_cache(maxsize=4)
def thermal_model(system_name: str, kind: str, cells: int | None = None):
    """Built once per process and reused (the loop resets it at the start of every run)."""
    return build_thermal(load_system(system_name), kind, cells=cells)


def simulation(config: RunConfig) -> CoSimulation:
    """The co-simulation a config describes."""
    system = load_system(config.system)
    governor = make_governor(config.governor)
    workload = load_workload(config)
    thermal = thermal_model(config.system, config.thermal, config.grid_cells)
    return CoSimulation.for_workload(system, workload, thermal, governor, placement=config.placement)


def run(config: RunConfig, *, progress: bool = False) -> SimulationResult:
    """Simulate one config, keeping every record in memory."""
    return simulation(config).run(config.duration_s, progress=progress)


def simulate_into(config: RunConfig, folder: str | Path, *, resume: bool = False, chunk_epochs: int = CHUNK_EPOCHS,
                  progress: bool = False) -> SimulationResult:
    """Simulate one config into a run folder (``plugins/run/outputs.py``): streamed in chunks of ``chunk_epochs``
    epochs, checkpointed after each, continued from the checkpoint when ``resume``. The caller holds the folder's
    lock."""
    return RunFolder(folder, config, chunk_epochs).simulate(simulation(config), resume=resume, progress=progress)


def run_record(config: RunConfig, folder: str | Path | None = None, resume: bool = False,
               chunk_epochs: int = CHUNK_EPOCHS) -> dict:
    """A sweep's unit of work: the config, its summary, and the small per-epoch series the comparison plots use.

    With a ``folder`` the run streams into it (locked for the run) and the record is read back from its files, so a
    run finished before a ``compare`` was interrupted is reused by ``--resume`` as it is."""
    if folder is not None:
        folder = prepare_output_folder(folder)
        with run_lock(folder):
            if not (resume and finished(folder, config)):
                simulate_into(config, folder, resume=resume, chunk_epochs=chunk_epochs)
        return read_run(folder)
    result = run(config)
    temperature_C = result.per_core["temperature_K"] - 273.15
    return {
        "config": dataclasses.asdict(config),
        "summary": dict(result.summary),
        "time_s": result.epochs["time_s"].to_numpy(),
        "peak_temp_C": temperature_C.max(axis=1),
        "mean_f_GHz": result.per_core["f_effective_GHz"].mean(axis=1),
        "mean_core_temp_C": temperature_C.mean(axis=0),
        "chip_power_W": result.epochs["chip_power_W"].to_numpy(),
    }


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep; ``finished`` holds the records of the runs that completed, in config order."""

    def __init__(self, finished: list[dict], total: int):
        super().__init__(f"{len(finished)} of {total} runs finished")
        self.finished, self.total = finished, total


def sweep(configs: Iterable[RunConfig], executor: Executor | None = None, *, max_workers: int | None = None,
          progress: bool = False, folders: Iterable[Path] | None = None, resume: bool = False,
          chunk_epochs: int = CHUNK_EPOCHS) -> list[dict]:
    """``run_record`` of every config, in order, on ``executor`` (default: a local process pool); with ``folders``
    (one per config, on a file system the workers share) each run streams into its folder.

    Ctrl-C raises ``SweepInterrupted`` with the runs that finished, so the caller can keep them."""
    configs = list(configs)
    if executor is None:
        with process_pool(max_workers) as pool:
            return sweep(configs, pool, progress=progress, folders=folders, resume=resume, chunk_epochs=chunk_epochs)
    folders = [None] * len(configs) if folders is None else list(folders)
    futures = {executor.submit(run_record, config, folder, resume, chunk_epochs): k
               for k, (config, folder) in enumerate(zip(configs, folders, strict=True))}
    records: dict[int, dict] = {}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(configs), desc="runs", unit="run")
    try:
        for future in as_completed(futures):
            records[futures[future]] = future.result()
            if bar is not None:
                bar.update(1)
    except KeyboardInterrupt:
        raise SweepInterrupted([records[k] for k in sorted(records)], len(configs)) from None
    finally:
        for future in futures:
            future.cancel()
        if bar is not None:
            bar.close()
    return [records[k] for k in range(len(configs))]


def per_joule(summary: dict) -> dict[str, float]:
    """Energy beside throughput: tokens per joule, and requests per second and per joule (the throughput of models
    that produce no tokens, such as ViT); each only where the summary has both values and a nonzero denominator."""
    ratios = {"tokens_per_j": ("tokens", "energy_j"), "requests_per_s": ("requests_finished", "makespan_s"),
              "requests_per_j": ("requests_finished", "energy_j")}
    return {name: float(summary[top]) / float(summary[bottom]) for name, (top, bottom) in ratios.items()
            if summary.get(top) is not None and summary.get(bottom)}


def comparison_table(records: list[dict]) -> pd.DataFrame:
    """One row per run: the config's varying fields, every summary metric and the per-joule ones (``per_joule``)."""
    rows = [{**r["config"], **r["summary"], **per_joule(r["summary"])} for r in records]
    frame = pd.DataFrame(rows)
    return frame.replace({np.inf: np.nan})
