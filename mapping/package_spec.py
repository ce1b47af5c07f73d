"""The ``package:`` section of a hardware description: how the chiplets are packaged and cooled, and their static power.

Every field is optional; the defaults and their sources::

    spacing_mm            0.5     gap between neighbouring dies [assumed: CoWoS/EMIB-class 2.5D packages place dies
                                  0.1-1 mm apart]
    edge_margin_mm        1.0     carrier border around the outermost dies [assumed]
    carrier               organic organic (build-up substrate: MCM, or EMIB-like bridges, which the UCIe
                                  advanced-package links of the presets allow) or interposer (silicon, CoWoS-like)
    carrier_thickness_um  auto    organic 1000 [HotSpot 7.0 t_sub, 1 mm]; interposer 100 [TSMC CoWoS: 100 um
                                  interposer, Hou et al., IEEE T-ED 64(10) 2017]
    bond_thickness_um     30      micro-bumps + underfill between the dies and the carrier [assumed: 25-40 um
                                  micro-bump stand-off]
    die_thickness_um      150     HotSpot 7.0's t_chip (0.15 mm)
    tim_thickness_um      20      HotSpot 7.0's t_interface (20 um)
    memory                ddr     ddr: each DRAM channel's PHY + controller sits on the package at the left/right
                                  edge (the DRAM devices are off-package); hbm: each channel is an HBM stack there
    spreader_side_mm      auto    HotSpot's 30 mm, or the carrier's larger side + 4 mm when that is larger [assumed:
                                  a lid overhangs the carrier by 2 mm]
    sink_side_mm          auto    HotSpot's 60 mm, or twice the spreader when that is larger (HotSpot's ratio)
    r_convec_K_per_W      0.1     sink-to-air resistance [HotSpot 7.0 default r_convec]; what the cooling buys
                                  (its cost: money.py)
    ambient_C             45      [HotSpot 7.0 default ambient, 318.15 K]
    t_max_C               85      the highest allowed die temperature [assumed: the commercial 0-85 C junction grade]
    grid_cells            32      grid rows = columns of HotSpot's grid model [HotSpot 7.0 uses 64; 32 x 32 reads die
                                  centres within 0.5-1.2 K of 128 x 128 on the presets: bench/compass_package_hotspot.py
                                  resolution]
    leakage_W_per_mm2     0.02    die leakage at leakage_ref_C per mm^2 of die [assumed: about a fifth of a busy
                                  he-36 chiplet's power, the share of leakage reported at the 45 nm class]
    leakage_ref_C         60      temperature of leakage_W_per_mm2 [assumed, as the co-simulator's leakage_ref_C]
    leakage_beta_per_K    0.017   leakage ~ exp(beta (T - T_ref)), doubling per ~40 K [Liao, He and Lepak, IEEE
                                  TCAD 24(7) 2005; the co-simulator's value]
    idle_W_per_mm2        0.005   dynamic power of an idle, clock-gated die (clock tree, control) [assumed]

Materials (module constants, not fields): silicon k = 100 W/(m K), 1.75e6 J/(m^3 K) [HotSpot 7.0 k_chip, p_chip];
mold compound k = 0.9, 1.8e6 [assumed: epoxy molding compound datasheets give 0.6-1 W/(m K), ~2 g/cm^3 x 0.9 J/(g
K)]; micro-bump layer k = 2.0, 2.0e6 [assumed: effective conductivity of Cu micro-bumps in underfill, 1-6 W/(m K) in
the literature]; organic substrate k = 1.0, 1.8e6 [assumed: build-up resin with copper planes, through-plane]; TIM k =
4.0, 4.0e6 [HotSpot 7.0 k_interface, p_interface]; HBM stack k = 30, 1.75e6 [assumed: DRAM dies with bond layers in
series]; copper lid and sink [HotSpot 7.0 defaults]. HBM stack footprint 7.75 x 11.87 mm [JEDEC HBM2 KGSD outline].
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

from ailfm.files import Lines, known_fields, require

CARRIERS = ("interposer", "organic")
MEMORIES = ("ddr", "hbm")
#: HotSpot's package defaults (HotSpot 7.0 temperature.c): lid and sink sides
HOTSPOT_SPREADER_SIDE_MM, HOTSPOT_SINK_SIDE_MM = 30.0, 60.0
LID_OVERHANG_MM = 2.0
HBM_STACK_MM = (7.75, 11.87)
CARRIER_THICKNESS_UM = {"organic": 1000.0, "interposer": 100.0}
ZERO_CELSIUS_K = 273.15

#: (resistivity m K/W, volumetric heat capacity J/(m^3 K)) by material; sources in the module docstring
MATERIALS = {
    "silicon": (1 / 100.0, 1.75e6),
    "mold": (1 / 0.9, 1.8e6),
    "bond": (1 / 2.0, 2.0e6),
    "organic": (1 / 1.0, 1.8e6),
    "tim": (1 / 4.0, 4.0e6),
    "hbm": (1 / 30.0, 1.75e6),
}


@dataclass(frozen=True)
class PackageSpec:
    """A hardware description's ``package:`` section, validated (defaults and sources: the module docstring).

    ``ambient_K``, ``t_max_K`` and ``leakage_ref_K`` give the three temperatures in kelvin."""

    ambient_K: ClassVar[float]
    t_max_K: ClassVar[float]
    leakage_ref_K: ClassVar[float]

    spacing_mm: float = 0.5
    edge_margin_mm: float = 1.0
    carrier: str = "organic"
    carrier_thickness_um: float | None = None
    bond_thickness_um: float = 30.0
    die_thickness_um: float = 150.0
    tim_thickness_um: float = 20.0
    memory: str = "ddr"
    spreader_side_mm: float | None = None
    sink_side_mm: float | None = None
    r_convec_K_per_W: float = 0.1
    ambient_C: float = 45.0
    t_max_C: float = 85.0
    grid_cells: int = 32
    leakage_W_per_mm2: float = 0.02
    leakage_ref_C: float = 60.0
    leakage_beta_per_K: float = 0.017
    idle_W_per_mm2: float = 0.005

    @property
    def carrier_thickness_m(self) -> float:
        default = CARRIER_THICKNESS_UM[self.carrier]
        return (default if self.carrier_thickness_um is None else self.carrier_thickness_um) * 1e-6

    def __post_init__(self):
        # the temperatures in kelvin, as the thermal model takes them: ambient_K, t_max_K, leakage_ref_K
        for name in ("ambient", "t_max", "leakage_ref"):
            object.__setattr__(self, f"{name}_K", getattr(self, f"{name}_C") + ZERO_CELSIUS_K)


#: numeric fields: (lowest, highest, inclusive lowest), bounds that catch unit mistakes
BOUNDS = {
    "spacing_mm": (0.0, 50.0, True),
    "edge_margin_mm": (0.0, 50.0, True),
    "carrier_thickness_um": (0.0, 5000.0, False),
    "bond_thickness_um": (0.0, 1000.0, False),
    "die_thickness_um": (0.0, 2000.0, False),
    "tim_thickness_um": (0.0, 1000.0, False),
    "spreader_side_mm": (0.0, 500.0, False),
    "sink_side_mm": (0.0, 1000.0, False),
    "r_convec_K_per_W": (0.0, 100.0, False),
    "ambient_C": (-60.0, 150.0, True),
    "t_max_C": (-60.0, 250.0, False),
    "grid_cells": (4, 256, True),
    "leakage_W_per_mm2": (0.0, 10.0, True),
    "leakage_ref_C": (-60.0, 250.0, True),
    "leakage_beta_per_K": (0.0, 0.2, True),
    "idle_W_per_mm2": (0.0, 10.0, True),
}
CHOICES = {"carrier": CARRIERS, "memory": MEMORIES}


def package_from_dict(doc: object, lines: Lines, prefix: str = "package") -> PackageSpec:
    """Validate a ``package:`` mapping; every error names ``package.<field>`` and its line."""
    if not isinstance(doc, dict):
        raise lines.error(prefix, "expected a mapping of package fields")
    known_fields(doc, [f.name for f in fields(PackageSpec)], lines, prefix)
    values: dict[str, object] = {}
    for name, value in doc.items():
        where = f"{prefix}.{name}"
        if name in CHOICES:
            text = require(doc, name, lines, str, prefix=prefix)
            if text not in CHOICES[name]:
                raise lines.error(where, f"must be one of {', '.join(CHOICES[name])}, got {text!r}")
            values[name] = text
            continue
        low, high, inclusive = BOUNDS[name]
        number = require(doc, name, lines, int if name == "grid_cells" else float, prefix=prefix)
        if number < low or (number == low and not inclusive) or number > high:
            raise lines.error(where, f"must be in {'[' if inclusive else '('}{low:g}, {high:g}], got {value!r}")
        values[name] = number
    spec = PackageSpec(**values)
    if spec.t_max_C <= spec.ambient_C:
        raise lines.error(f"{prefix}.t_max_C", f"must be above the ambient ({spec.ambient_C:g} C), got "
                                               f"{spec.t_max_C:g}")
    if spec.spreader_side_mm is not None and spec.sink_side_mm is not None \
            and spec.sink_side_mm < spec.spreader_side_mm:
        raise lines.error(f"{prefix}.sink_side_mm", f"must be at least the spreader's {spec.spreader_side_mm:g} mm, "
                                                    f"got {spec.sink_side_mm:g}")
    return spec


def package_to_dict(spec: PackageSpec) -> dict:
    """The ``package:`` mapping ``package_from_dict`` reads back: the fields that differ from their defaults."""
    default = PackageSpec()
    return {f.name: getattr(spec, f.name) for f in fields(PackageSpec) if getattr(spec, f.name) != getattr(default,
                                                                                                        f.name)}
