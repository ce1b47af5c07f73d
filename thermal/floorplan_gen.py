"""Floorplans and the LCF of a 3D-stacked S-NUCA many-core, from a short chip description.

The stack, in HotSpot's LCF order (layer 0 farthest from the heat sink; HotSpot appends its
spreader and sink after the last LCF layer, so the last layer touches the spreader)::

    LCF 0      silicon tile layer 0   layer0.flp   power: cores and LLC banks of tile layer 0
    LCF 1      TIM / bond layer 0     tim0.flp     one block covering the die, no power
    LCF 2      silicon tile layer 1   layer1.flp
    ...
    LCF 2n-1   TIM layer n-1          tim{n-1}.flp (between the top die and the spreader)

Each tile is split into a core (the lower ``core_fraction`` of the tile's height, full width) and
``banks_per_tile`` LLC banks side by side in the strip above it. Tile (x, y) of tile layer L sits at
column x from the left and row y from the bottom; its blocks are named ``L{L}_core_{x}_{y}`` and
``L{L}_bank{k}_{x}_{y}``, the names the co-simulator uses for power and temperature.

In HotSpot's grid model with an LCF the package adds no TIM of its own (t_interface is used only by
the block model and the default two-layer grid), so the TIM after the top die is part of the LCF,
as in HotSpot's example3 and CoMeT's ``config/hotspot/3D/stack.lcf``.

``ChipStack`` has no default sizes or materials: every one is given, so there is one description of a chip. The
project's chips are its system descriptions (``gem5_configs/systems/*.yaml``, which cite the source of every value);
``ailfm.plugins.epoch.chip_thermal.chip_stack`` turns one into a ``ChipStack``, and ``ailfm demo`` and
``ailfm simulate`` both go through it. This package knows no system description, so that it stays a HotSpot-compatible
library; a standalone stack is written as a YAML mapping of every field (``load_chip_stack``).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from ailfm.errors import ConfigError
from ailfm.thermal.formats.flp import Block, Floorplan, write_flp
from ailfm.thermal.formats.lcf import LcfLayer, write_lcf


@dataclass(frozen=True)
class ChipStack:
    """A stack of identical silicon tile layers, each followed (toward the heat sink) by a TIM layer.

    Validated on construction; ``from_dict`` / ``load_chip_stack`` build one from YAML-like data naming every field.
    """

    name: str
    tile_layers: int                                  # silicon dies; tile layer 0 is farthest from the sink
    tile_rows: int                                    # tiles per column of a layer (y)
    tile_cols: int                                    # tiles per row of a layer (x)
    tile_width_m: float
    tile_height_m: float
    core_fraction: float                              # share of the tile height taken by the core (bottom strip)
    banks_per_tile: int                               # LLC banks side by side above the core
    silicon_thickness_m: float                        # every die but the one nearest the sink
    top_silicon_thickness_m: float                    # the die nearest the sink
    silicon_specific_heat_J_per_m3K: float
    silicon_resistivity_mK_per_W: float
    tim_thickness_m: float
    tim_specific_heat_J_per_m3K: float
    tim_resistivity_mK_per_W: float
    tim_layers: bool = True                           # a TIM/bond layer after every die (toward the sink)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ConfigError(f.name, f"must be a non-negative integer, got {value!r}")
            if f.type == "float" and (isinstance(value, bool) or not isinstance(value, int | float)
                                      or not math.isfinite(value) or value <= 0):
                raise ConfigError(f.name, f"must be a positive number, got {value!r}")
        for name in ("tile_layers", "tile_rows", "tile_cols"):
            if getattr(self, name) < 1:
                raise ConfigError(name, "must be at least 1")
        if not 0 < self.core_fraction <= 1:
            raise ConfigError("core_fraction", f"must be in (0, 1], got {self.core_fraction}")
        if (self.core_fraction == 1) != (self.banks_per_tile == 0):
            raise ConfigError("core_fraction", "the core fills the tile (1.0) exactly when there are no banks "
                                               f"(banks_per_tile = {self.banks_per_tile})")
        if not self.name or any(c.isspace() or c == "/" for c in self.name):
            raise ConfigError("name", f"must be one word without '/', got {self.name!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>") -> ChipStack:
        """Build from a mapping of field names; unknown names and bad values raise ConfigError."""
        known = {f.name: f for f in fields(cls)}
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(str(key), list(known), n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(known)}"
                raise ConfigError(str(key), f"unknown chip-stack field{hint}", path=source)
        missing = [f.name for f in known.values() if f.name not in data and f.default is dataclasses.MISSING]
        if missing:
            raise ConfigError(missing[0], f"missing chip-stack field (missing: {', '.join(missing)})", path=source)
        values = {}
        for key, value in data.items():
            kind = known[key].type
            if kind == "float" and isinstance(value, int | float) and not isinstance(value, bool):
                value = float(value)
            elif kind == "bool" and not isinstance(value, bool):
                raise ConfigError(key, f"must be true or false, got {value!r}", path=source)
            elif kind == "str" and not isinstance(value, str):
                raise ConfigError(key, f"must be a string, got {value!r}", path=source)
            values[key] = value
        try:
            return cls(**values)
        except ConfigError as err:
            raise ConfigError(err.field, err.reason, path=source) from None

    @property
    def die_width_m(self) -> float:
        return self.tile_cols * self.tile_width_m

    @property
    def die_height_m(self) -> float:
        return self.tile_rows * self.tile_height_m

    @property
    def n_cores(self) -> int:
        return self.tile_layers * self.tile_rows * self.tile_cols

    @property
    def n_banks(self) -> int:
        return self.n_cores * self.banks_per_tile

    def core_name(self, layer: int, x: int, y: int) -> str:
        return f"L{layer}_core_{x}_{y}"

    def bank_name(self, layer: int, bank: int, x: int, y: int) -> str:
        return f"L{layer}_bank{bank}_{x}_{y}"

    def power_names(self) -> tuple[str, ...]:
        """Every block that dissipates power, in LCF and file order (the ptrace columns HotSpot expects)."""
        return tuple(b.name for fp, layer in zip(*build_stack(self), strict=True) if layer.has_power for b in fp)


def load_chip_stack(path: Path | str) -> ChipStack:
    """Read a ChipStack from a YAML mapping of field names (ConfigError naming the file)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError("chip stack", "file not found", path=path) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise ConfigError("chip stack", f"invalid YAML: {getattr(err, 'problem', err)}", path=path,
                          line=None if mark is None else mark.line + 1) from None
    if not isinstance(data, Mapping):
        raise ConfigError("chip stack", "expected a mapping of field: value", path=path)
    return ChipStack.from_dict(data, source=str(path))


def tile_layer_floorplan(chip: ChipStack, layer: int) -> Floorplan:
    """Cores and banks of tile layer ``layer``, tile by tile (x fastest), each tile's core first."""
    core_h = chip.tile_height_m * chip.core_fraction
    bank_h = chip.tile_height_m - core_h
    bank_w = chip.tile_width_m / chip.banks_per_tile if chip.banks_per_tile else 0.0
    blocks = []
    for y in range(chip.tile_rows):
        for x in range(chip.tile_cols):
            left, bottom = x * chip.tile_width_m, y * chip.tile_height_m
            blocks.append(Block(chip.core_name(layer, x, y), chip.tile_width_m, core_h, left, bottom))
            for k in range(chip.banks_per_tile):
                # the last bank ends exactly at the tile edge, so rounding leaves no sliver between tiles
                right = left + chip.tile_width_m if k == chip.banks_per_tile - 1 else left + (k + 1) * bank_w
                bank_left = left + k * bank_w
                blocks.append(Block(chip.bank_name(layer, k, x, y), right - bank_left, bank_h, bank_left,
                                    bottom + core_h))
    return Floorplan(tuple(blocks))


def tim_floorplan(chip: ChipStack, layer: int) -> Floorplan:
    """One block covering the die: the TIM after tile layer ``layer``."""
    return Floorplan((Block(f"TIM{layer}", chip.die_width_m, chip.die_height_m, 0.0, 0.0),))


def build_stack(chip: ChipStack, out_dir: Path | str = ".") -> tuple[list[Floorplan], list[LcfLayer]]:
    """The floorplans and LCF layers of ``chip`` in LCF order, without touching the disk.

    ``floorplans[i]`` belongs to ``layers[i]``, whose ``floorplan_path`` is ``out_dir / <file name>``.
    """
    out_dir = Path(out_dir)
    floorplans: list[Floorplan] = []
    layers: list[LcfLayer] = []
    for k in range(chip.tile_layers):
        thickness = chip.top_silicon_thickness_m if k == chip.tile_layers - 1 else chip.silicon_thickness_m
        floorplans.append(tile_layer_floorplan(chip, k))
        layers.append(LcfLayer(len(layers), True, True, chip.silicon_specific_heat_J_per_m3K,
                               chip.silicon_resistivity_mK_per_W, thickness, out_dir / f"layer{k}.flp"))
        if chip.tim_layers:
            floorplans.append(tim_floorplan(chip, k))
            layers.append(LcfLayer(len(layers), True, False, chip.tim_specific_heat_J_per_m3K,
                                   chip.tim_resistivity_mK_per_W, chip.tim_thickness_m, out_dir / f"tim{k}.flp"))
    return floorplans, layers


def write_stack(chip: ChipStack, out_dir: Path | str) -> Path:
    """Write one ``.flp`` per LCF layer and ``stack.lcf`` into ``out_dir``; return the LCF's path.

    Run HotSpot with ``-model_type grid -grid_layer_file stack.lcf`` from ``out_dir`` (HotSpot opens
    floorplans relative to its working directory); the built-in solver resolves them itself.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    floorplans, layers = build_stack(chip, out_dir)
    for floorplan, layer in zip(floorplans, layers, strict=True):
        write_flp(layer.floorplan_path, floorplan)
    lcf_path = out_dir / "stack.lcf"
    write_lcf(lcf_path, layers)
    return lcf_path


def chip_stack_to_dict(chip: ChipStack) -> dict[str, Any]:
    """The field mapping ``ChipStack.from_dict`` reads back (for writing YAML)."""
    return dataclasses.asdict(chip)
