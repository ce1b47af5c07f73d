"""``ailfm demo``: the steady state of a system's 3D stack under a constant power map, on HotSpot's grid model.

The demo solves the shipped example (``demo.yaml``: the ``snuca-64`` system's stack under a documented power
scenario), prints the hottest blocks and writes, into ``--out``: the stack's ``.flp``/``.lcf`` files, the power
trace, HotSpot's ``.steady`` file and a per-layer temperature map PNG. The files are HotSpot's, so the printed command
reproduces the result with ``hotspot`` or ``ailfm-hotspot``.

The chip is the one ``ailfm simulate --system`` simulates: the scenario names a system description and the stack
comes from it through :func:`ailfm.plugins.epoch.chip_thermal.chip_stack`. The demo lives with the runs, not in
``ailfm.thermal``, so that the thermal package stays a HotSpot-compatible library that knows no system description.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from ailfm import options
from ailfm.errors import ConfigError, unknown_name
from ailfm.files import read_text, yaml_error
from ailfm.plugins.epoch.chip_thermal import chip_stack
from ailfm.plugins.system.description import SystemDescription, load_system
from ailfm.plugins.system.power import PowerModel
from ailfm.thermal.floorplan_gen import ChipStack, build_stack, write_stack
from ailfm.thermal.formats import HotSpotConfig, PowerTrace, read_lcf, write_ptrace, write_steady
from ailfm.thermal.hotspot_cli import steady_grid_maps
from ailfm.thermal.model import build_thermal_model
from ailfm.thermal.plots import plot_layer_maps

KELVIN_AT_0_C = 273.15
DEMO_SCENARIO = "demo.yaml"


@dataclass(frozen=True)
class DemoScenario:
    """A system's chip stack and a constant power map: which tile layers' cores are busy, and every block's power.

    The powers are the system's (``power_of``): a busy core fully active at f_max with its leakage at the power
    model's reference temperature, an idle core's ``idle_power_W``, an LLC bank's leakage.
    """

    system: str
    chip: ChipStack
    grid_cells: int
    active_layers: tuple[int, ...]
    active_core_power_W: float
    idle_core_power_W: float
    bank_power_W: float

    def __post_init__(self) -> None:
        if self.grid_cells < 1:
            raise ConfigError("grid_cells", f"must be >= 1, got {self.grid_cells}")
        for layer in self.active_layers:
            if not 0 <= layer < self.chip.tile_layers:
                raise ConfigError("active_layers", f"tile layer {layer} is not in 0..{self.chip.tile_layers - 1}")
        for name in ("active_core_power_W", "idle_core_power_W", "bank_power_W"):
            if not (np.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ConfigError(name, f"must be finite and >= 0, got {getattr(self, name)}")

    def power_W(self, names: tuple[str, ...]) -> np.ndarray:
        """Power of each block named as the floorplan generator names them (``L{layer}_core_...``, ``..._bank...``)."""
        power = np.empty(len(names))
        for k, name in enumerate(names):
            layer = int(name[1:name.index("_")])
            if "_core_" in name:
                power[k] = self.active_core_power_W if layer in self.active_layers else self.idle_core_power_W
            else:
                power[k] = self.bank_power_W
        return power


def power_of(system: SystemDescription) -> dict[str, float]:
    """The demo's block powers from the system's power model (``ailfm.plugins.system.power``)."""
    model, power = PowerModel(system), system.power
    at_reference_K = power.leakage_ref_C + KELVIN_AT_0_C
    busy, idle = (float(model.core_power(system.dvfs.f_max_GHz, 1.0, at_reference_K, state).total_W)
                  for state in (0, 1))
    return {"active_core_power_W": busy, "idle_core_power_W": idle, "bank_power_W": power.llc_leakage_W_per_bank}


def load_scenario(path: Path | str | None = None, system: str | None = None) -> DemoScenario:
    """Read a demo scenario YAML (default: the shipped one), ``system`` replacing its system; errors name the file
    and field (the system file's, for an error in the system description)."""
    if path is None:
        text = resources.files("ailfm.plugins.run").joinpath(DEMO_SCENARIO).read_text()
        source = f"ailfm/plugins/run/{DEMO_SCENARIO}"
    else:
        text = read_text(path)
        source = str(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise yaml_error(source, err) from None
    known = {"system", "grid_cells", "active_layers"}
    unknown = sorted(set(data) - known) if isinstance(data, dict) else []
    if unknown:
        raise ConfigError(str(unknown[0]), unknown_name(unknown[0], sorted(known)), path=source)
    if not isinstance(data, dict) or set(data) != known:
        found = set(data) if isinstance(data, dict) else set()
        raise ConfigError("scenario", f"expected the fields {', '.join(sorted(known))}; missing "
                          f"{sorted(known - found)}, unknown {sorted(found - known)}", path=source)
    system = system or str(data["system"])
    try:
        description = load_system(system)
    except ConfigError as err:
        raise ConfigError(err.field, err.reason, path=err.path or source, line=err.line) from None
    try:
        return DemoScenario(
            system=system, chip=chip_stack(description), grid_cells=int(data["grid_cells"]),
            active_layers=tuple(int(layer) for layer in data["active_layers"]), **power_of(description))
    except ConfigError as err:
        raise ConfigError(err.field, err.reason, path=source) from None
    except (TypeError, ValueError) as err:
        raise ConfigError("scenario", f"bad value: {err}", path=source) from None


def run_demo(args: argparse.Namespace) -> int:
    """Solve the scenario's steady state, print the hottest blocks, write the files; return 0."""
    scenario = load_scenario(args.scenario, args.system)
    cells = int(args.grid or scenario.grid_cells)
    out = Path(args.out)
    lcf = write_stack(scenario.chip, out / "stack")
    config = HotSpotConfig().with_flags({"model_type": "grid", "grid_rows": str(cells), "grid_cols": str(cells),
                                         "grid_layer_file": str(lcf)}).validate()
    layers = read_lcf(lcf)
    model = build_thermal_model(config, layers=layers)
    power = scenario.power_W(model.power_names)
    write_ptrace(out / "power.ptrace", PowerTrace(model.power_names, power[None, :]))
    block_K = model.steady(power)
    write_steady(out / "demo.steady", model.steady_node_temperatures(power))

    floorplans, _ = build_stack(scenario.chip, out / "stack")
    power_layers = [f"layer_{n}" for n, layer in enumerate(layers) if layer.has_power]
    maps = steady_grid_maps(model, power)
    die_maps = {f"die {k} ({name})": maps[name] for k, name in enumerate(power_layers)}
    die_floorplans = {f"die {k} ({name})": floorplans[int(name.split("_")[1])] for k, name in enumerate(power_layers)}
    png = plot_layer_maps(die_maps, out / "layer_maps.png", floorplans=die_floorplans,
                          title=f"{scenario.chip.name}: steady state, {power.sum():.1f} W, {cells} x {cells} cells")

    chip = scenario.chip
    print(f"ailfm demo: {chip.name}, {chip.tile_layers} dies of {chip.tile_rows} x {chip.tile_cols} tiles, "
          f"{cells} x {cells} grid cells, cores of dies {list(scenario.active_layers)} busy, {power.sum():.1f} W")
    print(_hottest_table(model.power_names, block_K, args.top))
    print("die maxima: " + ", ".join(f"{name.split(' (')[0]} {grid.max() - KELVIN_AT_0_C:.1f} °C"
                                     for name, grid in die_maps.items()))
    print(f"wrote {png}, {out / 'demo.steady'}, {out / 'power.ptrace'}, {lcf}")
    print(f"same result with HotSpot: cd {lcf.parent} && hotspot -p ../power.ptrace -grid_layer_file {lcf.name} "
          f"-model_type grid -grid_rows {cells} -grid_cols {cells} -steady_file ../hotspot.steady")
    return 0


def _hottest_table(names: tuple[str, ...], temperatures_K: np.ndarray, top: int) -> str:
    """A markdown table of the ``top`` hottest blocks: rank, block, die (tile layer), temperature in °C."""
    order = np.argsort(-temperatures_K, kind="stable")[:top]
    rows = ["| rank | block | die | temperature (°C) |", "|---:|---|---:|---:|"]
    for rank, k in enumerate(order, start=1):
        die = names[k][1:names[k].index("_")]
        rows.append(f"| {rank} | {names[k]} | {die} | {temperatures_K[k] - KELVIN_AT_0_C:.2f} |")
    return "\n".join(rows)


def add_subcommands(subparsers) -> None:
    """Register ``ailfm demo``."""
    demo = subparsers.add_parser("demo", help="steady state of a system's 3D stack: hottest blocks and layer maps",
                                 description=__doc__.splitlines()[0])
    demo.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (default: out/demo)")
    demo.add_argument("--grid", type=options.GRID_CELLS, default=None,
                      help="grid rows = columns per layer (default: the scenario's, 64)")
    demo.add_argument("--top", type=options.POSITIVE, default=10,
                      help="how many of the hottest blocks to list (default: 10)")
    demo.add_argument("--system", default=None,
                      help="shipped system name or YAML path, as for ailfm simulate (default: the scenario's)")
    demo.add_argument("--scenario", type=Path, default=None,
                      help=f"a scenario YAML like the shipped ailfm/plugins/run/{DEMO_SCENARIO}")
    demo.set_defaults(func=run_demo)
