"""HotSpot in the loop: ``ailfm simulate --thermal hotspot`` against ``--thermal grid`` on the same scenario and grid.

Runs the default scenario (or ``--governor``, ``--duration``, ``--grid-cells``) twice, as ``ailfm simulate`` does:
once with the built-in grid model and once with a real HotSpot 7.0 binary each epoch (``$HOTSPOT`` or ``hotspot`` on
``PATH``). The HotSpot run also steps a second grid model in lockstep with the very power vectors HotSpot gets, so
two figures come out:

* lockstep: worst |T_hotspot - T_grid| over cores and epochs on identical inputs, the thermal models' own difference;
* closed loop: the same between the two separate runs, where each model's temperatures drive leakage power and DTM,
  so a core a hundredth of a kelvin either side of the DTM trigger can take a different path; the script counts the
  (epoch, core) pairs whose DTM state differs;
* restart check: the HotSpot run's first ``--replay-steps`` thermal steps (every block) against HotSpot's own
  uninterrupted transient of the same power history on the stack's block floorplans.

Prints the wall time per epoch of both runs, and the CPU time of one epoch's HotSpot command with and without the
transient (HotSpot always solves the steady state too).

    HOTSPOT=/path/to/hotspot python bench/hotspot_loop.py [--duration 0.05] [--governor performance]
        [--grid-cells N] [--replay-steps 5] [--system NAME|YAML] [--json out.json]

Exit status 1 when no HotSpot binary is found (the one-line reason on stderr).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ailfm.errors import ToolError
from ailfm.plugins.epoch.chip_thermal import ChipThermal, build_thermal, chip_stack, grid_config
from ailfm.plugins.epoch.cosim import CoSimulation
from ailfm.plugins.governors.registry import make_governor
from ailfm.plugins.run.runner import RunConfig, load_workload
from ailfm.plugins.system.description import load_system
from ailfm.thermal.base import ThermalModel
from ailfm.thermal.floorplan_gen import write_stack
from ailfm.thermal.formats import write_config
from ailfm.thermal.hotspot_backend import HotSpotBackend, find_hotspot

#: a power difference between the two closed loops' inputs this large is a DTM decision, not leakage (W)
FLIP_W = 0.5


class Lockstep(ThermalModel):
    """The loop's model, with a second model stepped on the same power vectors alongside it (without ``shadow``:
    the model alone); every step's power, length and outputs recorded."""

    def __init__(self, model: ThermalModel, shadow: ThermalModel | None = None):
        self.model, self.shadow = model, shadow
        self.power_names, self.output_names, self.ambient_K = model.power_names, model.output_names, model.ambient_K
        self.powers: list[np.ndarray] = []
        self.steps_s: list[float] = []
        self.outputs: list[np.ndarray] = []
        self.shadow_outputs: list[np.ndarray] = []

    def step(self, power_W, dt_s):
        self.powers.append(np.array(power_W))
        self.steps_s.append(float(dt_s))
        if self.shadow is not None:
            self.shadow_outputs.append(self.shadow.step(power_W, dt_s))
        self.outputs.append(self.model.step(power_W, dt_s))
        return self.outputs[-1]

    def steady(self, power_W):
        return self.model.steady(power_W)

    def reset(self, init=None):
        self.model.reset(init)
        if self.shadow is not None:
            self.shadow.reset(init)
        for record in (self.powers, self.steps_s, self.outputs, self.shadow_outputs):
            record.clear()

    @property
    def steady_gain_K_per_W(self):
        return self.model.steady_gain_K_per_W  # what ChipThermal gives TSP and PCGov, as for the model alone

    def node_temperatures(self):
        return self.model.node_temperatures()

    def temperatures(self):
        return self.model.temperatures()


def timed_run(config: RunConfig, thermal: ThermalModel):
    """``ailfm simulate``'s run of ``config`` on ``thermal``, and its wall time."""
    system = load_system(config.system)
    sim = CoSimulation.for_workload(system, load_workload(config), thermal, make_governor(config.governor))
    start = time.perf_counter()
    result = sim.run(config.duration_s)
    return result, time.perf_counter() - start, ChipThermal.of(system, thermal)


def uninterrupted_hotspot(system, cells: int | None, powers: list[np.ndarray], dt_s: float) -> np.ndarray:
    """HotSpot's own transient of the whole power history on the stack's block floorplans, from ambient, one run
    per thermal step over everything so far (``HotSpotBackend``'s replay mode): the restart-free reference."""
    with tempfile.TemporaryDirectory(prefix="ailfm-hotspot-replay-") as folder:
        lcf = write_stack(chip_stack(system), Path(folder))
        write_config(Path(folder) / "hotspot.config", grid_config(system, cells))
        backend = HotSpotBackend({"c": "hotspot.config", "grid_layer_file": lcf.name, "model_type": "grid"},
                                 cwd=folder, state_mode="replay")
        return np.array([backend.step(power, dt_s) for power in powers])


def run_cost(model, repeats: int = 2) -> dict[str, float]:
    """CPU seconds of one epoch's HotSpot command (the last epoch's files, in the model's folder) and of the same
    command without ``-o``, which makes HotSpot compute only the steady state it also computes after every
    transient; the lower of ``repeats`` runs each."""
    folder = model.directory
    steady_only = [model.executable, "-c", "hotspot.config", "-model_type", "grid", "-grid_layer_file", "cells.lcf",
                   "-p", "power.ptrace"]
    epoch = steady_only + ["-o", "cost.ttrace", "-init_file", "state.init", "-grid_transient_file", "cost.grid",
                           "-sampling_intvl", "0.001"]
    cost = {}
    for name, command in (("epoch_run", epoch), ("steady_only", steady_only)):
        seconds = []
        for _ in range(repeats):
            (folder / "cost.grid").unlink(missing_ok=True)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(command, cwd=folder, capture_output=True, check=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            seconds.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        cost[f"hotspot_cpu_s_{name}"] = min(seconds)
    return cost


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=0.05, help="simulated seconds (default 0.05: 50 epochs)")
    parser.add_argument("--governor", default="performance")
    parser.add_argument("--system", default=None, help="system name or YAML (default: the default scenario's)")
    parser.add_argument("--grid-cells", type=int, default=None, help="cells per side (default: the system's)")
    parser.add_argument("--replay-steps", type=int, default=5,
                        help="check the first N thermal steps against HotSpot's uninterrupted transient "
                             "(N(N+1)/2 steps of HotSpot transient; default 5, 0 to skip)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    try:
        binary = find_hotspot()
    except ToolError as err:
        print(f"hotspot_loop: {err}", file=sys.stderr)
        return 1
    base = RunConfig(governor=args.governor, duration_s=args.duration, grid_cells=args.grid_cells)
    if args.system:
        base = dataclasses.replace(base, system=args.system)
    system = load_system(base.system)
    grid_record = Lockstep(build_thermal(system, "grid", cells=args.grid_cells))
    grid, grid_s, _ = timed_run(base, grid_record)
    lockstep = Lockstep(build_thermal(system, "hotspot", cells=args.grid_cells),
                        build_thermal(system, "grid", cells=args.grid_cells))
    hotspot, hotspot_s, chip = timed_run(dataclasses.replace(base, thermal="hotspot"), lockstep)
    t_hotspot = hotspot.per_core["temperature_K"]
    t_shadow = np.array(lockstep.shadow_outputs)[:, chip.core_output]
    t_grid = grid.per_core["temperature_K"]
    epochs = min(len(t_grid), len(t_hotspot))
    same_inputs = np.abs(np.array(lockstep.outputs)[:, chip.core_output] - t_shadow)  # every thermal sub-step
    closed = np.abs(t_hotspot[:epochs] - t_grid[:epochs])
    dtm_differs = hotspot.per_core["dtm_throttled"][:epochs] != grid.per_core["dtm_throttled"][:epochs]
    first_dtm = int(np.flatnonzero(dtm_differs.any(axis=1))[0]) if dtm_differs.any() else None
    # the decision that first went apart: that epoch's temperatures of the first such core in both runs
    flip_core = int(np.flatnonzero(dtm_differs[first_dtm])[0]) if first_dtm is not None else None
    flip_K = ([float(t_grid[first_dtm, flip_core]), float(t_hotspot[first_dtm, flip_core])]
              if first_dtm is not None else None)
    before = closed[:first_dtm] if first_dtm else closed
    # the same at the thermal sub-step (DTM's period): the first step where a core's power differs by more than
    # FLIP_W between the two runs is where their DTM decisions first went apart (leakage alone differs by mW)
    steps = min(len(grid_record.powers), len(lockstep.powers))
    power_apart = np.abs(np.array(lockstep.powers[:steps]) - np.array(grid_record.powers[:steps])).max(axis=1) > FLIP_W
    first_step = int(np.flatnonzero(power_apart)[0]) if power_apart.any() else steps
    step_closed = np.abs(np.array(lockstep.outputs[:first_step])[:, chip.core_output]
                         - np.array(grid_record.outputs[:first_step])[:, chip.core_output])
    lock_epoch, lock_core = np.unravel_index(int(np.argmax(same_inputs)), same_inputs.shape)
    loop_epoch, loop_core = np.unravel_index(int(np.argmax(closed)), closed.shape)
    figures = {
        "hotspot": binary, "governor": args.governor, "duration_s": args.duration, "epochs": int(epochs),
        "grid_cells": args.grid_cells or system.thermal.stack.grid_cells, "cores": int(t_grid.shape[1]),
        "lockstep_worst_abs_difference_K": float(same_inputs.max()), "lockstep_worst_substep": int(lock_epoch),
        "lockstep_worst_core": int(lock_core), "lockstep_mean_abs_difference_K": float(same_inputs.mean()),
        "closed_loop_worst_abs_difference_K": float(closed.max()), "closed_loop_worst_epoch": int(loop_epoch),
        "closed_loop_worst_core": int(loop_core), "closed_loop_mean_abs_difference_K": float(closed.mean()),
        "dtm_state_differs_core_epochs": int(dtm_differs.sum()), "first_epoch_dtm_differs": first_dtm,
        "first_flip_core": flip_core, "first_flip_T_K_grid_hotspot": flip_K,
        "dtm_trigger_K": system.thermal.dtm_trigger_C + 273.15,
        "closed_loop_worst_before_first_flip_K": float(before.max()) if before.size else None,
        "thermal_steps": steps, "first_step_power_differs": first_step if power_apart.any() else None,
        "closed_loop_worst_before_first_step_apart_K": float(step_closed.max()) if step_closed.size else None,
        "peak_temp_C_grid": float(t_grid.max() - 273.15), "peak_temp_C_hotspot": float(t_hotspot.max() - 273.15),
        "wall_s_per_epoch_grid": grid_s / len(t_grid), "wall_s_per_epoch_hotspot": hotspot_s / len(t_hotspot),
        "load_average": os.getloadavg()[0],
    }
    figures.update(run_cost(lockstep.model))
    if args.replay_steps:
        n = min(args.replay_steps, len(lockstep.powers))
        exact = uninterrupted_hotspot(system, args.grid_cells, lockstep.powers[:n], lockstep.steps_s[0])
        restart = np.abs(np.array(lockstep.outputs[:n]) - exact)
        figures["restart_vs_uninterrupted_steps"] = n
        figures["restart_vs_uninterrupted_worst_K"] = float(restart.max())
    print(f"{epochs} epochs x {t_grid.shape[1]} cores, {figures['grid_cells']}x{figures['grid_cells']} cells, "
          f"governor {args.governor}, HotSpot {binary}")
    print(f"lockstep (same power): worst |T_hotspot - T_grid| = {figures['lockstep_worst_abs_difference_K']:.3f} K "
          f"(thermal sub-step {lock_epoch}, core {lock_core}); mean {figures['lockstep_mean_abs_difference_K']:.4f} K")
    print(f"closed loop: worst {figures['closed_loop_worst_abs_difference_K']:.3f} K (epoch {loop_epoch}, core "
          f"{loop_core}); mean {figures['closed_loop_mean_abs_difference_K']:.4f} K; DTM state differs in "
          f"{figures['dtm_state_differs_core_epochs']} (epoch, core) pairs, first at epoch {first_dtm}")
    if first_dtm is not None:
        print(f"  first DTM flip: core {flip_core} at {flip_K[0]:.3f} K (grid) vs {flip_K[1]:.3f} K (hotspot), "
              f"trigger {figures['dtm_trigger_K']:.2f} K; worst difference before it "
              f"{figures['closed_loop_worst_before_first_flip_K']:.3f} K")
    print(f"  at the thermal sub-step: the runs' powers first differ by > {FLIP_W} W (a DTM decision) at step "
          f"{figures['first_step_power_differs']} of {steps}; worst |T_hotspot - T_grid| before it "
          f"{figures['closed_loop_worst_before_first_step_apart_K']:.4f} K")
    if args.replay_steps:
        print(f"restarts vs HotSpot's uninterrupted transient, first {figures['restart_vs_uninterrupted_steps']} "
              f"thermal steps, every block: worst {figures['restart_vs_uninterrupted_worst_K']:.3f} K")
    print(f"peak core temperature: grid {figures['peak_temp_C_grid']:.2f} C, "
          f"hotspot {figures['peak_temp_C_hotspot']:.2f} C")
    print(f"wall per epoch: grid {1e3 * figures['wall_s_per_epoch_grid']:.1f} ms, "
          f"hotspot {figures['wall_s_per_epoch_hotspot']:.2f} s (load average {figures['load_average']:.1f})")
    print(f"one epoch's HotSpot run: {figures['hotspot_cpu_s_epoch_run']:.2f} s CPU, of which its steady-state "
          f"solve alone takes {figures['hotspot_cpu_s_steady_only']:.2f} s")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
