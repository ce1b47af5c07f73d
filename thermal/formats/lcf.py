"""HotSpot layer configuration files (``.lcf``, ``-grid_layer_file``) describing 3D stacks.

Per layer, seven non-comment lines (``temperature_grid.c::parse_layer_file``, ``LCF_NPARAMS``)::

    <layer number>                      0, 1, ... ; layer 0 is farthest from the heat sink
    <lateral heat flow>                 Y | N
    <power dissipation>                 Y | N   (Y: its floorplan's blocks are ptrace columns)
    <volumetric heat capacity J/(m^3 K)>   -- or a material name from -materials_file, which
    <resistivity (m K)/W>                     then also gives the resistivity (this line is absent)
    <thickness m>
    <floorplan file>

HotSpot appends its spreader and sink after the last layer, so the last layer touches the TIM /
spreader. Every layer's floorplan must have the same width and height ("width and height differ
across layers"). HotSpot opens floorplan paths relative to its working directory; we resolve them
relative to the LCF's folder, which is the same thing when HotSpot runs there (as in every example).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ailfm.errors import ConfigError, FormatError
from ailfm.thermal.formats._text import format_float, parse_float, significant_lines
from ailfm.thermal.formats.flp import Floorplan, read_flp
from ailfm.thermal.formats.materials import Material

# HotSpot's eq() tolerance (util.h DELTA) for "width and height differ across layers", in metres.
DIE_SIZE_TOLERANCE_m = 1e-6

# microchannel.h NETWORK_EXTENSION: such a layer names a microchannel network instead of a floorplan.
MICROCHANNEL_EXTENSION = ".csv"

_YES = {"y": True, "yes": True, "n": False, "no": False}


@dataclass(frozen=True)
class LcfLayer:
    """One layer of a 3D stack; ``floorplan_path`` is absolute or relative to the working directory.

    ``floorplan`` is the floorplan ``read_lcf`` parsed while checking the file (None otherwise), so the grid model
    does not parse it a second time.
    """

    number: int
    lateral_heat_flow: bool
    has_power: bool
    specific_heat_J_per_m3K: float
    resistivity_mK_per_W: float
    thickness_m: float
    floorplan_path: Path
    floorplan: Floorplan | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "floorplan_path", Path(self.floorplan_path))
        if self.number < 0:
            raise ConfigError("layer number", f"must be >= 0, got {self.number}")
        for label, value in (("specific heat", self.specific_heat_J_per_m3K),
                             ("resistivity", self.resistivity_mK_per_W), ("thickness", self.thickness_m)):
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"layer {self.number} {label}", f"must be positive, got {value}")

    @property
    def conductivity_W_per_mK(self) -> float:
        return 1.0 / self.resistivity_mK_per_W

    @property
    def is_microchannel(self) -> bool:
        """Whether the "floorplan" is a microchannel network (HotSpot: the name contains ``.csv``)."""
        return MICROCHANNEL_EXTENSION in self.floorplan_path.name


def read_lcf(path: Path | str, materials: Mapping[str, Material] | None = None) -> list[LcfLayer]:
    """Read an LCF; check numbering, values, that every floorplan exists and parses, and die sizes agree.

    ``materials`` resolves layers that name a material instead of giving numbers.
    """
    path = Path(path)
    layers: list[LcfLayer] = []
    fields: list[object] = []
    die: tuple[float, float, int] | None = None
    for number, tokens in significant_lines(path):
        if len(tokens) != 1:
            raise FormatError(path, number, f"expected one value per line, got {len(tokens)} words")
        text = tokens[0]
        stage = len(fields)
        if stage == 0:
            if not text.lstrip("-").isdigit():
                raise FormatError(path, number, f"invalid layer number {text!r}")
            if int(text) != len(layers):
                raise FormatError(path, number, f"layer number {text} out of order: expected {len(layers)} "
                                                f"(layers are numbered 0, 1, ... from the one farthest from the sink)")
            fields.append(int(text))
        elif stage in (1, 2):
            if text.lower() not in _YES:
                what = "lateral heat flow" if stage == 1 else "power dissipation"
                raise FormatError(path, number, f"invalid {what} indicator {text!r}: expected Y or N")
            fields.append(_YES[text.lower()])
        elif stage == 3:
            try:
                fields.append(parse_float(path, number, text, "specific heat"))
            except FormatError:
                material = _material(path, number, text, materials)
                fields += [material.volumetric_heat_capacity_J_per_m3K, material.resistivity_mK_per_W]
        elif stage in (4, 5):
            what = "resistivity" if stage == 4 else "thickness"
            value = parse_float(path, number, text, what)
            if not value > 0:
                raise FormatError(path, number, f"layer {fields[0]} {what}: must be positive, got {value:g}")
            fields.append(value)
        else:
            floorplan_path = path.parent / text
            if not floorplan_path.is_file():
                raise FormatError(path, number, f"floorplan file {text!r} not found (looked for {floorplan_path})")
            try:
                layer = LcfLayer(*fields, floorplan_path)
            except ConfigError as err:
                raise FormatError(path, number, f"{err.field}: {err.reason}") from None
            layers.append(layer)
            fields = []
            if layer.is_microchannel:
                continue
            floorplan = read_flp(floorplan_path)
            layers[-1] = replace(layer, floorplan=floorplan)
            if die is None:
                die = (floorplan.width_m, floorplan.height_m, number)
            elif (abs(floorplan.width_m - die[0]) >= DIE_SIZE_TOLERANCE_m
                  or abs(floorplan.height_m - die[1]) >= DIE_SIZE_TOLERANCE_m):
                raise FormatError(path, number, f"floorplan {text!r} is {floorplan.width_m:g} x "
                                                f"{floorplan.height_m:g} m but the first floorplan's (line {die[2]}) "
                                                f"is {die[0]:g} x {die[1]:g} m: width and height differ across layers")
    if fields:
        raise FormatError(path, None, f"layer {fields[0]} is incomplete: the file ends after {len(fields)} of its "
                                      f"7 lines")
    if not layers:
        raise FormatError(path, None, "no layers")
    if not any(layer.has_power for layer in layers):
        raise FormatError(path, None, "no layer dissipates power (every power-dissipation indicator is N)")
    return layers


def _material(path: Path, line: int, name: str, materials: Mapping[str, Material] | None) -> Material:
    if materials is None:
        raise FormatError(path, line, f"specific heat {name!r} is neither a number nor, without a materials "
                                      f"file, a material name")
    if name not in materials:
        raise FormatError(path, line, f"material {name!r} not in the materials file (known: "
                                      f"{', '.join(materials) or 'none'})")
    return materials[name]


def write_lcf(path: Path | str, layers: Sequence[LcfLayer]) -> None:
    """Write ``layers`` (numbered 0..n-1 in order) with floorplan paths relative to the LCF's folder."""
    path = Path(path)
    rows = ["# HotSpot layer configuration: number / lateral heat flow Y|N / power Y|N / volumetric heat "
            "capacity J/(m^3 K) / resistivity (m K)/W / thickness m / floorplan",
            "# layer 0 is farthest from the heat sink; the spreader and sink follow the last layer"]
    for k, layer in enumerate(layers):
        if layer.number != k:
            raise ConfigError("layer number", f"layer {k} is numbered {layer.number}; number layers 0..n-1 in order")
        floorplan = Path(os.path.relpath(layer.floorplan_path.resolve(), path.parent.resolve()))
        rows += ["", f"# layer {k}", str(k), "Y" if layer.lateral_heat_flow else "N", "Y" if layer.has_power else "N",
                 format_float(layer.specific_heat_J_per_m3K), format_float(layer.resistivity_mK_per_W),
                 format_float(layer.thickness_m), floorplan.as_posix()]
    path.write_text("\n".join(rows) + "\n")
