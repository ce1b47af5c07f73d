"""``ailfm map``: search, evaluate and explore mappings of LLM serving onto multi-chiplet accelerators."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ailfm import options
from ailfm.errors import AilfmError, ConfigError, unknown_name
from ailfm.files import file_digest, load_document, prepare_output_folder, run_lock, write_atomic, write_json_atomic
from ailfm.mapping.cost import GemmCostModel, gemm_cost
from ailfm.mapping.encoding import Mapping, Pins, read_mapping, read_pins
from ailfm.mapping.evaluator import Evaluator
from ailfm.mapping.hardware import DATAFLOWS, HARDWARE_PRESETS, Hardware, load_hardware
from ailfm.mapping.models import load_model
from ailfm.mapping.thermal import KELVIN, ThermalEvaluator, thermal_evaluator
from ailfm.mapping.workload import PACKAGED_LENGTHS, STRATEGIES, load_lengths, make_workload, scenario_notes
from ailfm.pools import dask_client, process_pool
from ailfm.traces.configs import shipped_models

#: the scenario options of ``map search``/``evaluate``/``explore`` and their defaults; ``search`` records them in
#: ``best_mapping.json`` and ``evaluate`` reads them back from its ``--mapping`` file
SCENARIO_DEFAULTS = {"model": None, "hardware": "he-36", "serving": "orca", "lengths": "azure-conv", "slots": 32,
                     "micro_batches": 8, "steps": 3, "tensor_parallel": 8, "blocks": 1, "workload_seed": 0}
#: the integer ones: their check and help
INTEGER_SCENARIO_OPTIONS = {"slots": (options.POSITIVE, "requests per iteration (continuous-batching slots)"),
                            "micro_batches": (options.POSITIVE, "micro-batches"),
                            "steps": (options.POSITIVE, "iterations per strategy (chunks / decode steps)"),
                            "tensor_parallel": (options.POSITIVE, "GEMM tiles per layer"),
                            "blocks": (options.POSITIVE, "transformer blocks mapped"),
                            "workload_seed": (options.SEED, "seed of the serving emulation")}


def add_scenario_arguments(parser: argparse.ArgumentParser, *, from_mapping_file: bool = False) -> None:
    """The scenario options; ``from_mapping_file``: each defaults to what the ``--mapping`` file records
    (``scenario_from_mapping_file``), else to ``SCENARIO_DEFAULTS``."""
    d = dict.fromkeys(SCENARIO_DEFAULTS) if from_mapping_file else SCENARIO_DEFAULTS
    recorded = "; default: the --mapping file's, else " if from_mapping_file else "; default "

    def default(name: str) -> str:
        return f"{recorded}{SCENARIO_DEFAULTS[name]}"

    parser.add_argument("--model", required=not from_mapping_file,
                        help=f"shipped model ({', '.join(shipped_models())}) or HF config.json"
                             + ("; default: the --mapping file's" if from_mapping_file else ""))
    parser.add_argument("--hardware", default=d["hardware"],
                        help=f"preset ({', '.join(HARDWARE_PRESETS)}) or YAML path{default('hardware')}")
    parser.add_argument("--serving", default=d["serving"], choices=sorted(STRATEGIES),
                        help=f"serving strategy{default('serving')}")
    parser.add_argument("--lengths", default=d["lengths"],
                        help=f"packaged length sample ({', '.join(PACKAGED_LENGTHS)}) or a CSV path"
                             f"{default('lengths')}")
    for name, (kind, text) in INTEGER_SCENARIO_OPTIONS.items():
        parser.add_argument("--" + name.replace("_", "-"), type=kind, default=d[name], help=text + default(name))
    parser.add_argument("--beyond-context", action="store_true",
                        help="serve requests longer than the model's max_position_embeddings (refused otherwise); "
                             "the Compass paper's GPT-3 runs on the Azure traces need it")
    parser.add_argument("--cost", choices=("analytic", "zigzag"), default="analytic",
                        help="per-chiplet GEMM cost: the analytic loop nest or ZigZag (pip install 'ailfm[zigzag]')")
    parser.add_argument("--zigzag-cache", default="~/.cache/ailfm/zigzag",
                        help="folder of cached ZigZag results (per GEMM shape and chiplet description)")
    parser.add_argument("--zigzag-workers", type=options.WORKERS, default=os.cpu_count() or 1,
                        help="processes warming the ZigZag cache")


def gemm_costs_from_args(args: argparse.Namespace, hardware: Hardware) -> GemmCostModel:
    """The analytic loop nest, or ZigZag with its cache (DRAM seen by one chiplet: its NoP link bandwidth)."""
    if args.cost == "analytic":
        return gemm_cost
    from ailfm.mapping.zigzag_backend import ZigZagCache, ZigZagCostModel, zigzag_version

    zigzag_version()  # fails early with the install hint
    cache = ZigZagCache(Path(args.zigzag_cache).expanduser(), workers=args.zigzag_workers,
                        progress=not getattr(args, "no_progress", False))
    frequency = min(t.frequency_GHz for t in hardware.types)
    return ZigZagCostModel(cache, hardware.nop_link_GBps / frequency, 8 * hardware.dram_pJ_per_bit)


def print_notes(notes: tuple[str, ...]) -> None:
    """Modelling choices the scenario forced (uneven tensor split, MoE router...), one line each on stderr."""
    for note in notes:
        print(f"ailfm map: note: {note}", file=sys.stderr)


def evaluator_from_args(args: argparse.Namespace) -> Evaluator:
    workload = make_workload(load_model(args.model), args.serving, load_lengths(args.lengths), n_slots=args.slots,
                             n_micro_batches=args.micro_batches, n_steps=args.steps,
                             tensor_parallel=args.tensor_parallel, n_blocks=args.blocks, seed=args.workload_seed,
                             beyond_context=args.beyond_context)
    print_notes(workload.notes)
    hardware = load_hardware(args.hardware)
    gemm_costs = gemm_costs_from_args(args, hardware)
    t0 = time.perf_counter()
    evaluator = Evaluator(workload, hardware, cost_model=gemm_costs)
    if args.cost == "zigzag":
        print(f"ZigZag costs: {gemm_costs.cache.runs} new runs, cache warm in {time.perf_counter() - t0:.1f} s "
              f"({args.zigzag_cache})", flush=True)
    return evaluator


@contextlib.contextmanager
def open_executor(workers: int, dask_address: str | None):
    """Process pool by default, a Dask cluster's executor with ``--dask``, none for one worker."""
    if dask_address:
        with dask_client(dask_address) as client:
            yield client.get_executor(), max(1, sum(client.nthreads().values()))
        return
    if workers <= 1:
        yield None, 1
        return
    with process_pool(workers) as pool:
        yield pool, workers


def add_thermal_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--thermal", action="store_true",
                        help="score on the package thermal model with DTM throttling (latency, energy and EDP after "
                             "throttling; peak and mean chiplet temperature, time above T_max)")
    parser.add_argument("--t-max-C", type=options.number(0, 200, why="silicon is not rated above ~150 C"),
                        default=None, help="DTM trigger temperature (default: the hardware's package section, else "
                                           "80 C)")


def thermal_from_args(args: argparse.Namespace, evaluator: Evaluator) -> Evaluator | ThermalEvaluator:
    """The thermal evaluator when any thermal option asks for it, else the thermal-blind one."""
    wanted = args.thermal or getattr(args, "objective", "edp") == "edp-peak" or \
        getattr(args, "max_peak_C", None) is not None
    return thermal_evaluator(evaluator, args.t_max_C) if wanted else evaluator


def _thermal_summary(thermal: ThermalEvaluator, mapping: Mapping) -> dict:
    d = thermal.details(mapping)
    ev = d.evaluation
    return {"throttled_latency_s": float(ev.latency_s[0]), "throttled_energy_J": float(ev.energy_J[0]),
            "throttled_edp_Js": float(ev.edp[0]), "idle_and_leakage_energy_J": float(ev.static_energy_J[0]),
            "peak_C": float(ev.peak_K[0] - KELVIN), "mean_C": float(ev.mean_K[0] - KELVIN),
            "time_above_t_max_s": float(ev.above_s[0]), "throttled_chiplet_s": float(ev.throttled_s[0]),
            "t_max_C": thermal.dtm.t_max_K - KELVIN,
            "peak_by_chiplet_C": (np.maximum(d.temperature_K.max(axis=0, initial=-np.inf), d.initial_K)
                                  - KELVIN).round(3).tolist()}


def _write_thermal_outputs(thermal: ThermalEvaluator, mapping: Mapping, out: Path, plots: Path) -> None:
    """The best mapping's temperature trace (CSV, one row per DTM period) and its heat map and timeline."""
    from ailfm.mapping import report

    d = thermal.details(mapping)
    n_ch = thermal.hardware.n_chiplets
    table = pd.DataFrame({"time_s": d.time_s,
                          **{f"chiplet{c}_C": d.temperature_K[:, c] - KELVIN for c in range(n_ch)},
                          **{f"chiplet{c}_throttled": d.throttled[:, c].astype(int) for c in range(n_ch)}})
    write_atomic(out / "thermal_trace.csv", table.to_csv(index=False, float_format="%.6g").encode())
    hw = thermal.hardware
    report.plot_package_heatmap(d, hw.mesh_cols, hw.mesh_rows, thermal.dtm.t_max_K, plots / "heatmap.png")
    report.plot_temperature_timeline(d, thermal.dtm.t_max_K, plots / "temperature.png")


def _summary(evaluator: Evaluator, mapping: Mapping) -> dict:
    d = evaluator.details(mapping)
    ev = d.evaluation
    return {"latency_s": float(ev.latency_s[0]), "energy_J": float(ev.energy_J[0]), "edp_Js": float(ev.edp[0]),
            "iteration_latency_s": ev.iteration_latency_s[0].tolist(), "energy_by_part_J": d.energy_by_part_J,
            "energy_by_chiplet_J": d.energy_by_chiplet_J.round(9).tolist(),
            "busy_by_chiplet_s": d.busy_by_chiplet_s.round(12).tolist(),
            "energy_by_layer_J": dict(zip(evaluator.layer_names, d.energy_by_layer_J.round(9).tolist(), strict=True)),
            "job_time_by_bound_s": d.time_by_bound_s}


def run_map_search(args: argparse.Namespace) -> int:
    out = prepare_output_folder(args.out)
    with run_lock(out):
        return _map_search(args, out)


def search_config(args: argparse.Namespace) -> dict:
    """Every option that changes a search's result; input files enter by their content, so an edited file with the
    same name does not pass for the one the checkpoint was made with."""
    names = ("model", "hardware", "serving", "lengths", "slots", "micro_batches", "steps", "tensor_parallel",
             "blocks", "workload_seed", "cost", "pin", "seed_baselines")
    config = {name: getattr(args, name) for name in names}
    if args.thermal or args.objective == "edp-peak" or args.max_peak_C is not None:
        config.update(thermal=True, t_max_C=args.t_max_C, max_peak_C=args.max_peak_C)
    for name in ("model", "hardware", "lengths", "pin"):
        if config[name] is not None and Path(config[name]).is_file():
            config[f"{name}_sha256"] = file_digest(config[name])
    return config


def _map_search(args: argparse.Namespace, out: Path) -> int:
    from ailfm.mapping import report
    from ailfm.mapping.search.annealing import random_search, simulated_annealing
    from ailfm.mapping.search.baselines import baseline_mappings, diagnostic_mappings
    from ailfm.mapping.search.ga import SearchSettings, run_search

    checkpoint = out / "checkpoint.npz"
    if checkpoint.exists() and not args.resume:
        raise ConfigError("--out", f"{out} holds a search (checkpoint.npz): add --resume to continue it with the "
                                   "same options, or use a new --out")
    blind = evaluator_from_args(args)
    evaluator = thermal_from_args(args, blind)
    enc = evaluator.encoding
    pins = read_pins(args.pin, enc) if args.pin else Pins.none(enc)
    fixed = baseline_mappings(blind)
    seeds = pins.apply(np.stack([enc.encode(m) for m in fixed.values()])) if args.seed_baselines else None
    settings = SearchSettings(pop_size=args.pop, n_gen=args.gen, seed=args.seed, objective=args.objective,
                              max_evaluations=args.max_evals, patience=args.patience,
                              checkpoint_every=args.checkpoint_every, local_share=args.local_share,
                              max_peak_K=None if args.max_peak_C is None else args.max_peak_C + KELVIN)
    try:
        with open_executor(args.workers, args.dask) as (executor, n_workers):
            result = run_search(evaluator, settings, pins=pins, seeds=seeds, executor=executor, n_chunks=n_workers,
                                checkpoint=checkpoint, log_path=out / "search.csv",
                                progress=not args.no_progress, config=search_config(args))
    except KeyboardInterrupt:
        kept = f"the last checkpoint is kept in {checkpoint}: add --resume to continue" if checkpoint.exists() else \
            "no generation was checkpointed yet"
        raise KeyboardInterrupt(kept) from None
    best = enc.decode(result.best_genome)
    meta = {"model": args.model, "hardware": args.hardware, "serving": args.serving, "lengths": args.lengths,
            "tensor_parallel": blind.workload.tensor_parallel, "blocks": args.blocks, "slots": args.slots,
            "steps": args.steps, "workload_seed": args.workload_seed, "search_seed": args.seed,
            "notes": list(blind.workload.notes)}
    write_atomic(out / "best_mapping.json", best.to_json(**meta, layer_names=list(blind.layer_names)).encode())
    thermal = evaluator if evaluator is not blind else None

    def row(method: str, kind: str, genome: np.ndarray, evaluations: int) -> dict:
        ev = evaluator.evaluate(genome[None, :])
        scores = {"method": method, "kind": kind, "latency_s": ev.latency_s[0], "energy_J": ev.energy_J[0],
                  "edp_Js": ev.edp[0], "evaluations": evaluations}
        if thermal is not None:  # the same mapping thermal-blind, and its temperatures
            scores.update(blind_edp_Js=ev.blind.edp[0], peak_C=ev.peak_K[0] - KELVIN,
                          above_t_max_ms=1e3 * ev.above_s[0])
        return scores

    rows = []
    for kind, mappings in (("fixed", fixed), ("diagnostic", diagnostic_mappings(blind))):
        for name, mapping in mappings.items():
            rows.append(row(name, kind, enc.encode(mapping), 1))
    budget = result.evaluations
    for name, run in (("random_search", random_search), ("simulated_annealing", simulated_annealing)):
        found = run(evaluator, budget, seed=args.seed, pins=pins, seeds=seeds)
        rows.append(row(name, "search", found.best_genome, found.evaluations))
    rows.append(row("ga" if args.objective == "edp" else "nsga2", "search", result.best_genome, result.evaluations))
    table = pd.DataFrame(rows)
    best_fixed = table.loc[table.kind == "fixed", "edp_Js"].min()
    table["edp_vs_best_fixed"] = table.edp_Js / best_fixed - 1
    write_atomic(out / "baselines.csv", table.to_csv(index=False).encode())
    summary = {**meta, "stopped": result.stopped, "generations": result.generations,
               "evaluations": result.evaluations, **_summary(blind, best)}
    plots = out / "report"
    plots.mkdir(exist_ok=True)
    if thermal is not None:
        summary["thermal"] = _thermal_summary(thermal, best)
        _write_thermal_outputs(thermal, best, out, plots)
    write_json_atomic(out / "summary.json", summary)
    refs = {r["method"]: r["edp_Js"] for r in rows if r["method"] in ("gemini_lp", "random_search",
                                                                      "simulated_annealing")}
    report.plot_convergence(result.log, plots / "convergence.png", refs)
    report.plot_gantt(blind.details(best), blind.stage_of_layer, enc.n_chiplets, plots / "gantt.png")
    if args.objective == "edp-peak":
        points = {r["method"]: np.array([[r["edp_Js"], r["peak_C"] + KELVIN]]) for r in rows}
        points = {"NSGA-II front": result.pareto_F, **points}
        report.plot_pareto({k: v - [0.0, KELVIN] for k, v in points.items()}, plots / "pareto.png",
                           ("EDP after throttling (J s)", "peak chiplet temperature (C)", 1.0))
    else:
        points = {r["method"]: np.array([[r["latency_s"], r["energy_J"]]]) for r in rows}
        if len(result.pareto_F):
            points = {"NSGA-II front": result.pareto_F, **points}
        report.plot_pareto(points, plots / "pareto.png")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    extra = ", thermal_trace.csv" if thermal is not None else ""
    print(f"wrote {out}/best_mapping.json, search.csv, baselines.csv, summary.json{extra}, report/*.png")
    return 0


def scenario_from_mapping_file(args: argparse.Namespace) -> None:
    """Fill the scenario options ``map evaluate`` was not given from what its ``--mapping`` file records (``map
    search`` writes them), else from ``SCENARIO_DEFAULTS``, in place. An option given on the command line wins, with a
    note on stderr when the file records another value: a mapping searched for one scenario is rarely meant for
    another."""
    try:
        doc, lines = load_document(args.mapping)
    except AilfmError:
        if args.model is None:
            raise
        doc, lines = {}, None  # the model's own errors come first; read_mapping names the file's afterwards
    doc = doc if isinstance(doc, dict) else {}  # read_mapping names the problem
    for name, fallback in SCENARIO_DEFAULTS.items():
        recorded, given = doc.get(name), getattr(args, name)
        if recorded is not None:
            if name in INTEGER_SCENARIO_OPTIONS:
                try:
                    recorded = INTEGER_SCENARIO_OPTIONS[name][0](str(recorded))
                except argparse.ArgumentTypeError as err:
                    raise lines.error(name, str(err)) from None
            elif not isinstance(recorded, str):
                raise lines.error(name, f"expected a string, got {recorded!r}")
            if name == "serving" and recorded not in STRATEGIES:
                raise lines.error(name, unknown_name(recorded, sorted(STRATEGIES), "serving strategy"))
        if given is None:
            given = recorded if recorded is not None else fallback
        elif recorded is not None and given != recorded:
            print(f"note: {name} {given!r} from the command line, not the {recorded!r} {args.mapping} records",
                  file=sys.stderr)
        setattr(args, name, given)
    if args.model is None:
        raise ConfigError("--model", f"required: {args.mapping} records no model")


def run_map_evaluate(args: argparse.Namespace) -> int:
    scenario_from_mapping_file(args)
    evaluator = evaluator_from_args(args)
    mapping = read_mapping(args.mapping, evaluator.encoding)
    summary = _summary(evaluator, mapping)
    if args.thermal:
        summary["thermal"] = _thermal_summary(thermal_from_args(args, evaluator), mapping)
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(f"latency {summary['latency_s'] * 1e3:.4f} ms  energy {summary['energy_J']:.5f} J  "
              f"EDP {summary['edp_Js']:.5g} J s")
        print("energy by part (J): " + ", ".join(f"{k} {v:.4g}" for k, v in summary["energy_by_part_J"].items()))
        print("job time by bound (s): " + ", ".join(f"{k} {v:.4g}" for k, v in
                                                     summary["job_time_by_bound_s"].items()))
        if args.thermal:
            th = summary["thermal"]
            print(f"after DTM (T_max {th['t_max_C']:.0f} C): latency {th['throttled_latency_s'] * 1e3:.4f} ms  "
                  f"energy {th['throttled_energy_J']:.5f} J  EDP {th['throttled_edp_Js']:.5g} J s  peak "
                  f"{th['peak_C']:.1f} C  mean {th['mean_C']:.1f} C  above T_max {th['time_above_t_max_s'] * 1e3:.3g} "
                  f"ms  idle + leakage {th['idle_and_leakage_energy_J']:.4g} J")
    return 0


def explore_dataflows(args: argparse.Namespace) -> tuple[str, ...]:
    """The designs ``map explore`` may use: ``--dataflows``, by default every one the cost backend describes."""
    described = DATAFLOWS
    if args.cost == "zigzag":
        from ailfm.mapping.zigzag_backend import SUPPORTED as described
    if args.dataflows is None:
        return described
    unknown = [d for d in args.dataflows if d not in described]
    if unknown:
        raise ConfigError("--dataflows", f"{', '.join(unknown)}: the {args.cost} cost backend describes "
                          f"{', '.join(described)}")
    return tuple(dict.fromkeys(args.dataflows))


def run_map_explore(args: argparse.Namespace) -> int:
    from ailfm.mapping.search.hardware import ExploreSettings, explore

    workload_args = dict(n_slots=args.slots, n_steps=args.steps, tensor_parallel=args.tensor_parallel,
                         n_blocks=args.blocks, seed=args.workload_seed)
    if args.beyond_context:  # only then: the key is part of the configuration a resumed exploration must match
        workload_args["beyond_context"] = True
    base = load_hardware(args.hardware)
    gemm_costs = gemm_costs_from_args(args, base)
    settings = ExploreSettings(trials=args.trials, lns_steps=args.lns_steps, total_macs=args.total_macs,
                               inner_pop=args.inner_pop, inner_gen=args.inner_gen, seed=args.seed,
                               dataflows=explore_dataflows(args), thermal=args.thermal, t_max_C=args.t_max_C)
    model = load_model(args.model)
    print_notes(scenario_notes(model, args.tensor_parallel))
    out = prepare_output_folder(args.out)
    with run_lock(out):
        result = explore(model, args.serving, load_lengths(args.lengths), base, settings, out, workload_args,
                         progress=not args.no_progress, gemm_costs=gemm_costs)
    print(json.dumps(result, indent=1))
    return 0


def add_subcommands(subparsers) -> None:
    parser = subparsers.add_parser("map", help="Compass: map LLM serving onto multi-chiplet accelerators")
    sub = parser.add_subparsers(dest="map_command", required=True, metavar="ACTION")

    search = sub.add_parser("search", help="GA (or NSGA-II) mapping search with same-budget baselines")
    add_scenario_arguments(search)
    search.add_argument("--out", required=True, help="output directory (refused if it holds a search, unless --resume)")
    search.add_argument("--resume", action="store_true",
                        help="continue the search checkpointed in --out (the same options are required)")
    search.add_argument("--pop", type=options.POSITIVE, default=120)
    search.add_argument("--gen", type=options.POSITIVE, default=200)
    search.add_argument("--seed", type=options.SEED, default=0)
    search.add_argument("--objective", choices=("edp", "pareto", "edp-peak"), default="edp",
                        help="edp: one objective (GA); pareto: NSGA-II over latency and energy; edp-peak: NSGA-II "
                             "over EDP after throttling and peak temperature (implies --thermal)")
    add_thermal_arguments(search)
    search.add_argument("--max-peak-C", type=options.number(0, 200, why="silicon is not rated above ~150 C"),
                        default=None, help="constraint: peak chiplet temperature (implies --thermal)")
    search.add_argument("--max-evals", type=options.POSITIVE, default=None, help="evaluation budget")
    search.add_argument("--patience", type=options.POSITIVE, default=None, help="early stop after G flat generations")
    search.add_argument("--checkpoint-every", type=options.POSITIVE, default=10)
    search.add_argument("--local-share", type=options.number(0, 1), default=0.8,
                        help="share of each generation's offspring made by local moves around the 4 best (0: plain GA)")
    search.add_argument("--pin", default=None, help="JSON like best_mapping.json; null marks free genes")
    search.add_argument("--no-seed-baselines", dest="seed_baselines", action="store_false",
                        help="start every search from random genomes only")
    search.add_argument("--workers", type=options.WORKERS, default=os.cpu_count() or 1,
                        help="process-pool size (1: in-process)")
    search.add_argument("--dask", default=None, metavar="ADDRESS", help="evaluate on a Dask cluster")
    search.add_argument("--no-progress", action="store_true")
    search.set_defaults(func=run_map_search)

    evaluate = sub.add_parser("evaluate", help="score a mapping file (latency, energy, EDP, breakdowns)")
    add_scenario_arguments(evaluate, from_mapping_file=True)
    evaluate.add_argument("--mapping", required=True)
    evaluate.add_argument("--json", action="store_true", help="print every breakdown as JSON")
    add_thermal_arguments(evaluate)
    evaluate.set_defaults(func=run_map_evaluate)

    exp = sub.add_parser("explore", help="hardware co-exploration: optuna TPE (homogeneous) then LNS (heterogeneous)")
    add_scenario_arguments(exp)
    exp.add_argument("--out", required=True, help="output directory (optuna sqlite storage, LNS state)")
    exp.add_argument("--trials", type=options.POSITIVE, default=40)
    exp.add_argument("--lns-steps", type=options.POSITIVE, default=40)
    exp.add_argument("--total-macs", type=options.POSITIVE, default=36 * 1024, help="fixed compute budget")
    exp.add_argument("--inner-pop", type=options.POSITIVE, default=24)
    exp.add_argument("--inner-gen", type=options.POSITIVE, default=15)
    exp.add_argument("--seed", type=options.SEED, default=0)
    exp.add_argument("--dataflows", nargs="+", choices=DATAFLOWS,
                     help="chiplet designs both phases may use (default: all the cost backend describes; ZigZag "
                          "costs: os and ws)")
    add_thermal_arguments(exp)
    exp.add_argument("--no-progress", action="store_true")
    exp.set_defaults(func=run_map_explore)

