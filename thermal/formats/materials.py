"""HotSpot materials files (``-materials_file``, ``.materials``).

Blocks of non-comment lines (``materials.c::materials_add_from_file``)::

    <name>
    solid | fluid
    <thermal conductivity, W/(m K)>
    <volumetric heat capacity, J/(m^3 K)>
    <dynamic viscosity, Pa s>          (fluids only)

Materials are referred to by name from ``-material_chip`` and friends, from an LCF's fourth field
and from ``-wall_material`` / ``-coolant_material``. HotSpot's default list is empty.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ailfm.errors import ConfigError, FormatError
from ailfm.thermal.formats._text import format_float, parse_float, significant_lines

KINDS = ("solid", "fluid")


@dataclass(frozen=True)
class Material:
    """A named material; fluids also have a dynamic viscosity, solids have none."""

    name: str
    kind: str
    conductivity_W_per_mK: float
    volumetric_heat_capacity_J_per_m3K: float
    dynamic_viscosity_Pa_s: float | None = None

    def __post_init__(self) -> None:
        if not self.name or any(c.isspace() for c in self.name) or self.name.startswith("#"):
            raise ConfigError("material name", f"{self.name!r} must be one word, not starting with '#'")
        if self.kind not in KINDS:
            raise ConfigError(f"material {self.name!r}", f"kind must be solid or fluid, got {self.kind!r}")
        if (self.kind == "fluid") != (self.dynamic_viscosity_Pa_s is not None):
            raise ConfigError(f"material {self.name!r}", "a fluid needs a dynamic viscosity; a solid has none")
        for label, value in (("conductivity", self.conductivity_W_per_mK),
                             ("volumetric heat capacity", self.volumetric_heat_capacity_J_per_m3K),
                             ("dynamic viscosity", self.dynamic_viscosity_Pa_s)):
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"material {self.name!r}", f"{label} must be finite and >= 0, got {value}")

    @property
    def resistivity_mK_per_W(self) -> float:
        """1 / conductivity, the form LCF files and floorplans use."""
        return 1.0 / self.conductivity_W_per_mK


_FIELDS = ("name", "kind", "thermal conductivity", "volumetric heat capacity", "dynamic viscosity")


def read_materials(path: Path | str) -> dict[str, Material]:
    """Read a materials file into ``{name: Material}`` in file order.

    Errors name the line: unknown kind, non-numeric or negative values, a repeated name (HotSpot
    would silently use the first), extra words on a line, or a file ending inside a material.
    """
    materials: dict[str, Material] = {}
    defined_on: dict[str, int] = {}
    pending: list[str] = []
    start = 0
    for number, tokens in significant_lines(path):
        if len(tokens) != 1:
            raise FormatError(path, number, f"expected one value ({_FIELDS[len(pending)]}), got {len(tokens)} words")
        text = tokens[0]
        if not pending:
            start = number
            if text in materials:
                raise FormatError(path, number, f"material {text!r} already defined on line {defined_on[text]}")
        elif len(pending) == 1 and text not in KINDS:
            raise FormatError(path, number, f"material type must be solid or fluid, got {text!r}")
        elif len(pending) >= 2:
            value = parse_float(path, number, text, f"{_FIELDS[len(pending)]} of {pending[0]!r}")
            if value < 0:
                raise FormatError(path, number, f"{_FIELDS[len(pending)]} of {pending[0]!r} must be >= 0")
        pending.append(text)
        if len(pending) == (4 if pending[1:2] == ["solid"] else 5):
            name, kind, k, c, *viscosity = pending
            materials[name] = Material(name, kind, float(k), float(c), float(viscosity[0]) if viscosity else None)
            defined_on[name] = start
            pending = []
    if pending:
        raise FormatError(path, start, f"material {pending[0]!r} is incomplete: the file ends before its "
                                       f"{_FIELDS[len(pending)]}")
    return materials


def write_materials(path: Path | str, materials: Mapping[str, Material] | list[Material]) -> None:
    """Write materials in HotSpot's block layout, one blank line between materials."""
    items = list(materials.values()) if isinstance(materials, Mapping) else list(materials)
    rows = ["# name / solid|fluid / conductivity W/(m K) / volumetric heat capacity J/(m^3 K) / [viscosity Pa s]"]
    for m in items:
        rows += ["", m.name, m.kind, format_float(m.conductivity_W_per_mK),
                 format_float(m.volumetric_heat_capacity_J_per_m3K)]
        if m.dynamic_viscosity_Pa_s is not None:
            rows.append(format_float(m.dynamic_viscosity_Pa_s))
    Path(path).write_text("\n".join(rows) + "\n")
