"""A 2.5D package in HotSpot's formats: dies side by side on a carrier, under a lid (spreader) and a heat sink.

The stack, in HotSpot's LCF order (layer 0 farthest from the heat sink; HotSpot appends its spreader and sink after
the last LCF layer)::

    LCF 0   carrier   carrier.flp   interposer or substrate, one block over the footprint, no power
    LCF 1   bond      bond.flp      micro-bumps and underfill between the dies and the carrier, one block, no power
    LCF 2   dies      dies.flp      the dies (power) and filler blocks (mold) tiling the rest of the footprint
    LCF 3   tim       tim.flp       thermal interface material between the dies and the lid, one block, no power

The dies face the carrier (flip-chip), so their heat leaves upward through the TIM to the lid and the sink, and
spreads sideways through the carrier below (HotSpot's primary heat path; the carrier's bottom is adiabatic). Every
block of the die layer carries its own material (the 7-field ``.flp`` form) and the package runs with
``-detailed_3D on``, so a die, a DRAM stack and the mold between them each conduct as themselves. The filler blocks
tile the footprint exactly (HotSpot weights a partly covered cell's conductivity by occupancy: a gap would conduct
nothing); they are named ``fill{k}`` and dissipate no power.

As in ``floorplan_gen``, the TIM is an LCF layer: HotSpot's grid model with an LCF adds no interface layer of its own.
This module knows no accelerator description: the Compass hardware is translated into a ``ChipletPackage`` by
``ailfm.mapping.package``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ailfm.errors import ConfigError
from ailfm.thermal.formats.config import HotSpotConfig, write_config
from ailfm.thermal.formats.flp import Block, Floorplan, write_flp
from ailfm.thermal.formats.lcf import LcfLayer, write_lcf
from ailfm.thermal.network import ThermalCircuit

LAYER_FILES = ("carrier.flp", "bond.flp", "dies.flp", "tim.flp")
DIE_LAYER = 2
LCF_NAME = "package.lcf"
FILLER_PREFIX = "fill"


@dataclass(frozen=True)
class Slab:
    """A uniform material sheet: thickness (m), thermal resistivity (m K/W), volumetric heat capacity (J/(m^3 K))."""

    thickness_m: float
    resistivity_mK_per_W: float
    specific_heat_J_per_m3K: float

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigError(f.name, f"must be a positive number, got {value!r}")


@dataclass(frozen=True)
class Die:
    """One die of the die layer: its outline (m, bottom-left origin) and its material (``thickness_m`` unused: the
    die layer has one thickness)."""

    name: str
    left_m: float
    bottom_m: float
    width_m: float
    height_m: float
    material: Slab

    def block(self) -> Block:
        return Block(self.name, self.width_m, self.height_m, self.left_m, self.bottom_m,
                     self.material.specific_heat_J_per_m3K, self.material.resistivity_mK_per_W)


@dataclass(frozen=True)
class ChipletPackage:
    """Dies on a ``width_m x height_m`` carrier, the layers around them and the cooling, in HotSpot's terms.

    ``spreader_*``/``sink_*`` are HotSpot's ``s_/t_/k_/p_`` flags (copper by default, HotSpot 7.0's values);
    ``r_convec_K_per_W``/``c_convec_J_per_K`` its sink-to-air resistance and capacitance. The grid has
    ``grid_rows x grid_cols`` cells per layer; block temperatures are read at the block's centre cells (HotSpot's
    default ``grid_map_mode center``: a uniformly powered die is hottest at its centre)."""

    name: str
    width_m: float
    height_m: float
    dies: tuple[Die, ...]
    carrier: Slab
    bond: Slab
    die_thickness_m: float
    filler: Slab  # thickness unused (the die layer's)
    tim: Slab
    spreader_side_m: float
    sink_side_m: float
    r_convec_K_per_W: float
    ambient_K: float
    grid_rows: int = 64
    grid_cols: int = 64
    spreader_thickness_m: float = 1e-3
    spreader_conductivity_W_per_mK: float = 400.0
    spreader_specific_heat_J_per_m3K: float = 3.55e6
    sink_thickness_m: float = 6.9e-3
    sink_conductivity_W_per_mK: float = 400.0
    sink_specific_heat_J_per_m3K: float = 3.55e6
    c_convec_J_per_K: float = 140.4

    def __post_init__(self):
        object.__setattr__(self, "dies", tuple(self.dies))
        if not self.dies:
            raise ConfigError("dies", "a package needs at least one die")
        if min(self.width_m, self.height_m, self.die_thickness_m, self.r_convec_K_per_W, self.ambient_K) <= 0:
            raise ConfigError("package", "footprint, die thickness, r_convec and ambient must be > 0")
        if self.spreader_side_m <= max(self.width_m, self.height_m) or self.sink_side_m < self.spreader_side_m:
            raise ConfigError("spreader_side", f"the lid ({self.spreader_side_m * 1e3:.2f} mm) must be larger than "
                                               f"the {self.width_m * 1e3:.2f} x {self.height_m * 1e3:.2f} mm carrier "
                                               f"and no larger than the sink ({self.sink_side_m * 1e3:.2f} mm)")
        for die in self.dies:
            if (die.left_m < -1e-12 or die.bottom_m < -1e-12 or die.left_m + die.width_m > self.width_m + 1e-12
                    or die.bottom_m + die.height_m > self.height_m + 1e-12):
                raise ConfigError(die.name, "lies outside the carrier")

    @property
    def die_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dies)


def _filler_blocks(package: ChipletPackage) -> list[Block]:
    """Rectangles tiling the footprint minus the dies: vertical slabs between every die edge, each cut at the dies
    it crosses (then slabs with the same free interval merged sideways)."""
    xs = np.unique(np.concatenate([[0.0, package.width_m],
                                   [d.left_m for d in package.dies], [d.left_m + d.width_m for d in package.dies]]))
    xs = xs[(xs >= 0) & (xs <= package.width_m)]
    pieces: list[list[float]] = []  # [left, right, bottom, top]
    for left, right in zip(xs[:-1], xs[1:], strict=True):
        if right - left <= 1e-12:
            continue
        middle = (left + right) / 2
        taken = sorted((d.bottom_m, d.bottom_m + d.height_m) for d in package.dies
                       if d.left_m < middle < d.left_m + d.width_m)
        cursor = 0.0
        for bottom, top in [*taken, (package.height_m, package.height_m)]:
            if bottom - cursor > 1e-12:
                previous = next((p for p in pieces if p[1] == left and p[2] == cursor and p[3] == bottom), None)
                if previous is not None:
                    previous[1] = right
                else:
                    pieces.append([left, right, cursor, bottom])
            cursor = max(cursor, top)
    material = package.filler
    return [Block(f"{FILLER_PREFIX}{k}", r - le, t - b, le, b, material.specific_heat_J_per_m3K,
                  material.resistivity_mK_per_W) for k, (le, r, b, t) in enumerate(pieces)]


def die_layer_floorplan(package: ChipletPackage) -> Floorplan:
    """The dies (in their order) then the filler blocks; the floorplan rejects overlapping dies."""
    return Floorplan(tuple(d.block() for d in package.dies) + tuple(_filler_blocks(package)))


def build_package(package: ChipletPackage, out_dir: Path | str = ".") -> tuple[list[Floorplan], list[LcfLayer]]:
    """The floorplans and LCF layers in LCF order, without touching the disk (``floorplan_path`` under ``out_dir``)."""
    out_dir = Path(out_dir)
    sheet = Floorplan((Block("carrier", package.width_m, package.height_m, 0.0, 0.0),))
    dies = die_layer_floorplan(package)
    silicon = package.dies[0].material
    plan = [(package.carrier, sheet, False), (package.bond, Floorplan((dataclasses.replace(sheet.blocks[0],
                                                                                            name="bond"),)), False),
            (Slab(package.die_thickness_m, silicon.resistivity_mK_per_W, silicon.specific_heat_J_per_m3K), dies, True),
            (package.tim, Floorplan((dataclasses.replace(sheet.blocks[0], name="tim"),)), False)]
    layers = [LcfLayer(k, True, has_power, slab.specific_heat_J_per_m3K, slab.resistivity_mK_per_W, slab.thickness_m,
                       out_dir / LAYER_FILES[k], floorplan)
              for k, (slab, floorplan, has_power) in enumerate(plan)]
    return [floorplan for _, floorplan, _ in plan], layers


def package_config(package: ChipletPackage) -> HotSpotConfig:
    """HotSpot's configuration of the package: grid model with per-block materials, the lid, sink and convection,
    started at ambient."""
    return dataclasses.replace(
        HotSpotConfig(), model_type="grid", detailed_3D=True, grid_layer_file=LCF_NAME, grid_rows=package.grid_rows,
        grid_cols=package.grid_cols, grid_map_mode="center", ambient=package.ambient_K, init_temp=package.ambient_K,
        s_spreader=package.spreader_side_m, t_spreader=package.spreader_thickness_m,
        k_spreader=package.spreader_conductivity_W_per_mK, p_spreader=package.spreader_specific_heat_J_per_m3K,
        s_sink=package.sink_side_m, t_sink=package.sink_thickness_m, k_sink=package.sink_conductivity_W_per_mK,
        p_sink=package.sink_specific_heat_J_per_m3K, r_convec=package.r_convec_K_per_W,
        c_convec=package.c_convec_J_per_K).validate()


def write_package(package: ChipletPackage, out_dir: Path | str) -> tuple[Path, Path]:
    """Write the four ``.flp`` files, ``package.lcf`` and ``package.config`` into ``out_dir``; return the LCF's and
    the config's paths. Run HotSpot from ``out_dir``: ``hotspot -c package.config -grid_layer_file package.lcf
    -detailed_3D on -p <ptrace> ...`` (``-detailed_3D`` is a command-line-only flag)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    floorplans, layers = build_package(package, out_dir)
    for floorplan, layer in zip(floorplans, layers, strict=True):
        write_flp(layer.floorplan_path, floorplan)
    lcf_path, config_path = out_dir / LCF_NAME, out_dir / "package.config"
    write_lcf(lcf_path, layers)
    write_config(config_path, package_config(package))
    return lcf_path, config_path


def package_circuit(package: ChipletPackage):
    """HotSpot's grid circuit of the package (``ailfm.thermal.grid.GridCircuit``), built from the layers in memory."""
    from ailfm.thermal.grid import build_grid_circuit

    return build_grid_circuit(package_config(package), layers=build_package(package)[1])


class SelectedCircuit(ThermalCircuit):
    """A circuit seen through some of its power inputs and outputs (the other inputs held at zero power, the other
    outputs not reported): the package's dies without its filler blocks, for the reduced-order model."""

    def __init__(self, circuit: ThermalCircuit, power_names, output_names):
        self.circuit = circuit
        self.power_names, self.output_names = tuple(power_names), tuple(output_names)
        self._inputs = _positions(circuit.power_names, self.power_names, "power input")
        self._outputs = _positions(circuit.output_names, self.output_names, "output")
        self.network = dataclasses.replace(circuit.network,
                                           power_to_node=sp.csr_matrix(circuit.network.power_to_node[:, self._inputs]))
        self.node_names = circuit.node_names

    def outputs(self, theta):
        return self.circuit.outputs(theta)[..., self._outputs]

    def named_nodes(self, theta):
        return self.circuit.named_nodes(theta)

    def theta_from_named(self, rise_by_name):
        return self.circuit.theta_from_named(rise_by_name)


def _positions(names, wanted, what: str) -> np.ndarray:
    index = {name: k for k, name in enumerate(names)}
    missing = [name for name in wanted if name not in index]
    if missing:
        raise ConfigError(what, f"the circuit has no {what} {missing[0]!r}")
    return np.array([index[name] for name in wanted], dtype=int)
