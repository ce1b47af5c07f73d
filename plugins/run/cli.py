"""``ailfm simulate`` (one run -> summary.json + timeline.parquet) and ``ailfm compare`` (governors side by side)."""

from __future__ import annotations

import argparse
import dataclasses

import pandas as pd

from ailfm import options
from ailfm.errors import ConfigError
from ailfm.files import prepare_output_folder, run_lock, write_atomic, write_json_atomic
from ailfm.plugins.run.config import RunConfig, add_run_arguments
from ailfm.plugins.run.runner import SweepInterrupted, comparison_table, run, sweep

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
                         help="comma-separated governor names")
    compare.add_argument("--seeds", default="0", help="comma-separated seeds; each governor runs every seed")
    compare.add_argument("--jobs", type=options.WORKERS, default=None,
                         help="local worker processes (default: all cores)")
    compare.add_argument("--dask", metavar="ADDRESS", default=None,
                         help="run on the Dask scheduler at ADDRESS instead of a local process pool")
    compare.set_defaults(func=_compare)


def _scenario_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _config(args, governor: str, seed: int) -> RunConfig:
    return RunConfig.from_args(args, governor=governor, seed=seed)


def _simulate(args: argparse.Namespace) -> int:
    config = _config(args, args.governor, args.seed)
    out = prepare_output_folder(args.out)
    with run_lock(out):
        result = run(config, progress=not args.quiet)
        summary = {**result.summary, "config": dataclasses.asdict(config)}
        write_json_atomic(out / "summary.json", summary, indent=2)
        result.timeline().to_parquet(out / "timeline.parquet", index=False)
    width = max(map(len, result.summary))
    for key, value in result.summary.items():
        print(f"{key:<{width}}  {value:.6g}" if isinstance(value, float) else f"{key:<{width}}  {value}")
    print(f"wrote {out / 'summary.json'} and {out / 'timeline.parquet'}")
    return 0


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
    out = prepare_output_folder(args.out)
    with run_lock(out):
        try:
            if args.dask:
                from distributed import Client

                with Client(args.dask) as client:
                    records = sweep(configs, client.get_executor(), progress=not args.quiet)
            else:
                records = sweep(configs, max_workers=args.jobs, progress=not args.quiet)
        except SweepInterrupted as stop:
            if stop.finished:
                write_atomic(out / "comparison.csv", comparison_table(stop.finished).to_csv(index=False).encode())
            kept = f"; kept in {out / 'comparison.csv'}" if stop.finished else ""
            raise KeyboardInterrupt(f"{stop}{kept}") from None
        table = comparison_table(records)
        write_atomic(out / "comparison.csv", table.to_csv(index=False).encode())
    from ailfm.plugins.run.plots import plot_comparison

    figures = plot_comparison(records, table, out)
    print(format_table(table))
    print(f"wrote {out / 'comparison.csv'} and {', '.join(str(f.name) for f in figures)}")
    return 0


def format_table(table: pd.DataFrame) -> str:
    """The printed comparison (mean over seeds per governor)."""
    numeric = [c for c in TABLE_COLUMNS if c in table and c != "governor"]
    return table.groupby("governor", sort=False)[numeric].mean().to_string(float_format=lambda v: f"{v:.4g}")
