"""``ailfm trace generate`` and ``ailfm trace show``: make a kernel trace of a serving scenario, and summarise one."""

from __future__ import annotations

import argparse

import pandas as pd

from ailfm import options
from ailfm.traces.configs import load_model_config, shipped_models
from ailfm.traces.generate import generate_trace
from ailfm.traces.io import read_trace, write_trace
from ailfm.traces.scenario import Scenario


def add_subcommands(subparsers) -> None:
    """Register ``trace generate`` and ``trace show``."""
    trace = subparsers.add_parser("trace", help="LLM inference kernel traces: generate, show")
    actions = trace.add_subparsers(dest="trace_command", required=True, metavar="ACTION")

    gen = actions.add_parser("generate", help="write the kernel trace of a serving scenario (Parquet or CSV)")
    gen.add_argument("--model", required=True,
                     help=f"shipped model ({', '.join(shipped_models())}) or path to a Hugging Face config.json")
    gen.add_argument("--instances", type=options.POSITIVE, default=3, help="inference instances W (default 3)")
    gen.add_argument("--threads", type=options.POSITIVE, default=16, help="threads per instance T (default 16)")
    gen.add_argument("--requests", type=options.POSITIVE, default=6,
                     help="first N requests of the length source (default 6)")
    gen.add_argument("--lengths", default="azure-conv",
                     help="azure-code | azure-conv | fixed:P,O | PATH to a CSV with the Azure trace's columns "
                          "(Azure LLM inference trace 2023, Patel et al., Splitwise, ISCA 2024; CC-BY 4.0)")
    gen.add_argument("--time-window", type=options.number(above=0), default=None, metavar="SECONDS",
                     help="keep only requests arriving within this many seconds")
    gen.add_argument("--arrival-speedup", type=options.number(above=0), default=1.0,
                     help="divide trace inter-arrival times by this")
    gen.add_argument("--seed", type=options.SEED, default=0, help="picks the window of the length trace (default 0)")
    gen.add_argument("--out", required=True, help="output file, .parquet or .csv")
    gen.set_defaults(func=_generate)

    show = actions.add_parser("show", help="summarise a trace file per instance, phase and kernel type")
    show.add_argument("file", help="a .parquet or .csv trace")
    show.set_defaults(func=_show)


def _generate(args: argparse.Namespace) -> int:
    scenario = Scenario(instances=args.instances, threads_per_instance=args.threads, requests=args.requests,
                        lengths=args.lengths, time_window_s=args.time_window, arrival_speedup=args.arrival_speedup)
    trace = generate_trace(load_model_config(args.model), scenario, seed=args.seed)
    path = write_trace(args.out, trace)
    print(f"wrote {path}: {len(trace)} kernels, {trace['request'].nunique()} requests, "
          f"{int(trace['tokens'].sum())} output tokens")
    return 0


def summarise(trace: pd.DataFrame) -> pd.DataFrame:
    """Per phase and kernel type: kernel count, GFLOP, GB touched, and per-thread Ginstructions and DRAM misses."""
    table = trace.groupby(["phase", "kernel"], observed=True).agg(
        kernels=("op", "size"), gflop=("flops", "sum"), gbytes=("bytes", "sum"),
        ginstr_per_thread=("instructions_per_thread", "sum"), mdram_misses_per_thread=("dram_misses_per_thread", "sum"))
    table[["gflop", "gbytes", "ginstr_per_thread"]] /= 1e9
    table["mdram_misses_per_thread"] /= 1e6
    table["flop_per_byte"] = table["gflop"] / table["gbytes"]
    return table


def _show(args: argparse.Namespace) -> int:
    trace = read_trace(args.file)
    requests = trace.groupby("request").agg(instance=("instance", "first"), arrival_s=("arrival_s", "first"),
                                            tokens=("tokens", "sum"))
    print(f"{args.file}: {len(trace)} kernels, {trace['instance'].nunique()} instances x "
          f"{int(trace['threads'].max())} threads, {len(requests)} requests, {int(requests['tokens'].sum())} "
          f"output tokens, arrivals {requests['arrival_s'].min():.3f}-{requests['arrival_s'].max():.3f} s")
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.float_format", "{:.4g}".format):
        print(summarise(trace).to_string())
    return 0
