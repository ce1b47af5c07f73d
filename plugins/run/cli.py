"""``ailfm simulate`` (one run -> a run folder: timeline.parquet, epochs.parquet, cores.parquet, summary.json,
timing.json; streamed, checkpointed, resumable: ``plugins/run/outputs.py``) and ``ailfm compare`` (governors side by
side: one such run folder per governor and seed under ``--out/runs``, then comparison.csv and the plots)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pandas as pd

from ailfm import options
from ailfm.errors import ConfigError
from ailfm.files import prepare_output_folder, run_lock, write_atomic
from ailfm.plugins.run.config import RunConfig, add_run_arguments
from ailfm.plugins.run.outputs import CHUNK_EPOCHS, TIMING_KEYS, split_summary
from ailfm.plugins.run.runner import SweepInterrupted, check_threads_fit, comparison_table, simulate_into, sweep
from ailfm.pools import dask_client

TABLE_COLUMNS = ("governor", "makespan_s", "tokens_per_s", "requests_per_s", "request_latency_mean_s", "peak_temp_c",
                 "time_above_tmax_s", "dtm_events", "energy_j", "tokens_per_j", "requests_per_j", "edp", "migrations",
                 "governor_us_per_decision", "sim_speed_x_realtime")


def add_subcommands(subparsers) -> None:
    simulate = subparsers.add_parser("simulate", help="co-simulate one governor on a system and workload")
    _scenario_arguments(simulate)
    simulate.add_argument("--governor", default="performance", help="governor name (default performance)")
    simulate.add_argument("--seed", type=options.SEED, default=0, help="picks the trace's request window (default 0)")
    simulate.set_defaults(func=_simulate)

    compare = subparsers.add_parser("compare", help="run several governors on the same scenario and compare them")
    _scenario_arguments(compare)
    compare.add_argument("--governors", default="performance,ondemand,tsp,pcgov,coldest-core,pcmig,ail",
                         help="comma-separated governor names or .onnx policy files (an unknown name is "
                              "answered with the list of known ones)")
    compare.add_argument("--seeds", default="0", help="comma-separated seeds; each governor runs every seed")
    compare.add_argument("--jobs", type=options.WORKERS, default=None,
                         help="local worker processes (default: all cores)")
    compare.add_argument("--dask", metavar="ADDRESS", default=None,
                         help="run on the Dask scheduler at ADDRESS instead of a local process pool")
    compare.set_defaults(func=_compare)


def _scenario_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)
    parser.add_argument("--out", required=True, help="output directory (refused if it holds an unfinished run, "
                                                      "unless --resume)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run(s) checkpointed in --out (the same options are required)")
    parser.add_argument("--checkpoint-every", type=options.POSITIVE, default=CHUNK_EPOCHS, metavar="EPOCHS",
                        help=f"epochs per streamed chunk and checkpoint (default {CHUNK_EPOCHS})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _config(args, governor: str, seed: int) -> RunConfig:
    return RunConfig.from_args(args, governor=governor, seed=seed)


def _simulate(args: argparse.Namespace) -> int:
    config = _config(args, args.governor, args.seed)
    check_threads_fit(config)
    out = prepare_output_folder(args.out)
    with run_lock(out):
        result = simulate_into(config, out, resume=args.resume, chunk_epochs=args.checkpoint_every,
                               progress=not args.quiet)
    width = max(map(len, result.summary))
    results, timing = split_summary(result.summary)
    for key, value in (*results.items(), *timing.items()):
        print(f"{key:<{width}}  {value:.6g}" if isinstance(value, float) else f"{key:<{width}}  {value}")
    print(f"wrote {out}: timeline.parquet, epochs.parquet, cores.parquet, summary.json, timing.json (wall clock)")
    return 0


def run_folders(out: Path, configs: list[RunConfig]) -> list[Path]:
    """``compare``'s run folder of each config: ``runs/NN-governor-seedS`` (NN: the position in the list, so two
    policies with the same file name do not share a folder)."""
    return [out / "runs" / f"{k:02d}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', Path(c.governor).stem)}-seed{c.seed}"
            for k, c in enumerate(configs)]


def _compare(args: argparse.Namespace) -> int:
    governors = [g.strip() for g in args.governors.split(",") if g.strip()]
    try:
        seeds = [options.SEED(s) for s in args.seeds.split(",") if s.strip()]
    except argparse.ArgumentTypeError as err:
        raise ConfigError("--seeds", f"{err} (comma-separated integers >= 0)") from None
    if not governors:
        raise ConfigError("governors", "name at least one governor")
    from ailfm.plugins.governors.registry import make_governor

    for name in governors:
        make_governor(name)  # fail fast on a typo, before any run starts
    configs = [_config(args, g, s) for g in governors for s in seeds]
    check_threads_fit(configs[0])
    out = prepare_output_folder(args.out)
    with run_lock(out):
        folders = run_folders(out, configs)
        unfinished = [f for f in folders if (f / "checkpoint.npz").exists()]
        if unfinished and not args.resume:
            raise ConfigError("--out", f"{out} holds unfinished runs ({unfinished[0].relative_to(out)}/checkpoint.npz"
                                       "): add --resume to continue them with the same options, or use another --out")
        streaming = dict(progress=not args.quiet, folders=folders, resume=args.resume,
                         chunk_epochs=args.checkpoint_every)
        try:
            if args.dask:
                with dask_client(args.dask) as client:
                    records = sweep(configs, client.get_executor(), **streaming)
            else:
                records = sweep(configs, max_workers=args.jobs, **streaming)
        except SweepInterrupted as stop:
            if stop.finished:
                write_comparison(out, comparison_table(stop.finished))
            kept = f"; kept in {out / 'comparison.csv'}" if stop.finished else ""
            raise KeyboardInterrupt(f"{stop}{kept}; the unfinished runs keep their checkpoints: add --resume to "
                                    "continue") from None
        table = comparison_table(records)
        write_comparison(out, table)
    from ailfm.plugins.run.plots import plot_comparison

    figures = plot_comparison(records, table, out)
    print(format_table(table))
    print(f"wrote {out / 'comparison.csv'}, timing.csv (wall clock) and {', '.join(str(f.name) for f in figures)}")
    return 0


def write_comparison(out, table: pd.DataFrame) -> None:
    """``comparison.csv`` holds the simulated results only, so the same options and seeds give the same bytes;
    the wall-clock columns go to ``timing.csv`` (same rows, keyed by governor and seed)."""
    timing = [c for c in table.columns if c in TIMING_KEYS]
    keys = [c for c in ("governor", "seed") if c in table.columns]
    write_atomic(out / "comparison.csv", table.drop(columns=timing).to_csv(index=False).encode())
    write_atomic(out / "timing.csv", table[keys + timing].to_csv(index=False).encode())


def format_table(table: pd.DataFrame) -> str:
    """The printed comparison (mean over seeds per governor)."""
    numeric = [c for c in TABLE_COLUMNS if c in table and c != "governor"]
    return table.groupby("governor", sort=False)[numeric].mean().to_string(float_format=lambda v: f"{v:.4g}")
