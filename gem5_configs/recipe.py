"""What ``run_ailfm.py`` does that needs no gem5: its options, the run description, and the outputs (plain Python).

The options are ``ailfm simulate``'s (the same ``RunConfig`` and ``add_run_arguments``, same workload loading, same
governors by name) with ``--epochs`` instead of ``--duration`` and the gem5-only choices (``--dvfs``,
``--warm-us``, ``--window-us``, ``--lead-in-us``, ``--traffic-jitter``). The outputs are ``ailfm simulate``'s
``summary.json`` and ``timeline.parquet`` (so results compare directly), plus ``gem5_epochs.parquet``: what gem5
measured per epoch and tile.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from ailfm import options
from ailfm.errors import ConfigError, unknown_name
from ailfm.files import prepare_output_folder, staged_files, write_json_atomic
from ailfm.gem5_configs.calibration import check_jitter
from ailfm.gem5_configs.clock_domains import DVFS_MODES
from ailfm.gem5_configs.epoch import TICKS_PER_S, EpochCounters, add_lead_in_argument
from ailfm.gem5_configs.system_params import cache_params_of, memory_params_of, mesh_of
from ailfm.plugins.engine.workload import Workload
from ailfm.plugins.epoch.cosim import SimulationResult
from ailfm.plugins.governors.base import Governor
from ailfm.plugins.governors.onnx_governor import OnnxGovernor
from ailfm.plugins.governors.registry import available_governors, make_governor
from ailfm.plugins.run.config import RunConfig, add_run_arguments
from ailfm.plugins.run.runner import TRACE_SUFFIXES, load_workload
from ailfm.plugins.system.description import SystemDescription, load_system


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gem5.opt gem5_configs/run_ailfm.py",
        description="AILFM co-simulation with gem5's memory system (NULL ISA, Ruby MESI_Two_Level, Garnet 3D mesh)")
    add_run_arguments(parser, duration=False)
    parser.add_argument("--governor", default="performance", help="governor name (default performance)")
    parser.add_argument("--governor-param", action="append", default=[], metavar="KEY=VALUE",
                        help="keyword argument of the governor (repeatable; values read as YAML scalars)")
    parser.add_argument("--epochs", type=options.POSITIVE, required=True, help="control epochs to simulate")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--seed", type=options.SEED, default=0, help="picks the trace's request window (default 0)")
    parser.add_argument("--dvfs", choices=DVFS_MODES, default="rate",
                        help="rate: each tile's frequency (the governor's, after DTM) scales its request rate, its "
                             "gem5 clock domain stays at f_max (default); domains: also sets the tile's gem5 clock and "
                             "voltage domain to that frequency through the DVFSHandler, with the system's transition "
                             "latency (needs gem5 built with gem5_configs/hooks/dvfs-python-setter.patch)")
    parser.add_argument("--warm-us", type=options.number(0), default=100.0,
                        help="before the first epoch, every thread reads its LLC-resident data once in this long, "
                             "outside any epoch (a warm LLC, as the built-in engine assumes; 0: start cold; "
                             "default 100)")
    parser.add_argument("--window-us", type=options.number(above=0), default=None,
                        help="gem5 time simulated per control epoch, spread over the epoch's thermal sub-steps at "
                             "each one's request rates (time sampling; default: the whole epoch, since 50 and 200 us "
                             "windows underestimate a saturated memory system's latency; --lead-in-us 100 brings the "
                             "chip-wide figures within 6 %%: docs/gem5.md)")
    add_lead_in_argument(parser)
    parser.add_argument("--record-traffic", default=None, metavar="FILE",
                        help="also write every engine step's traffic per thread and the interval model's state at "
                             "each epoch's start to FILE (Parquet), for open-loop replays (replay_traffic.py)")
    parser.add_argument("--traffic-jitter", type=float, default=0.0,
                        help="draw each request gap uniformly from period x (1 -+ JITTER), same mean, so the tiles' "
                             "generators do not issue in lock step (0 <= JITTER < 1; default 0: fixed periods)")
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    check_jitter(args.traffic_jitter, "traffic-jitter")
    if args.lead_in_us and not args.window_us:
        raise ConfigError("lead-in-us", "warms a sampled window: it needs --window-us (a whole epoch runs on from the "
                                        "previous one)")
    args.governor_params = governor_params(args.governor_param)
    return args


def check_governor_params(name: str, params: dict) -> None:
    """Every ``--governor-param`` key names a parameter of the governor (a misspelt one is a ConfigError naming the
    nearest, not a TypeError traceback); an unknown governor is left to ``make_governor`` to name."""
    cls = OnnxGovernor if name.endswith(".onnx") else available_governors().get(name)
    if cls is None:
        return
    accepted = inspect.signature(cls).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()):
        return
    names = [n for n, p in accepted.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    for key in params:
        if key not in names:
            raise ConfigError("governor-param", f"governor {name!r}: " + (unknown_name(key, names, "parameter")
                                                                          if names else f"takes none, got {key!r}"))


def governor_params(pairs: list[str]) -> dict:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError("governor-param", f"expected KEY=VALUE, got {pair!r}")
        params[key] = yaml.safe_load(value)
        if isinstance(params[key], float) and not math.isfinite(params[key]):
            raise ConfigError("governor-param", f"{key}: must be a finite number, got {value!r}")
    return params


@dataclass(frozen=True)
class PreparedRun:
    """Everything ``run_ailfm.py`` reads and checks before gem5 builds anything."""

    args: argparse.Namespace
    system: SystemDescription
    config: RunConfig
    workload: Workload
    governor: Governor


def prepare_run(argv: list[str]) -> PreparedRun:
    """Options, system, run description, workload and governor, each checked, so that a bad value is one line before
    gem5 starts (not after it has built and instantiated the board)."""
    args = parse_args(argv)
    prepare_output_folder(args.out)  # writable, before the run and not after it
    if args.record_traffic:
        prepare_output_folder(Path(args.record_traffic).parent, "--record-traffic")
    system = load_system(args.system)
    config = run_config(args, system.thermal.epoch_s)
    workload = load_workload(config)
    check_fits(config, workload.n_threads, system.n_cores)
    cache_params_of(system), memory_params_of(system), mesh_of(system)  # the components gem5 will build
    check_governor_params(config.governor, args.governor_params)
    return PreparedRun(args, system, config, workload, make_governor(config.governor, **args.governor_params))


def run_config(args: argparse.Namespace, epoch_s: float) -> RunConfig:
    """The run as ``ailfm simulate`` would describe it (``duration_s`` = epochs x the system's epoch)."""
    return RunConfig.from_args(args, governor=args.governor, duration_s=args.epochs * epoch_s, seed=args.seed)


def workload_model(config: RunConfig):
    """The model config behind a run's workload (for its kernels' read/write mix).

    A model name or ``config.json`` names it directly; a trace file names it in its ``model`` attribute, which must
    then be a shipped model.
    """
    from ailfm.traces import load_model_config, read_trace

    if Path(config.workload).suffix in TRACE_SUFFIXES:
        trace_model = read_trace(config.workload).attrs.get("model")
        if not trace_model:
            raise ConfigError("workload", f"trace {config.workload} does not name its model; the read/write mix of "
                              "its kernels comes from the model's decomposition")
        return load_model_config(trace_model)
    return load_model_config(config.workload)


def check_fits(config: RunConfig, n_threads: int, n_cores: int) -> None:
    """One thread per tile: a scenario with more threads than tiles is refused before gem5 builds anything."""
    if n_threads > n_cores:
        raise ConfigError("threads", f"{n_threads} threads ({config.instances} instances x {config.threads}) do not "
                          f"fit on the {n_cores} tiles of {config.system}; lower --instances or --threads")


def counters_frame(counters: list[EpochCounters], step_s: float, simulated_s: float | None = None) -> pd.DataFrame:
    """Per (engine step, tile): requests and mean latency of the resident (LLC) and streamed (DRAM) generators.

    gem5 runs once per engine step (``step_s``: the loop's thermal sub-step). Request and flit counts are what gem5
    simulated: ``simulated_s`` of each step (default: the whole step).
    """
    n_tiles = len(counters[0].hit_requests) if counters else 0
    to_ns = 1e9 / TICKS_PER_S
    rows = []
    for epoch, c in enumerate(counters):
        with np.errstate(divide="ignore", invalid="ignore"):
            rows.append(pd.DataFrame({
                "epoch": epoch, "time_s": (epoch + 1) * step_s, "simulated_s": simulated_s or step_s,
                "tile": np.arange(n_tiles),
                "llc_requests": c.hit_requests, "llc_latency_ns": c.hit_latency_ticks / c.hit_requests * to_ns,
                "dram_requests": c.miss_requests, "dram_latency_ns": c.miss_latency_ticks / c.miss_requests * to_ns,
                "router_flits": c.router_flits,
                "chip_llc_misses": c.bank_misses.sum(), "chip_llc_accesses": c.bank_accesses.sum(),
                "network_latency_ns": c.network_latency_ticks * to_ns}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def recording_info(args: argparse.Namespace, config: RunConfig, system: SystemDescription,
                   window_s: float | None) -> dict:
    """What a replay of ``--record-traffic`` rebuilds the board and the interval model from: the run (its system
    and workload files as absolute paths), the warm-up, the DVFS mode and the jitter, the epoch, window and lead-in."""
    run = dataclasses.asdict(config)
    for key in ("system", "workload"):
        if Path(run[key]).is_file():
            run[key] = str(Path(run[key]).resolve())
    return {"config": run, "warm_us": args.warm_us, "dvfs": args.dvfs,
            "traffic_jitter": args.traffic_jitter, "epoch_s": system.thermal.epoch_s,
            "substeps": system.thermal.substeps, "window_s": window_s or system.thermal.epoch_s,
            "lead_in_s": args.lead_in_us * 1e-6}


def write_outputs(out: str | Path, result: SimulationResult, config: RunConfig, counters: list[EpochCounters],
                  extra: dict, window_s: float | None = None) -> list[Path]:
    """``summary.json`` and ``timeline.parquet`` as ``ailfm simulate`` writes them, and ``gem5_epochs.parquet``
    (``window_s``: gem5 time per control epoch)."""
    out = Path(out)
    summary = {**result.summary, "config": dataclasses.asdict(config), **extra}
    names = ["summary.json", "timeline.parquet", "gem5_epochs.parquet"]
    with staged_files(out) as stage:  # each file appears whole, under its name, or not at all
        write_json_atomic(stage / names[0], summary, indent=2)
        result.timeline().to_parquet(stage / names[1], index=False)
        step_s = result.epoch_s / result.substeps
        simulated_s = step_s * min(window_s / result.epoch_s, 1.0) if window_s else None
        counters_frame(counters, step_s, simulated_s).to_parquet(stage / names[2], index=False)
    return [out / name for name in names]
