"""The one run description: what ``ailfm simulate``/``ailfm compare``, the imitation roll-outs and the gem5 script run.

``RunConfig`` names a system, a workload and its serving scenario, a governor, how long to run and which thermal model
to step; it is validated once, on construction. ``add_run_arguments`` registers its options on a command line and
``RunConfig.from_args`` reads them back, so ``ailfm simulate`` and ``gem5_configs/run_ailfm.py`` share one set of
options. A roll-out (``ailfm.plugins.imitation.rollout.RolloutScenario``) is a ``RunConfig`` with a warm-up.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from ailfm import options
from ailfm.errors import ConfigError
from ailfm.plugins.epoch.chip_thermal import THERMAL_KINDS
from ailfm.plugins.governors.placement import OWN, PLACEMENT_CHOICES, check_placement


@dataclass(frozen=True)
class RunConfig:
    """One simulation. ``workload``: a shipped model name, a Hugging Face ``config.json`` path, or a trace file.

    ``lengths``, ``requests``, ``instances`` and ``threads`` describe the serving scenario when the workload is a
    model (see ``ailfm.traces.Scenario``); the default is the default scenario of ``ailfm compare`` and ``make run``.
    ``seed`` picks the trace's request window; ``duration_s`` is the simulated time limit (None: until the workload
    ends); ``grid_cells`` the cells per side of the thermal grid (None: the system's ``thermal.stack.grid_cells``);
    ``placement`` where the threads start (``own``: the governor's own initial placement, or a name of
    ``ailfm.plugins.governors.placement.PLACEMENTS`` for every governor alike).
    """

    system: str = "snuca-64"
    workload: str = "llama-2-7b"
    governor: str = "performance"
    duration_s: float | None = 5.0
    seed: int = 0
    thermal: str = "fast"
    lengths: str = "fixed:16,4"
    requests: int = 3
    instances: int = 3
    threads: int = 16
    grid_cells: int | None = None
    placement: str = OWN

    def __post_init__(self):
        check_placement(self.placement)
        if self.thermal not in THERMAL_KINDS:
            raise ConfigError("thermal", f"unknown thermal model {self.thermal!r}; known: {', '.join(THERMAL_KINDS)}")
        if self.duration_s is not None and not self.duration_s > 0:
            raise ConfigError("duration", f"must be > 0 seconds, got {self.duration_s!r}")
        if self.grid_cells is not None and self.grid_cells < 1:
            raise ConfigError("grid-cells", f"must be a positive integer, got {self.grid_cells!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError("seed", f"must be an integer >= 0, got {self.seed!r}")
        for name in ("requests", "instances", "threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(name, f"must be a positive integer, got {value!r}")

    @classmethod
    def from_args(cls, args: argparse.Namespace, **fields) -> RunConfig:
        """The run the options of :func:`add_run_arguments` describe; ``fields`` gives the others (governor, seed,
        duration_s when the command has no ``--duration``)."""
        options = {"system": args.system, "workload": args.workload, "thermal": args.thermal,
                   "grid_cells": args.grid_cells, "lengths": args.lengths, "requests": args.requests,
                   "instances": args.instances, "threads": args.threads, "placement": args.placement}
        if hasattr(args, "duration"):
            options["duration_s"] = args.duration
        return cls(**{**options, **fields})


def add_run_arguments(parser: argparse.ArgumentParser, *, duration: bool = True) -> None:
    """The options of a run's system, workload, scenario and thermal model (``--duration`` unless the command counts
    epochs instead), with ``RunConfig``'s defaults."""
    defaults = RunConfig()
    parser.add_argument("--system", default=defaults.system,
                        help=f"shipped system name or YAML path (default {defaults.system})")
    parser.add_argument("--workload", default=defaults.workload,
                        help="shipped model name, path to a Hugging Face config.json, or a trace (.parquet/.csv) "
                             f"(default {defaults.workload})")
    if duration:
        parser.add_argument("--duration", type=options.number(above=0), default=defaults.duration_s, metavar="SECONDS",
                            help=f"simulated time limit (default {defaults.duration_s}); runs stop earlier when done")
    parser.add_argument("--thermal", choices=THERMAL_KINDS, default=defaults.thermal,
                        help="thermal model: fast (reduced order), grid (exact) or hotspot (a HotSpot 7.0 binary "
                             "run each epoch: $HOTSPOT or hotspot on PATH)")
    parser.add_argument("--grid-cells", type=options.GRID_CELLS, default=None, metavar="N",
                        help="cells per side of the thermal grid (default: the system's thermal.stack.grid_cells)")
    parser.add_argument("--lengths", default=defaults.lengths,
                        help=f"request lengths: azure-code, azure-conv, fixed:P,O or a CSV (default "
                             f"{defaults.lengths})")
    parser.add_argument("--requests", type=options.POSITIVE, default=defaults.requests,
                        help=f"requests served (default {defaults.requests})")
    parser.add_argument("--instances", type=options.POSITIVE, default=defaults.instances,
                        help=f"inference instances (default {defaults.instances})")
    parser.add_argument("--threads", type=options.POSITIVE, default=defaults.threads,
                        help=f"threads per instance (default {defaults.threads})")
    parser.add_argument("--placement", choices=PLACEMENT_CHOICES, default=defaults.placement,
                        help="where the threads start: own (each governor's own initial placement, default), "
                             "first-unused (thread i on core i), coolest (AIL's: least self-heating cores) or "
                             "lowest-latency (PCMig's: lowest S-NUCA latency); the governor decides from there")
