"""The package of a Compass hardware description, and its thermal model.

Layout (``package_layout``): each chiplet is a square of the area model's area (``area.py``: MACs, buffer SRAM,
D2D PHYs) at its mesh position, chiplet (x, y) in column x from the left and row y from the bottom; a column is as
wide as its widest chiplet, a row as tall as its tallest, chiplets centred in their cell, ``spacing_mm`` between
cells. The DRAM channels sit at the left and right edges as the mesh attaches them (``Hardware.dram_router_weight``:
the first ceil(channels/2) on the left column, the rest on the right), spread evenly along the edge, channel k
beside its run of rows: with ``memory: ddr`` each is the channel's PHY + controller (the area model's
``dram_channel_mm2``), with ``memory: hbm`` an HBM stack. ``edge_margin_mm`` of carrier surrounds the outermost
dies. The thermal stack around the die layer (carrier, bond, TIM, lid, sink) is ``ailfm.thermal.chiplet_package``.

Thermal model (``package_thermal``): HotSpot's grid model of that package (``ailfm.thermal.grid``, the same files
the real ``hotspot`` reads: ``write_package_files``), reduced by Krylov moment matching (``ailfm.thermal.rom``) to a
model whose power inputs are ``chiplet0..chiplet{n-1}`` then ``dram0..dram{c-1}`` (W) and whose outputs are the
same dies' centre temperatures (K). It is built once per ``Hardware`` (kept in memory and, keyed by a hash of
everything it reads, on disk under ``$AILFM_CACHE``), after which a steady solve is one small matrix-vector product
and a transient step two. Its accuracy against the grid model and against HotSpot 7.0:
``bench/compass_package_hotspot.py`` and docs/compass.md, "Package thermal model".
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from ailfm.errors import ConfigError
from ailfm.mapping.area import AreaModel
from ailfm.mapping.hardware import Hardware
from ailfm.mapping.package_spec import (
    HBM_STACK_MM,
    HOTSPOT_SINK_SIDE_MM,
    HOTSPOT_SPREADER_SIDE_MM,
    LID_OVERHANG_MM,
    MATERIALS,
)
from ailfm.thermal.chiplet_package import ChipletPackage, Die, SelectedCircuit, Slab, package_circuit, write_package
from ailfm.thermal.rom import ReducedOrderThermalModel, load_or_build

#: Krylov blocks of the reduced model and their Laplace expansion points (1/s): s = 0 matches the steady state and
#: the slow lid/sink modes; the points at 1e2 and 1e4 /s the die and package modes of the serving timescales
#: (a 10 us job to a 10 s run). Chosen with ``bench/compass_package_hotspot.py orders`` (error vs the grid model).
#: the area model's documented constants (area.py)
AREA = AreaModel()
ROM_MOMENTS = 2
ROM_EXPANSION_POINTS_PER_S = (0.0, 1e2, 1e4)


@dataclass(frozen=True, eq=False)
class PackageLayout:
    """Die outlines in mm (bottom-left origin): ``names`` (chiplets in Hardware order, then DRAM channels),
    ``rects`` (n, 4) as left, bottom, width, height; ``kinds`` "chiplet", "phy" or "hbm"; the carrier's size."""

    names: tuple[str, ...]
    rects_mm: np.ndarray
    kinds: tuple[str, ...]
    width_mm: float
    height_mm: float

    @property
    def footprint_mm2(self) -> float:
        return self.width_mm * self.height_mm


def chiplet_areas_mm2(hardware: Hardware, area: AreaModel = AREA) -> np.ndarray:
    """Each chiplet's die area (mm^2), in Hardware order."""
    per_type = np.array([area.chiplet_area_mm2(t) for t in hardware.types])
    return per_type[np.asarray(hardware.chiplet_type)]


def _edge_blocks(hardware: Hardware, area: AreaModel) -> tuple[int, float, float, str]:
    """(channels on the left, block width, block height, kind) of the DRAM channel blocks."""
    n_left = -(-hardware.dram_channels // 2)
    if hardware.package.memory == "hbm":
        return n_left, *HBM_STACK_MM, "hbm"
    side = float(np.sqrt(area.dram_channel_mm2))
    return n_left, side, side, "phy"


def package_layout(hardware: Hardware, area: AreaModel = AREA) -> PackageLayout:
    """Where every die sits on the carrier (the module docstring's rules)."""
    spec = hardware.package
    gap, margin = spec.spacing_mm, spec.edge_margin_mm
    sides = np.sqrt(chiplet_areas_mm2(hardware, area))
    x, y = hardware.xy[:, 0], hardware.xy[:, 1]
    col_w = np.zeros(hardware.mesh_cols)
    row_h = np.zeros(hardware.mesh_rows)
    np.maximum.at(col_w, x, sides)
    np.maximum.at(row_h, y, sides)
    n_left, edge_w, edge_h, kind = _edge_blocks(hardware, area)
    per_side = (n_left, hardware.dram_channels - n_left)
    mesh_w = col_w.sum() + gap * (hardware.mesh_cols - 1)
    mesh_h = row_h.sum() + gap * (hardware.mesh_rows - 1)
    edge_span = max(n * edge_h + gap * (n - 1) for n in per_side if n) if hardware.dram_channels else 0.0
    inner_h = max(mesh_h, edge_span)
    left_edge = (edge_w + gap) if per_side[0] else 0.0
    right_edge = (edge_w + gap) if per_side[1] else 0.0
    width = 2 * margin + left_edge + mesh_w + right_edge
    height = 2 * margin + inner_h
    mesh_left, mesh_bottom = margin + left_edge, margin + (inner_h - mesh_h) / 2
    col_left = mesh_left + np.concatenate([[0.0], np.cumsum(col_w + gap)[:-1]])
    row_bottom = mesh_bottom + np.concatenate([[0.0], np.cumsum(row_h + gap)[:-1]])
    chiplets = np.stack([col_left[x] + (col_w[x] - sides) / 2, row_bottom[y] + (row_h[y] - sides) / 2,
                         sides, sides], axis=1)
    edges = []
    for side, n in enumerate(per_side):
        left = margin if side == 0 else width - margin - edge_w
        segment = inner_h / max(n, 1)
        for k in range(n):
            edges.append([left, margin + (k + 0.5) * segment - edge_h / 2, edge_w, edge_h])
    names = tuple(f"chiplet{i}" for i in range(hardware.n_chiplets)) + tuple(
        f"dram{k}" for k in range(hardware.dram_channels))
    kinds = ("chiplet",) * hardware.n_chiplets + (kind,) * hardware.dram_channels
    rects = np.concatenate([chiplets, np.asarray(edges, dtype=float).reshape(-1, 4)])
    return PackageLayout(names, rects, kinds, float(width), float(height))


def _material(name: str, thickness_um: float = 1.0) -> Slab:
    resistivity, heat_capacity = MATERIALS[name]
    return Slab(thickness_um * 1e-6, resistivity, heat_capacity)


def chiplet_package(hardware: Hardware, area: AreaModel = AREA) -> ChipletPackage:
    """The hardware's package in the thermal generator's terms (lid and sink sides as the package spec says)."""
    spec = hardware.package
    layout = package_layout(hardware, area)
    die_material = {"chiplet": _material("silicon"), "phy": _material("silicon"), "hbm": _material("hbm")}
    dies = tuple(Die(name, *(float(v) * 1e-3 for v in rect), die_material[kind])
                 for name, rect, kind in zip(layout.names, layout.rects_mm, layout.kinds, strict=True))
    spreader = spec.spreader_side_mm or max(HOTSPOT_SPREADER_SIDE_MM,
                                            max(layout.width_mm, layout.height_mm) + 2 * LID_OVERHANG_MM)
    sink = spec.sink_side_mm or max(HOTSPOT_SINK_SIDE_MM, 2 * spreader)
    carrier = "silicon" if spec.carrier == "interposer" else "organic"
    try:
        return ChipletPackage(
            name=hardware.name, width_m=layout.width_mm * 1e-3, height_m=layout.height_mm * 1e-3, dies=dies,
            carrier=_material(carrier, spec.carrier_thickness_m * 1e6),
            bond=_material("bond", spec.bond_thickness_um), die_thickness_m=spec.die_thickness_um * 1e-6,
            filler=_material("mold"), tim=_material("tim", spec.tim_thickness_um), spreader_side_m=spreader * 1e-3,
            sink_side_m=sink * 1e-3, r_convec_K_per_W=spec.r_convec_K_per_W, ambient_K=spec.ambient_K,
            grid_rows=spec.grid_cells, grid_cols=spec.grid_cells)
    except ConfigError as err:  # the sizes given do not fit this hardware's layout: name the hardware's section
        raise ConfigError("package", f"of hardware {hardware.name!r}: {err.field}: {err.reason}") from None


def write_package_files(hardware: Hardware, out_dir: Path | str) -> tuple[Path, Path]:
    """The package in HotSpot's files (four ``.flp``, ``package.lcf``, ``package.config``) for the real ``hotspot``."""
    return write_package(chiplet_package(hardware), out_dir)


@lru_cache(maxsize=32)
def package_thermal(hardware: Hardware) -> ReducedOrderThermalModel:
    """The reduced-order thermal model of ``hardware``'s package (the module docstring), reset to ambient.

    Callers share the cached instance: one that steps it keeps its own state with ``state()``/``set_state()`` or
    ``reset()`` first, or steps the algebra of ``linear_view`` on its own copy of ``modes``."""
    package = chiplet_package(hardware)

    def reduce() -> ReducedOrderThermalModel:
        names = package.die_names
        # one BLAS thread: on the shared 2-core machine under load, threads made the reduction's dense products
        # 20x slower (he-36: 20 s against 0.9 s; bench/compass_package_hotspot.py speed)
        with threadpool_limits(limits=1, user_api="blas"):
            return ReducedOrderThermalModel(SelectedCircuit(package_circuit(package), names, names),
                                            ambient_K=package.ambient_K, moments=ROM_MOMENTS,
                                            expansion_points_per_s=ROM_EXPANSION_POINTS_PER_S)

    return load_or_build(rom_cache_path(package), reduce)


def rom_cache_path(package: ChipletPackage) -> Path | None:
    """``$AILFM_CACHE`` (default ``~/.cache/ailfm``) ``/package-rom-<key>.npz``, the key hashing the package, the
    reduction's order and the source of the code that builds it; ``AILFM_CACHE=off`` disables it."""
    root = os.environ.get("AILFM_CACHE", "~/.cache/ailfm")
    if root == "off":
        return None
    import ailfm.thermal as thermal_package

    digest = hashlib.sha256(repr((package, ROM_MOMENTS, ROM_EXPANSION_POINTS_PER_S)).encode())
    thermal = Path(thermal_package.__file__).parent
    for source in (thermal / "rom.py", thermal / "grid.py", thermal / "network.py", thermal / "chiplet_package.py",
                   Path(__file__)):
        digest.update(source.read_bytes())
    return Path(root).expanduser() / f"package-rom-{digest.hexdigest()[:24]}.npz"


def leakage_W(hardware: Hardware, temperature_K: np.ndarray, area: AreaModel = AREA) -> np.ndarray:
    """Each chiplet's leakage (W) at its temperature (K, shape (..., n_chiplets)):
    area x leakage_W_per_mm2 x exp(beta (T - T_ref)) (package_spec.py gives the constants and their sources)."""
    spec = hardware.package
    scale = np.exp(spec.leakage_beta_per_K * (np.asarray(temperature_K, dtype=float) - spec.leakage_ref_K))
    return chiplet_areas_mm2(hardware, area) * spec.leakage_W_per_mm2 * scale


def idle_W(hardware: Hardware, area: AreaModel = AREA) -> np.ndarray:
    """Each chiplet's dynamic power while idle (W): area x idle_W_per_mm2."""
    return chiplet_areas_mm2(hardware, area) * hardware.package.idle_W_per_mm2


#: the leakage fixed point stops when no temperature moves by more than this (K), and calls a die above this
#: temperature (K) a thermal runaway (HotSpot's MAX_SINK_TEMP, package.h)
LEAKAGE_TOLERANCE_K = 1e-3
RUNAWAY_K = 1000.0


def steady_with_leakage(hardware: Hardware, chiplet_W: np.ndarray, dram_W: np.ndarray | None = None,
                        max_iterations: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Steady die temperatures (K) when each chiplet also leaks at its own temperature: ``chiplet_W`` (...,
    n_chiplets) is the power without leakage (dynamic + idle), ``dram_W`` (..., channels) the DRAM blocks' (default
    0). Returns (temperatures (..., dies), chiplet leakage (..., n_chiplets)); vectorised over leading axes.

    The fixed point T = T_amb + R (P + leakage(T)) is iterated from the leakage at ambient; a die that passes
    RUNAWAY_K (the leakage feedback outgrows the cooling) is reported at +inf."""
    model = package_thermal(hardware)
    gain = model.steady_gain_K_per_W  # (dies, dies)
    chiplet_W = np.asarray(chiplet_W, dtype=float)
    shape = chiplet_W.shape[:-1]
    dram = np.zeros((*shape, hardware.dram_channels)) if dram_W is None else np.broadcast_to(
        np.asarray(dram_W, dtype=float), (*shape, hardware.dram_channels))
    base = np.concatenate([chiplet_W, dram], axis=-1)
    n = hardware.n_chiplets
    temperature = np.full(base.shape, model.ambient_K)
    for _ in range(max_iterations):
        leak = leakage_W(hardware, np.minimum(temperature[..., :n], RUNAWAY_K))
        power = base.copy()
        power[..., :n] += leak
        updated = model.ambient_K + power @ gain.T
        done = np.max(np.abs(updated - temperature), initial=0.0) < LEAKAGE_TOLERANCE_K
        temperature = updated
        if done or np.all(temperature[..., :n].max(axis=-1) > RUNAWAY_K):
            break
    runaway = temperature[..., :n].max(axis=-1) > RUNAWAY_K
    temperature = np.where(runaway[..., None], np.inf, temperature)
    return temperature, leakage_W(hardware, np.minimum(temperature[..., :n], RUNAWAY_K))
