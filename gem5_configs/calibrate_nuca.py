"""NUCA calibration on gem5: ``gem5.opt gem5_configs/calibrate_nuca.py --system S --out DIR``.

Measures every core's mean LLC hit latency on the gem5 system that ``run_ailfm.py`` builds: idle (one tile at a time,
``--idle-rate`` reads per second) and under load (the threads of ``--load-workload``'s default scenario replaying
their kernels, thread t on tile t, at ``--load-f-GHz``), each after a warm-up epoch. Then compares with the built-in
``NucaModel`` (under load, with its contention at the access rates gem5 saw) and fits its NoC constants
(``ailfm.gem5_configs.calibration``). Writes
``calibration.csv`` (per core), ``fitted_noc.yaml`` (the fitted constants, to paste into or ``base:`` a system
YAML) and ``calibration.json`` (mean and largest errors before and after the fit). Site-packages as for
run_ailfm.py (``AILFM_SITE_PACKAGES`` or the repository's ``.venv``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # ailfm is importable only once sitepaths has run (under gem5.opt)
    import numpy as np

    from ailfm.plugins.engine.workload import Workload
    from ailfm.plugins.run.config import RunConfig
    from ailfm.plugins.system.description import SystemDescription


def main(argv: list[str]) -> int:
    import numpy as np
    import yaml

    from ailfm.gem5_configs.calibration import (
        calibration_table,
        fit_bank_service,
        fit_nuca,
        jittered,
        probe_traffic,
        warm_traffic,
        with_bank_service,
        workload_traffic,
    )
    from ailfm.gem5_configs.components.backend import gem5_version, run_on_simulator
    from ailfm.gem5_configs.components.board import SnucaBoard
    from ailfm.gem5_configs.epoch import (
        TICKS_PER_S,
        AddressMap,
        ThreadCursor,
        TileQueues,
        TileTraffic,
        seconds_to_ticks,
    )

    run = prepare(argv)  # every option and file checked before gem5 builds anything
    args, system, idle_ns, config, workload, fractions = (run.args, run.system, run.idle_ns, run.config,
                                                           run.workload, run.fractions)
    n = system.n_cores
    amap = AddressMap.for_system(system, n)
    queues = TileQueues(n)
    board = SnucaBoard(system, amap.memory_bytes(), queues)
    cursors = [ThreadCursor() for _ in range(n)]
    epoch_s = args.epoch_us * 1e-6
    ticks = seconds_to_ticks(epoch_s)
    f_GHz = args.load_f_GHz or system.dvfs.f_max_GHz

    def measure(backend):
        """Idle latencies (unless given) and the loaded epochs' counters, with gem5 behind ``backend``."""
        def epoch(active, rate):
            return backend.run_epoch(probe_traffic(system, amap, cursors, active, rate, epoch_s), ticks)

        # the warm-up epoch reads the tile's whole resident region (twice the private caches) once, so the measured
        # epoch that follows re-reads lines that are in the LLC but were evicted from the (LRU) L1
        probed_lines = amap.resident_bytes // amap.line_bytes
        warm_rate = max(args.idle_rate, probed_lines / epoch_s)
        # a quiet microsecond after it lets the warm-up's last (DRAM) requests complete, so that their latencies are
        # not counted in the measured epoch (a generator counts a request when its response arrives)
        drain_ticks = seconds_to_ticks(1e-6)
        quiet = [TileTraffic.idle(drain_ticks) for _ in range(n)]
        idle = idle_ns
        if idle is None:
            idle = np.empty(n)
            for tile in range(n):
                alone = np.arange(n) == tile
                epoch(alone, warm_rate)
                backend.run_epoch(quiet, drain_ticks)
                idle[tile] = epoch(alone, args.idle_rate).llc_latency_ns(np.full(n, np.nan))[tile]
        window_s = (args.load_epochs + 1) * epoch_s
        backend.run_epoch(warm_traffic(system, amap, np.arange(workload.n_threads), args.warm_us * 1e-6),
                          seconds_to_ticks(args.warm_us * 1e-6))  # the loaded tiles' resident data into the LLC
        load = workload_traffic(system, workload, amap, cursors, fractions, f_GHz, window_s,
                                dram=args.load_traffic == "all")
        backend.run_epoch(jittered(load, args.load_jitter), ticks)  # the first loaded epoch warms up
        nothing = [TileTraffic((), ()) for _ in range(n)]  # the rest of the window is already queued
        return idle, [backend.run_epoch(nothing, ticks) for _ in range(args.load_epochs)]

    idle_ns, loaded = run_on_simulator(board, queues, measure)
    with np.errstate(divide="ignore", invalid="ignore"):
        load_ns = (sum(c.hit_latency_ticks for c in loaded) / sum(c.hit_requests for c in loaded)
                   * (1e9 / TICKS_PER_S))
    load_rate = sum(c.hit_requests + c.miss_requests for c in loaded) / (args.load_epochs * epoch_s)

    fit = fit_nuca(system, idle_ns)
    # the bank wait is what LLC traffic alone adds: fitted on an LLC-only load (with DRAM misses the loaded figure
    # also holds the misses' back-pressure, which the NUCA model does not represent; docs/gem5.md)
    bank = fit_bank_service(fit.system, load_ns, load_rate) if args.load_traffic == "llc" else None
    banked = with_bank_service(fit.system, bank) if bank is not None else None
    table = calibration_table(system, idle_ns, load_ns, load_rate, fit, banked)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "calibration.csv", index=False)
    fitted = {"noc": {"link_latency_cycles": float(fit.system.noc.link_latency_cycles),
                      "tsv_latency_cycles": float(fit.system.noc.tsv_latency_cycles)},
              "llc": {"bank_latency_cycles": float(fit.system.llc.bank_latency_cycles)}}  # plain floats for YAML
    if bank is not None:
        fitted["llc"]["bank_service_cycles"] = bank
    (out / "fitted_noc.yaml").write_text(f"# fitted to gem5 by calibrate_nuca.py on {system.name}\n"
                                         + yaml.safe_dump({"base": system.name, "name": f"{system.name}-gem5fit",
                                                           "description": f"{system.name}, NoC fitted to gem5",
                                                           **fitted}, sort_keys=False))
    summary = {"system": system.name, "planar_hop_cycles": fit.planar_hop_cycles,
               "vertical_hop_cycles": fit.vertical_hop_cycles, "constant_cycles": fit.constant_cycles,
               "clipped": list(fit.clipped), "gem5_version": gem5_version()}
    for column in ("error_before", "error_after"):
        summary[f"mean_abs_{column}"] = float(table[column].abs().mean())
        summary[f"max_abs_{column}"] = float(table[column].abs().max())
    for model, column in (("before", "builtin_ns"), ("after", "fitted_ns")):
        summary[f"rms_error_ns_{model}"] = float(np.sqrt(((table[column] - table["gem5_idle_ns"]) ** 2).mean()))
    summary["mean_load_over_idle"] = float(table["load_over_idle"].mean())
    summary["load"] = {"workload": config.workload, "threads": int(workload.n_threads), "f_GHz": float(f_GHz),
                       "traffic": args.load_traffic, "jitter": args.load_jitter, "idle_from": args.idle_csv,
                       "requests_per_epoch": [int(c.hit_requests.sum() + c.miss_requests.sum()) for c in loaded]}
    summary["bank_service_cycles"] = bank
    for model in ("builtin", "fitted") + (("banked",) if bank is not None else ()):
        error = table[f"{model}_load_ns"] / table["gem5_load_ns"] - 1.0
        summary[f"mean_abs_load_error_{model}"] = float(error.abs().mean())
    (out / "calibration.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(json.dumps(summary, indent=2))
    return 0


class Calibration(NamedTuple):
    """What the calibration reads and checks before gem5 builds anything."""

    args: argparse.Namespace
    system: SystemDescription
    idle_ns: np.ndarray | None  # the --idle-csv latencies; None: measure them
    config: RunConfig  # the load
    workload: Workload
    fractions: np.ndarray


def build_parser() -> argparse.ArgumentParser:
    from ailfm import options
    from ailfm.plugins.run.config import RunConfig

    parser = argparse.ArgumentParser(prog="gem5.opt gem5_configs/calibrate_nuca.py")
    parser.add_argument("--system", default="snuca-64", help="shipped system name or YAML path")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--epoch-us", type=options.number(above=0), default=20.0,
                        help="length of each probe epoch (default 20 us)")
    parser.add_argument("--idle-rate", type=options.number(above=0), default=2e7,
                        help="reads per second of the lone tile")
    parser.add_argument("--load-workload", default=RunConfig().workload,
                        help="model whose default scenario (ailfm simulate's) loads the chip (default %(default)s)")
    parser.add_argument("--load-f-GHz", type=options.number(above=0), default=None,
                        help="the threads' frequency (default f_max)")
    parser.add_argument("--load-epochs", type=options.POSITIVE, default=5, help="measured epochs under load")
    parser.add_argument("--load-traffic", choices=("all", "llc"), default="all",
                        help="all: the threads' LLC hits and DRAM misses; llc: their DRAM misses sent as LLC hits "
                             "(the same LLC access rates, no DRAM traffic)")
    parser.add_argument("--load-jitter", type=float, default=0.0,
                        help="draw the loaded threads' request gaps uniformly from period * (1 -+ this), in [0, 1) "
                             "(default 0: fixed periods, threads with equal rates in lock step)")
    parser.add_argument("--idle-csv", default=None,
                        help="take the idle latencies from this calibration.csv (a previous run on the same system) "
                             "instead of measuring them")
    parser.add_argument("--warm-us", type=options.number(0), default=100.0,
                        help="before the loaded epochs, the loaded tiles read their resident data once in this "
                             "long (default 100 us)")
    return parser


def prepare(argv: list[str]) -> Calibration:
    """The options, the system, the idle latencies of ``--idle-csv`` and the load, each checked (the load is used
    after the idle probes: a bad one must be refused before them, not after minutes of gem5). A load with more
    threads than the system has tiles loads the tiles there are (threads 0 to n-1, ``calibration.workload_traffic``),
    so the default scenario also calibrates a small system."""
    from ailfm.errors import ConfigError
    from ailfm.gem5_configs.calibration import check_jitter, idle_latencies
    from ailfm.gem5_configs.epoch import read_fractions
    from ailfm.plugins.run.config import RunConfig
    from ailfm.plugins.run.runner import load_workload
    from ailfm.plugins.system.description import load_system
    from ailfm.traces import load_model_config

    args = build_parser().parse_args(argv)
    check_jitter(args.load_jitter, "--load-jitter")
    system = load_system(args.system)
    dvfs = system.dvfs
    if args.load_f_GHz is not None and not dvfs.f_min_GHz <= args.load_f_GHz <= dvfs.f_max_GHz:
        raise ConfigError("--load-f-GHz", f"{args.load_f_GHz} GHz is outside {system.name}'s DVFS range "
                                          f"[{dvfs.f_min_GHz}, {dvfs.f_max_GHz}] GHz")
    idle_ns = idle_latencies(args.idle_csv, system.n_cores) if args.idle_csv else None
    config = RunConfig(system=args.system, workload=args.load_workload)
    workload = load_workload(config)
    fractions = read_fractions(load_model_config(config.workload), workload.kernel_type_names)
    return Calibration(args, system, idle_ns, config, workload, fractions)


if __name__ == "__m5_main__":
    from sitepaths import run_script  # gem5_configs/ is first on sys.path

    run_script(main, __file__)
