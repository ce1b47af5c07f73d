"""The thermal model of a system: the exact grid model of its 3D stack, the fast reduced-order model of it, or real
HotSpot run on the same grid each epoch.

The stack comes from the thermal subsystem's floorplan generator (``ailfm.thermal.floorplan_gen``): one silicon layer
of tiles (core + LLC banks) per die, a TIM/bond layer after each, layer 0 farthest from the heat sink, HotSpot's
default package (spreader, sink, convection) above the top layer. ``ChipThermal`` ties the model's power and
temperature columns to cores and banks, and spreads router power over its tile's core block.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ailfm.errors import ConfigError
from ailfm.plugins.system.description import SystemDescription
from ailfm.thermal.base import LinearThermal, ThermalModel
from ailfm.thermal.rom import ReducedOrderThermalModel, load_or_build

THERMAL_KINDS = ("fast", "grid", "hotspot")


def chip_stack(system: SystemDescription):
    """The floorplan generator's description of a system's stack."""
    from ailfm.thermal.floorplan_gen import ChipStack

    g, stack = system.geometry, system.thermal.stack
    return ChipStack(
        name=system.name, tile_layers=g.layers, tile_rows=g.tiles_y, tile_cols=g.tiles_x,
        tile_width_m=g.tile_width_mm * 1e-3, tile_height_m=g.tile_height_mm * 1e-3,
        core_fraction=g.core_height_fraction, banks_per_tile=system.llc.banks_per_tile,
        silicon_thickness_m=stack.silicon_thickness_um * 1e-6,
        top_silicon_thickness_m=stack.top_silicon_thickness_um * 1e-6,
        silicon_specific_heat_J_per_m3K=stack.silicon_heat_capacity_J_per_m3K,
        silicon_resistivity_mK_per_W=stack.silicon_resistivity_mK_per_W, tim_layers=True,
        tim_thickness_m=stack.tim_thickness_um * 1e-6, tim_specific_heat_J_per_m3K=stack.tim_heat_capacity_J_per_m3K,
        tim_resistivity_mK_per_W=stack.tim_resistivity_mK_per_W)


def engine_power_patterns(system: SystemDescription, power_names: tuple[str, ...]) -> np.ndarray:
    """The power maps the built-in engine produces: each core on its own, all LLC banks alike (static interleaving
    spreads accesses evenly), as columns over ``power_names``."""
    xyz = system.geometry.tile_coordinates()
    cores = _columns(power_names, [f"L{z}_core_{x}_{y}" for x, y, z in xyz], "power")
    banks = _columns(power_names, [f"L{z}_bank{k}_{x}_{y}" for x, y, z in xyz
                                   for k in range(system.llc.banks_per_tile)], "power")
    patterns = np.zeros((len(power_names), len(cores) + 1))
    patterns[cores, np.arange(len(cores))] = 1.0
    patterns[banks, -1] = 1.0
    return patterns


def grid_config(system: SystemDescription, cells: int | None = None):
    """HotSpot's configuration of the stack's grid model: ``cells x cells`` per layer, HotSpot's default package,
    the system's ambient as the initial temperature."""
    from ailfm.thermal.formats import HotSpotConfig

    cells = cells or system.thermal.stack.grid_cells
    return HotSpotConfig().with_flags({
        "model_type": "grid", "grid_rows": str(cells), "grid_cols": str(cells),
        "ambient": str(system.thermal.ambient_K), "init_temp": str(system.thermal.ambient_K)}, source=system.path)


def _with_stack(system: SystemDescription, cells: int | None, build):
    """``build(config, layers)`` over the generator's .flp/.lcf files of the stack, written once."""
    from ailfm.thermal.floorplan_gen import write_stack
    from ailfm.thermal.formats import read_lcf

    with tempfile.TemporaryDirectory(prefix="ailfm-stack-") as folder:
        lcf = write_stack(chip_stack(system), Path(folder))
        return build(grid_config(system, cells), read_lcf(lcf))


def grid_circuit(system: SystemDescription, cells: int | None = None):
    """HotSpot's grid circuit of the stack (``cells x cells`` per layer), via the generator's .flp/.lcf files."""
    from ailfm.thermal.grid import build_grid_circuit

    return _with_stack(system, cells, lambda config, layers: build_grid_circuit(config, layers=layers))


def build_thermal(system: SystemDescription, kind: str = "fast", *, cells: int | None = None,
                  moments: int = 4, solver: str = "auto") -> ThermalModel:
    """The thermal model the loop steps, at ambient: ``grid`` (exact), ``fast`` (reduced order of the same grid) or
    ``hotspot`` (a real HotSpot binary run each epoch on the same grid; ``$HOTSPOT`` or ``hotspot`` on ``PATH``).

    The fast model is cached on disk (``rom_cache_path``): its reduction takes seconds, a load milliseconds.
    """
    if kind not in THERMAL_KINDS:
        raise ConfigError("thermal", f"unknown thermal model {kind!r}; known: {', '.join(THERMAL_KINDS)}")
    if kind == "hotspot":
        from ailfm.thermal.hotspot_grid import HotSpotGridModel

        return _with_stack(system, cells, HotSpotGridModel)
    ambient_K = system.thermal.ambient_K
    if kind == "fast":
        def reduce() -> ReducedOrderThermalModel:
            circuit = grid_circuit(system, cells)
            return ReducedOrderThermalModel(circuit, ambient_K=ambient_K, moments=moments,
                                            input_patterns=engine_power_patterns(system, circuit.power_names))

        return load_or_build(rom_cache_path(system, cells, moments), reduce)
    circuit = grid_circuit(system, cells)
    from ailfm.thermal.model import CircuitThermalModel

    return CircuitThermalModel(circuit, solver, ambient_K=ambient_K, init=ambient_K)


def rom_cache_path(system: SystemDescription, cells: int | None, moments: int) -> Path | None:
    """Where the fast model of this stack is cached: ``$AILFM_CACHE`` (default ``~/.cache/ailfm``) ``/rom-<key>.npz``,
    the key hashing everything the reduction reads (the stack, the grid, the ambient, the order, and the source of
    the code that builds it), so a changed input or changed code never loads a stale model. ``AILFM_CACHE=off``
    disables it."""
    import hashlib
    import os

    root = os.environ.get("AILFM_CACHE", "~/.cache/ailfm")
    if root == "off":
        return None
    import ailfm.thermal as thermal_package

    sources = Path(thermal_package.__file__).parent
    digest = hashlib.sha256(repr((chip_stack(system), cells or system.thermal.stack.grid_cells, moments,
                                  system.thermal.ambient_K)).encode())
    for name in ("rom.py", "grid.py", "network.py", "floorplan_gen.py", "formats/lcf.py", "formats/flp.py",
                 "formats/config.py"):
        source = sources / name
        if source.is_file():
            digest.update(source.read_bytes())
    digest.update(Path(__file__).read_bytes())
    return Path(root).expanduser() / f"rom-{digest.hexdigest()[:24]}.npz"


@dataclass(frozen=True, eq=False)
class ChipThermal:
    """Where cores and banks sit in a thermal model's power and temperature vectors."""

    model: ThermalModel
    core_power_column: np.ndarray  # (n_cores,)
    bank_power_column: np.ndarray  # (n_banks,), bank b = tile * banks_per_tile + k
    core_output: np.ndarray  # (n_cores,)
    bank_output: np.ndarray  # (n_banks,)

    @classmethod
    def of(cls, system: SystemDescription, model: ThermalModel) -> ChipThermal:
        xyz = system.geometry.tile_coordinates()
        cores = [f"L{z}_core_{x}_{y}" for x, y, z in xyz]
        banks = [f"L{z}_bank{k}_{x}_{y}" for x, y, z in xyz for k in range(system.llc.banks_per_tile)]
        return cls(model, _columns(model.power_names, cores, "power"), _columns(model.power_names, banks, "power"),
                   _columns(model.output_names, cores, "output"), _columns(model.output_names, banks, "output"))

    def power_vector(self, core_W: np.ndarray, bank_W: np.ndarray, router_W: np.ndarray) -> np.ndarray:
        """The model's power input; a tile's router heats its core block (the floorplan has no router block)."""
        power = np.zeros(len(self.model.power_names))
        power[self.core_power_column] = core_W + router_W
        power[self.bank_power_column] = bank_W
        return power

    def thermal_resistance_K_per_W(self) -> tuple[np.ndarray, np.ndarray]:
        """Steady core temperature rise per watt: (core <- core, core <- bank), from steady solves of the model."""
        gain = getattr(self.model, "steady_gain_K_per_W", None)
        if gain is None:
            n_power = len(self.model.power_names)
            unit = np.eye(n_power)
            gain = np.stack([self.model.steady(unit[j]) - self.model.ambient_K for j in range(n_power)], axis=1)
        core_rows = gain[self.core_output]
        return core_rows[:, self.core_power_column], core_rows[:, self.bank_power_column]


def _columns(names: tuple[str, ...], wanted: list[str], what: str) -> np.ndarray:
    index = {name: i for i, name in enumerate(names)}
    missing = [name for name in wanted if name not in index]
    if missing:
        raise ConfigError("thermal", f"the thermal model has no {what} column for {missing[0]} "
                                     f"({len(missing)} missing); is it the system's stack?")
    return np.array([index[name] for name in wanted])


@dataclass(frozen=True, eq=False)
class ThermalTwin:
    """A linear thermal model's step restricted to the chip: ``z <- decay * z + core_gain @ p_core + bank_gain *
    p_bank`` and ``T_core = ambient + core_output @ z`` (``ailfm.thermal.base.LinearView`` with the power maps the
    engine produces: each core on its own, all banks alike).

    The epoch model steps it (``plugins/epoch/model.py``); a model-predictive governor (the shield) keeps its own copy
    of the state, stepped with the powers it observes; under ``--thermal grid`` or gem5 it is the fast model of the
    same stack, and the governor corrects its offset from the measured temperatures.
    """

    ambient_K: float
    decay: np.ndarray  # (order,)
    core_gain: np.ndarray  # (order, n_cores) modal forcing of one step per watt of each core block
    bank_gain: np.ndarray  # (order,) the same for one watt in every LLC bank (the loop's banks share the uncore power)
    core_output: np.ndarray  # (n_cores, order)

    @classmethod
    def of(cls, system: SystemDescription, thermal: ThermalModel, dt_s: float | None = None) -> ThermalTwin:
        """A step of ``dt_s`` (default: one governor epoch) of the loop's model when it is linear, else of a fast
        model of the same stack."""
        linear = thermal if isinstance(thermal, LinearThermal) else build_thermal(system, "fast")
        chip = ChipThermal.of(system, linear)
        view = linear.linear_view(system.thermal.epoch_s if dt_s is None else dt_s)
        return cls(view.ambient_K, view.decay, np.ascontiguousarray(view.gain[:, chip.core_power_column]),
                   np.ascontiguousarray(view.gain[:, chip.bank_power_column].sum(axis=1)),
                   np.ascontiguousarray(view.output[chip.core_output]))
