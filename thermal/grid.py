"""HotSpot's grid thermal model: a 3D mesh of cells over a layer stack, plus the package.

The die is cut into ``rows x cols`` equal cells. Every chip layer (the LCF layers, or silicon +
interface when no LCF is given) gets one node per cell; HotSpot then appends two package layers,
the heat spreader and the heat sink, with the same cells, and twelve peripheral nodes for the
parts of the spreader and sink that stick out beyond the die. The result is the linear circuit
``C dtheta/dt = -G theta + B p`` of ``ailfm.thermal.network``; ``docs/thermal-grid.md`` explains
every conductance. The construction follows HotSpot 7.0 (uvahotspot/HotSpot @ f18831e,
``temperature_grid.c``: set_bgmap, find_res, slope_fn_grid, slope_fn_pack, xlate_*; and
``temperature.c``: populate_package_R/C), re-derived here as vectorised numpy:

* node order is HotSpot's own: layer-major cells ``(layer, row, col)`` with row 0 at the top of
  the die (largest y), then the twelve package nodes ``inode_0..11``;
* a block covers cells by *occupancy* (the fraction of a cell's area inside the block); power
  spreads by occupancy x power density; init temperatures are ``sum(occupancy x T_block)``;
* ``-detailed_3D on`` gives each chip-layer cell its own conductivity and heat capacity from the
  blocks' optional ``.flp`` columns (HotSpot's "BU_3D" rules, reproduced with their quirks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ailfm.errors import ConfigError
from ailfm.thermal.block import StackProperties, package_stack
from ailfm.thermal.network import RCNetwork, ThermalCircuit
from ailfm.thermal.package import PackageConfig

# HotSpot temperature.h: "fitting factor to match floworks (due to lumping)"; multiplies every capacitance.
C_FACTOR = 0.333
# HotSpot temperature_grid.h OCCUPANCY_THRESHOLD: with -detailed_3D, a block covering at least this
# fraction of a cell gives the cell its own material ("locks" it).
OCCUPANCY_LOCK = 0.95
# HotSpot util.h DELTA: tolerance of eq(), tolerant_ceil() and tolerant_floor() in the cell mapping.
TOLERANCE = 1e-6
# The twelve package nodes in HotSpot's order (temperature.h SP_W .. SINK_S).
PACKAGE_NODES = ("SP_W", "SP_E", "SP_N", "SP_S", "SINK_C_W", "SINK_C_E", "SINK_C_N", "SINK_C_S",
                 "SINK_W", "SINK_E", "SINK_N", "SINK_S")
N_PACKAGE = len(PACKAGE_NODES)
MAP_MODES = ("avg", "min", "max", "center")


@dataclass(frozen=True, eq=False)
class ChipLayer:
    """One chip layer of the stack with its floorplan, in HotSpot's terms.

    ``block_conductivity_W_per_mK`` / ``block_specific_heat_J_per_m3K`` hold the optional per-block
    materials of the ``.flp`` (NaN where a block has none); they matter only with ``detailed_3D``.
    """

    name: str  # grid map key, e.g. "layer_0" or "silicon"
    node_prefix: str  # HotSpot's steady-file prefix: "layer_0_", "" (silicon), "iface_"
    block_names: tuple[str, ...]
    left_m: np.ndarray
    bottom_m: np.ndarray
    width_m: np.ndarray
    height_m: np.ndarray
    conductivity_W_per_mK: float
    specific_heat_J_per_m3K: float
    thickness_m: float
    lateral: bool
    has_power: bool
    block_conductivity_W_per_mK: np.ndarray
    block_specific_heat_J_per_m3K: np.ndarray


@dataclass(frozen=True, eq=False)
class CellMap:
    """How one floorplan covers the cells.

    ``entry_block``/``entry_cell``/``entry_occupancy`` list every (block, cell) overlap in
    HotSpot's order (blocks in floorplan order, cells row-major inside each block); ``rect`` holds
    each block's cell rectangle ``(i1, i2, j1, j2)`` (end-exclusive) used to read block temperatures.
    """

    entry_block: np.ndarray
    entry_cell: np.ndarray
    entry_occupancy: np.ndarray
    rect: np.ndarray


def _tolerant_ceil(x: np.ndarray) -> np.ndarray:
    nearest = np.floor(x + 0.5)
    return np.where(np.abs(x - nearest) < TOLERANCE, nearest, np.ceil(x)).astype(int)


def _tolerant_floor(x: np.ndarray) -> np.ndarray:
    nearest = np.floor(x + 0.5)
    return np.where(np.abs(x - nearest) < TOLERANCE, nearest, np.floor(x)).astype(int)


def _snap_overlap(overlap: np.ndarray, size: float) -> np.ndarray:
    """HotSpot's overlap tolerance: within TOLERANCE of 0 or of a whole cell counts as exactly that."""
    ratio = overlap / size
    overlap = np.where(np.abs(ratio) < TOLERANCE, 0.0, overlap)
    return np.where(np.abs(ratio - 1.0) < TOLERANCE, size, overlap)


def map_blocks_to_cells(layer: ChipLayer, rows: int, cols: int, width_m: float, height_m: float) -> CellMap:
    """Cell rectangle and per-cell occupancy of every block (HotSpot's set_bgmap)."""
    cw, ch = width_m / cols, height_m / rows
    left, bottom = layer.left_m, layer.bottom_m
    right, top = left + layer.width_m, bottom + layer.height_m
    i1 = rows - _tolerant_ceil(top / ch)
    i2 = rows - _tolerant_floor(bottom / ch)
    j1 = _tolerant_floor(left / cw)
    j2 = _tolerant_ceil(right / cw)
    outside = (i1 < 0) | (j1 < 0) | (i2 > rows) | (j2 > cols)
    empty = (i1 >= i2) | (j1 >= j2)
    bad = np.flatnonzero(outside | empty)
    if len(bad):
        name = layer.block_names[bad[0]]
        if outside[bad[0]]:
            raise ConfigError("floorplan", f"block {name!r} of layer {layer.name} lies outside the die "
                                           f"(its {rows}x{cols} grid)")
        raise ConfigError("grid_rows", f"block {name!r} of layer {layer.name} covers no cell of the "
                                       f"{rows}x{cols} grid")
    # every (block, cell) overlap at once, block by block and row-major inside a block, as HotSpot lists them
    n_i, n_j = i2 - i1, j2 - j1
    per_block = n_i * n_j
    block = np.repeat(np.arange(len(per_block)), per_block)
    offset = np.arange(per_block.sum()) - np.repeat(np.cumsum(per_block) - per_block, per_block)
    local_i, local_j = offset // n_j[block], offset % n_j[block]
    i, j = i1[block] + local_i, j1[block] + local_j
    cell_top, cell_bottom = height_m - i * ch, height_m - (i + 1) * ch
    overlap_h = _snap_overlap(np.minimum(top[block], cell_top) - np.maximum(bottom[block], cell_bottom), ch)
    overlap_w = _snap_overlap(np.minimum(right[block], (j + 1) * cw) - np.maximum(left[block], j * cw), cw)
    negative = np.flatnonzero((overlap_h < 0) | (overlap_w < 0))
    if len(negative):
        name = layer.block_names[block[negative[0]]]
        raise ConfigError("floorplan", f"block {name!r} of layer {layer.name}: negative overlap")
    occupancy = overlap_h * overlap_w / (ch * cw)
    # HotSpot counts the cells strictly inside a block's rectangle as fully covered.
    inside = (local_i > 0) & (local_i < n_i[block] - 1) & (local_j > 0) & (local_j < n_j[block] - 1)
    occupancy[inside & (n_i[block] > 2) & (n_j[block] > 2)] = 1.0
    return CellMap(block, i * cols + j, occupancy, np.stack([i1, i2, j1, j2], axis=1))


def _cell_materials(layer: ChipLayer, cell_map: CellMap, n_cells: int, detailed: bool):
    """Per-cell conductivity (W/mK) and volumetric heat capacity (J/m^3K) of a chip layer.

    Without ``detailed_3D`` the layer is uniform. With it, HotSpot's rules: the first block (in
    floorplan order) covering at least OCCUPANCY_LOCK of a cell gives the cell its conductivity
    and heat capacity; otherwise the cell's conductivity is the occupancy-weighted sum over its
    blocks and its heat capacity stays the layer's. Blocks without their own material use the
    layer's. Lateral heat flow is then on for every covered cell, whatever the LCF says
    (HotSpot's find_res ignores the flag in that mode).
    """
    conductivity = np.full(n_cells, layer.conductivity_W_per_mK)
    specific_heat = np.full(n_cells, layer.specific_heat_J_per_m3K)
    lateral = np.full(n_cells, layer.lateral)
    if not detailed:
        return conductivity, specific_heat, lateral
    block_k = np.where(np.isnan(layer.block_conductivity_W_per_mK), layer.conductivity_W_per_mK,
                       layer.block_conductivity_W_per_mK)
    block_sh = np.where(np.isnan(layer.block_specific_heat_J_per_m3K), layer.specific_heat_J_per_m3K,
                        layer.block_specific_heat_J_per_m3K)
    cells, blocks, occ = cell_map.entry_cell, cell_map.entry_block, cell_map.entry_occupancy
    covered = np.zeros(n_cells, bool)
    covered[cells] = True
    summed = np.bincount(cells, weights=occ * block_k[blocks], minlength=n_cells)
    conductivity = np.where(covered, summed, conductivity)
    locking = np.flatnonzero(occ >= OCCUPANCY_LOCK)
    # the first locking entry of each cell wins (entries are in HotSpot's insertion order)
    lock_cells, first = np.unique(cells[locking], return_index=True)
    lock_entries = locking[first]
    conductivity[lock_cells] = block_k[blocks[lock_entries]]
    specific_heat[lock_cells] = block_sh[blocks[lock_entries]]
    lateral = np.where(covered, True, lateral)
    return conductivity, specific_heat, lateral


def _package_resistances(pack: StackProperties, width_m: float, height_m: float) -> dict[str, float]:
    """The peripheral spreader/sink resistances (K/W) of HotSpot's package (temperature.c populate_package_R).

    The spreader and the sink are squares centred on the die; the part of each outside the die is
    lumped into four trapezoids (W/E of width (s - width)/4 ... ) and the sink beyond the spreader
    into four more.
    """
    ssp, ssk, w, h = pack.s_spreader, pack.s_sink, width_m, height_m

    def r(k, length, area):
        return length / (k * area)

    return {
        "sp1_x": r(pack.k_spreader, (ssp - w) / 4, (ssp + 3 * h) / 4 * pack.t_spreader),
        "sp1_y": r(pack.k_spreader, (ssp - h) / 4, (ssp + 3 * w) / 4 * pack.t_spreader),
        "hs1_x": r(pack.k_sink, (ssp - w) / 4, (ssp + 3 * h) / 4 * pack.t_sink),
        "hs1_y": r(pack.k_sink, (ssp - h) / 4, (ssp + 3 * w) / 4 * pack.t_sink),
        "hs2_x": r(pack.k_sink, (ssp - w) / 4, (3 * ssp + h) / 4 * pack.t_sink),
        "hs2_y": r(pack.k_sink, (ssp - h) / 4, (3 * ssp + w) / 4 * pack.t_sink),
        "hs": r(pack.k_sink, (ssk - ssp) / 4, (ssk + 3 * ssp) / 4 * pack.t_sink),
        "sp_per_x": r(pack.k_spreader, pack.t_spreader, (ssp + h) * (ssp - w) / 4),
        "sp_per_y": r(pack.k_spreader, pack.t_spreader, (ssp + w) * (ssp - h) / 4),
        "hs_c_per_x": r(pack.k_sink, pack.t_sink, (ssp + h) * (ssp - w) / 4),
        "hs_c_per_y": r(pack.k_sink, pack.t_sink, (ssp + w) * (ssp - h) / 4),
        "hs_per": r(pack.k_sink, pack.t_sink, (ssk * ssk - ssp * ssp) / 4),
        "amb_c_per_x": pack.r_convec * ssk * ssk / ((ssp + h) * (ssp - w) / 4),
        "amb_c_per_y": pack.r_convec * ssk * ssk / ((ssp + w) * (ssp - h) / 4),
        "amb_per": pack.r_convec * ssk * ssk / ((ssk * ssk - ssp * ssp) / 4),
    }


def _package_capacitances(pack: StackProperties, width_m: float, height_m: float) -> np.ndarray:
    """Heat capacities (J/K) of the twelve package nodes, in PACKAGE_NODES order (populate_package_C)."""
    ssp, ssk, w, h = pack.s_spreader, pack.s_sink, width_m, height_m
    area_x, area_y = (ssp + h) * (ssp - w) / 4, (ssp + w) * (ssp - h) / 4
    area_outer = (ssk * ssk - ssp * ssp) / 4
    convec_per_area = C_FACTOR * pack.c_convec / (ssk * ssk)
    sp_x, sp_y = (C_FACTOR * pack.p_spreader * pack.t_spreader * a for a in (area_x, area_y))
    hs_x, hs_y = ((C_FACTOR * pack.p_sink * pack.t_sink + convec_per_area) * a for a in (area_x, area_y))
    outer = (C_FACTOR * pack.p_sink * pack.t_sink + convec_per_area) * area_outer
    return np.array([sp_x, sp_x, sp_y, sp_y, hs_x, hs_x, hs_y, hs_y, outer, outer, outer, outer])


@dataclass(frozen=True, eq=False)
class GridNetwork(RCNetwork):
    """The grid model's ``RCNetwork``, with its layout: the first ``n_layers x rows x cols`` nodes are the cells
    (layer-major, row-major in a layer), the rest the package nodes. The sparse solver's steady state uses it
    for its cosine-transform preconditioner (``ailfm.thermal.solvers.spectral``)."""

    grid_shape: tuple[int, int, int]

    def __post_init__(self):
        super().__post_init__()
        if int(np.prod(self.grid_shape)) > self.n_nodes:
            raise ValueError(f"grid of {self.grid_shape} cells exceeds the {self.n_nodes} nodes")


class _Assembler:
    """Collects symmetric two-node conductances and conductances to ambient, then builds G."""

    def __init__(self, n_nodes: int):
        self.n_nodes = n_nodes
        self.a, self.b, self.g = [], [], []
        self.to_ambient = np.zeros(n_nodes)

    def connect(self, a, b, g):
        a, b, g = np.broadcast_arrays(np.asarray(a), np.asarray(b), np.asarray(g, dtype=float))
        keep = g.ravel() > 0
        self.a.append(a.ravel()[keep])
        self.b.append(b.ravel()[keep])
        self.g.append(g.ravel()[keep])

    def ground(self, nodes, g):
        np.add.at(self.to_ambient, np.asarray(nodes).ravel(), np.broadcast_to(g, np.shape(nodes)).ravel())

    def matrix(self) -> sp.csr_matrix:
        a, b, g = np.concatenate(self.a), np.concatenate(self.b), np.concatenate(self.g)
        rows = np.concatenate([a, b, a, b])
        cols = np.concatenate([b, a, a, b])
        vals = np.concatenate([-g, -g, g, g])
        diagonal = sp.diags(self.to_ambient)
        return (sp.coo_matrix((vals, (rows, cols)), shape=(self.n_nodes,) * 2) + diagonal).tocsr()


class GridCircuit(ThermalCircuit):
    """HotSpot's grid model as an ``RCNetwork`` with HotSpot's names, block mapping and grid maps.

    Build it with ``build_grid_circuit``; ``layers`` are the chip layers (LCF order, layer 0
    farthest from the sink); the spreader and sink follow them in ``grid_maps``.
    """

    def __init__(self, layers: Sequence[ChipLayer], stack: StackProperties, rows: int, cols: int,
                 ambient_K: float, map_mode: str = "avg", detailed: bool = False,
                 package: PackageConfig | None = None):
        if map_mode not in MAP_MODES:
            raise ConfigError("grid_map_mode", f"unknown mapping mode {map_mode!r}; expected one of {MAP_MODES}")
        if rows < 1 or cols < 1:
            raise ConfigError("grid_rows", f"grid must have at least one row and column, got {rows}x{cols}")
        if not layers:
            raise ConfigError("grid_layer_file", "the stack has no chip layer")
        self.layers = tuple(layers)
        self.stack = pack = stack
        self.package = package  # the detailed package model (fan, fins) that set r_convec, if any
        self.rows, self.cols = rows, cols
        self.ambient_K = float(ambient_K)
        self.map_mode = map_mode
        self.detailed = detailed
        self.width_m, self.height_m = _die_size(self.layers)
        if self.width_m > pack.s_sink or self.height_m > pack.s_sink or \
                self.width_m > pack.s_spreader or self.height_m > pack.s_spreader:
            raise ConfigError("s_spreader",
                              f"die {self.width_m} x {self.height_m} m is larger than the spreader or sink")
        self.layer_names = tuple(layer.name for layer in self.layers) + ("hsp", "hsink")
        self.n_layers = len(self.layers) + 2
        self.n_cells = rows * cols
        self.cell_maps = tuple(map_blocks_to_cells(layer, rows, cols, self.width_m, self.height_m)
                               for layer in self.layers)
        self.network = self._build_network()
        self._build_names_and_maps()

    # -- network -----------------------------------------------------------------------------
    def _build_network(self) -> RCNetwork:
        rows, cols, n_cells = self.rows, self.cols, self.n_cells
        nl = self.n_layers
        sp_idx, hs_idx = nl - 2, nl - 1
        cw, ch = self.width_m / cols, self.height_m / rows
        pack = self.stack
        n_nodes = nl * n_cells + N_PACKAGE
        # per-cell conductivity, heat capacity per volume, thickness, lateral flag, for every layer
        conductivity = np.empty((nl, n_cells))
        specific_heat = np.empty((nl, n_cells))
        lateral = np.empty((nl, n_cells), bool)
        thickness = np.empty(nl)
        for n, (layer, cell_map) in enumerate(zip(self.layers, self.cell_maps, strict=True)):
            conductivity[n], specific_heat[n], lateral[n] = _cell_materials(layer, cell_map, n_cells, self.detailed)
            thickness[n] = layer.thickness_m
        conductivity[sp_idx], conductivity[hs_idx] = pack.k_spreader, pack.k_sink
        specific_heat[sp_idx], specific_heat[hs_idx] = pack.p_spreader, pack.p_sink
        thickness[sp_idx], thickness[hs_idx] = pack.t_spreader, pack.t_sink
        lateral[sp_idx:] = True
        t = thickness[:, None]
        with np.errstate(divide="ignore"):
            # HotSpot's rx = cw / (k ch t) and ry = ch / (k cw t); it joins cells in the same column
            # (north-south neighbours) through rx and cells in the same row through ry.
            rx = np.where(lateral, cw / (conductivity * ch * t), np.inf)
            ry = np.where(lateral, ch / (conductivity * cw * t), np.inf)
        rz = t / (conductivity * cw * ch)
        # the sink's vertical resistance includes its cell's share of the convection resistance
        rz_sink_layer = pack.t_sink / (pack.k_sink * cw * ch) + pack.r_convec * pack.s_sink ** 2 / (cw * ch)
        rz[hs_idx] = rz_sink_layer
        rx, ry, rz = (a.reshape(nl, rows, cols) for a in (rx, ry, rz))

        node = np.arange(nl * n_cells).reshape(nl, rows, cols)
        asm = _Assembler(n_nodes)
        with np.errstate(divide="ignore"):
            asm.connect(node[:, :-1, :], node[:, 1:, :], 1.0 / (rx[:, :-1, :] / 2 + rx[:, 1:, :] / 2))
            asm.connect(node[:, :, :-1], node[:, :, 1:], 1.0 / (ry[:, :, :-1] / 2 + ry[:, :, 1:] / 2))
        if self.detailed:
            vertical = rz[:-1] / 2 + rz[1:] / 2
            vertical[0] = rz[0] + rz[1] / 2  # HotSpot's find_res: the top layer counts its full rz
        else:
            # HotSpot's find_res: between layers n and n+1, the full rz of layer n
            vertical = rz[:-1]
        asm.connect(node[:-1], node[1:], 1.0 / vertical)
        asm.ground(node[hs_idx], 1.0 / rz_sink_layer)

        # package: spreader and sink edges to their peripheral nodes
        r = _package_resistances(pack, self.width_m, self.height_m)
        base = nl * n_cells
        pk = {name: base + k for k, name in enumerate(PACKAGE_NODES)}
        ry_sp, rx_sp = ch / (pack.k_spreader * cw * pack.t_spreader), cw / (pack.k_spreader * ch * pack.t_spreader)
        ry_hs, rx_hs = ch / (pack.k_sink * cw * pack.t_sink), cw / (pack.k_sink * ch * pack.t_sink)
        for layer_idx, prefix, r_y, r_x, r1y, r1x in ((sp_idx, "SP", ry_sp, rx_sp, r["sp1_y"], r["sp1_x"]),
                                                        (hs_idx, "SINK_C", ry_hs, rx_hs, r["hs1_y"], r["hs1_x"])):
            g_ns = 1.0 / (r_y / 2 + cols * r1y)
            g_we = 1.0 / (r_x / 2 + rows * r1x)
            asm.connect(node[layer_idx, 0, :], pk[f"{prefix}_N"], g_ns)
            asm.connect(node[layer_idx, -1, :], pk[f"{prefix}_S"], g_ns)
            asm.connect(node[layer_idx, :, 0], pk[f"{prefix}_W"], g_we)
            asm.connect(node[layer_idx, :, -1], pk[f"{prefix}_E"], g_we)
        for side, axis in (("N", "y"), ("S", "y"), ("W", "x"), ("E", "x")):
            asm.connect(pk[f"SP_{side}"], pk[f"SINK_C_{side}"], 1.0 / r[f"sp_per_{axis}"])
            asm.connect(pk[f"SINK_C_{side}"], pk[f"SINK_{side}"], 1.0 / (r[f"hs2_{axis}"] + r["hs"]))
            asm.ground(pk[f"SINK_C_{side}"], 1.0 / (r[f"hs_c_per_{axis}"] + r[f"amb_c_per_{axis}"]))
            asm.ground(pk[f"SINK_{side}"], 1.0 / (r["hs_per"] + r["amb_per"]))

        capacitance = np.empty(n_nodes)
        cell_c = C_FACTOR * specific_heat * thickness[:, None] * cw * ch
        cell_c[hs_idx] += C_FACTOR * pack.c_convec * cw * ch / pack.s_sink ** 2
        capacitance[:base] = cell_c.ravel()
        capacitance[base:] = _package_capacitances(pack, self.width_m, self.height_m)

        power_to_node = self._power_matrix(n_nodes)
        return GridNetwork(asm.matrix(), capacitance, asm.to_ambient, power_to_node, (nl, rows, cols))

    def _power_matrix(self, n_nodes: int) -> sp.csr_matrix:
        """Node power from block power: occupancy x power density x cell area (xlate_vector_b2g)."""
        cell_area = self.width_m * self.height_m / self.n_cells
        rows, cols, vals = [], [], []
        offset = 0
        for n, (layer, cell_map) in enumerate(zip(self.layers, self.cell_maps, strict=True)):
            if not layer.has_power:
                continue
            area = (layer.width_m * layer.height_m)[cell_map.entry_block]
            rows.append(n * self.n_cells + cell_map.entry_cell)
            cols.append(offset + cell_map.entry_block)
            vals.append(cell_map.entry_occupancy * cell_area / area)
            offset += len(layer.block_names)
        if not rows:
            raise ConfigError("grid_layer_file", "no layer dissipates power")
        return sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(n_nodes, offset)).tocsr()

    # -- names, block readout, init ----------------------------------------------------------
    def _build_names_and_maps(self):
        """Block readout over every layer (the spreader and sink reuse the last chip layer's floorplan)."""
        last = len(self.layers) - 1
        plan = [(n, layer.node_prefix, layer, self.cell_maps[n]) for n, layer in enumerate(self.layers)]
        plan += [(len(self.layers), "hsp_", self.layers[last], self.cell_maps[last]),
                 (len(self.layers) + 1, "hsink_", self.layers[last], self.cell_maps[last])]
        names, power_rows, power_names = [], [], []
        readout_cells, readout_starts = [], []
        center_rows, center_cols = [], []
        init_rows, init_cols, init_vals = [], [], []
        n_readout = 0
        for n, prefix, layer, cell_map in plan:
            first = len(names)
            names.extend(prefix + name for name in layer.block_names)
            if n < len(self.layers) and layer.has_power:
                power_rows.extend(range(first, len(names)))
                power_names.extend(layer.block_names)
            # a block reads the cells of its rectangle, row-major: its cell map's entries
            i1, i2, j1, j2 = cell_map.rect.T
            per_block = (i2 - i1) * (j2 - j1)
            readout_starts.append(n_readout + np.cumsum(per_block) - per_block)
            readout_cells.append(n * self.n_cells + cell_map.entry_cell)
            n_readout += len(cell_map.entry_cell)
            # centre: the average of the (up to four) middle cells, as HotSpot's GRID_CENTER
            ci1, cj1 = (i1 + i2) // 2, (j1 + j2) // 2
            ci2, cj2 = ci1 - (1 - (i2 - i1) % 2), cj1 - (1 - (j2 - j1) % 2)
            centre_i = np.stack([ci1, ci2, ci1, ci2], axis=1)
            centre_j = np.stack([cj1, cj1, cj2, cj2], axis=1)
            center_rows.append(np.repeat(first + np.arange(len(per_block)), 4))
            center_cols.append((n * self.n_cells + centre_i * self.cols + centre_j).ravel())
            init_rows.append(n * self.n_cells + cell_map.entry_cell)
            init_cols.append(first + cell_map.entry_block)
            init_vals.append(cell_map.entry_occupancy)
        n_blocks = len(names)
        n_nodes = self.network.n_nodes
        self.node_names = tuple(names) + tuple(f"inode_{k}" for k in range(N_PACKAGE))
        self.power_names = tuple(power_names)
        self.output_names = self.power_names
        self._output_rows = np.array(power_rows)
        self._readout_cells = np.concatenate(readout_cells)
        self._readout_starts = np.concatenate(readout_starts)
        counts = np.diff(np.append(self._readout_starts, len(self._readout_cells)))
        avg = sp.csr_matrix((np.repeat(1.0 / counts, counts), self._readout_cells,
                             np.append(self._readout_starts, len(self._readout_cells))), shape=(n_blocks, n_nodes))
        center_cols = np.concatenate(center_cols)
        center = sp.coo_matrix((np.full(len(center_cols), 0.25), (np.concatenate(center_rows), center_cols)),
                               shape=(n_blocks, n_nodes)).tocsr()
        self._linear_readout = {"avg": avg, "center": center}.get(self.map_mode)
        init = sp.coo_matrix((np.concatenate(init_vals), (np.concatenate(init_rows), np.concatenate(init_cols))),
                             shape=(n_nodes, n_blocks)).tocsr()
        self._init_from_blocks = init
        self._init_weight = np.asarray(init.sum(axis=1)).ravel()

    def _block_values(self, theta: np.ndarray) -> np.ndarray:
        """Per-block readout (rise) of every layer, by the configured map mode (xlate_temp_g2b); ``theta`` is
        one state (n,) or a stack of states (k, n)."""
        if self._linear_readout is not None:
            return (self._linear_readout @ theta.T).T
        gathered = theta[..., self._readout_cells]
        reduce = np.minimum if self.map_mode == "min" else np.maximum
        return reduce.reduceat(gathered, self._readout_starts, axis=-1)

    def outputs(self, theta: np.ndarray) -> np.ndarray:
        return self._block_values(theta)[..., self._output_rows]

    def named_nodes(self, theta: np.ndarray) -> np.ndarray:
        return np.concatenate([self._block_values(theta), theta[..., -N_PACKAGE:]], axis=-1)

    def theta_from_named(self, rise_by_name: Mapping[str, float]) -> np.ndarray:
        """HotSpot's init-file semantics: a cell's temperature is ``sum(occupancy x T_block)`` over the
        blocks covering it (so a cell no block covers starts at 0 K, as in HotSpot); package nodes
        take their values directly."""
        missing = [name for name in self.node_names if name not in rise_by_name]
        if missing:
            raise ConfigError("init_file", f"{len(missing)} node(s) missing, e.g. {missing[:3]}")
        extra = sorted(set(rise_by_name) - set(self.node_names))
        if extra:
            raise ConfigError("init_file", f"unknown node name(s) for this model, e.g. {extra[:3]}")
        rise = np.array([rise_by_name[name] for name in self.node_names], dtype=float)
        n_blocks = len(self.node_names) - N_PACKAGE
        absolute = rise[:n_blocks] + self.ambient_K
        theta = self._init_from_blocks @ absolute - self.ambient_K
        theta[-N_PACKAGE:] = rise[n_blocks:]
        return theta

    def has_grid_maps(self) -> bool:
        return True

    # -- natural convection (package model) ----------------------------------------------------
    def mean_sink_rise(self, theta: np.ndarray) -> float:
        """Area-weighted mean sink temperature rise (HotSpot's calc_sink_temp_grid): the sink blocks under the
        die, then the peripheral sink nodes by the areas they stand for, over the sink's whole area (area no
        block covers counts at 0 K, as in HotSpot)."""
        st, last = self.stack, self.layers[-1]
        ssp, w, h = st.s_spreader, self.width_m, self.height_m
        weights = np.concatenate([last.width_m * last.height_m,
                                  np.full(2, 0.25 * (ssp + h) * (ssp - w)),  # SINK_C_W, SINK_C_E
                                  np.full(2, 0.25 * (ssp + w) * (ssp - h)),  # SINK_C_N, SINK_C_S
                                  np.full(4, 0.25 * (st.s_sink ** 2 - ssp ** 2))])  # SINK_W .. SINK_S
        rises = np.concatenate([self._block_values(theta)[-len(last.block_names):], theta[-N_PACKAGE + 4:]])
        sink_area = st.s_sink ** 2
        # computed on rises, so that a sink at ambient gives exactly 0 rather than a rounding error of ~1e-13 K
        return float(weights @ rises) / sink_area - self.ambient_K * (1.0 - weights.sum() / sink_area)

    def with_r_convec(self, r_convec_K_per_W: float) -> GridCircuit:
        """The same stack with another convection resistance (natural convection updates it)."""
        return GridCircuit(self.layers, replace(self.stack, r_convec=r_convec_K_per_W), self.rows, self.cols,
                           self.ambient_K, self.map_mode, self.detailed, self.package)

    def grid_maps(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        cube = theta[: self.n_layers * self.n_cells].reshape(self.n_layers, self.rows, self.cols)
        return {name: cube[n] for n, name in enumerate(self.layer_names)}


def _die_size(layers: Sequence[ChipLayer]) -> tuple[float, float]:
    """Die width and height from the first layer's floorplan; every layer must match (HotSpot: eq within 1e-6)."""
    sizes = []
    for layer in layers:
        right, top = layer.left_m + layer.width_m, layer.bottom_m + layer.height_m
        sizes.append((right.max() - layer.left_m.min(), top.max() - layer.bottom_m.min()))
    for layer, (w, h) in zip(layers[1:], sizes[1:], strict=True):
        if abs(w - sizes[0][0]) >= TOLERANCE or abs(h - sizes[0][1]) >= TOLERANCE:
            raise ConfigError("grid_layer_file", f"layer {layer.name} is {w} x {h} m but layer {layers[0].name} is "
                                                 f"{sizes[0][0]} x {sizes[0][1]} m: width and height differ "
                                                 "across layers")
    return sizes[0]


def chip_layer(name: str, node_prefix: str, floorplan, *, conductivity_W_per_mK: float,
               specific_heat_J_per_m3K: float, thickness_m: float, lateral: bool, has_power: bool) -> ChipLayer:
    """A ``ChipLayer`` from a ``formats.flp.Floorplan`` and the layer's material."""
    blocks = tuple(floorplan)
    if not blocks:
        raise ConfigError("floorplan", f"layer {name} has an empty floorplan")
    if conductivity_W_per_mK <= 0 or specific_heat_J_per_m3K <= 0 or thickness_m <= 0:
        raise ConfigError(name, "conductivity, specific heat and thickness must be positive")

    def column(attr):
        return np.array([getattr(b, attr) for b in blocks], dtype=float)

    own_k = np.array([1.0 / b.resistivity_mK_per_W if b.resistivity_mK_per_W else np.nan for b in blocks])
    own_sh = np.array([b.specific_heat_J_per_m3K if b.specific_heat_J_per_m3K else np.nan for b in blocks])
    return ChipLayer(name, node_prefix, tuple(b.name for b in blocks), column("left_m"), column("bottom_m"),
                     column("width_m"), column("height_m"), float(conductivity_W_per_mK),
                     float(specific_heat_J_per_m3K), float(thickness_m), bool(lateral), bool(has_power), own_k, own_sh)


def _is_on(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("on", "1", "true", "yes")
    return bool(value)


def build_grid_circuit(config, *, floorplan=None, layers=None, materials=None) -> GridCircuit:
    """HotSpot's grid model for ``config``: a 2D die (``floorplan``) or a 3D stack (``layers`` from an LCF).

    Parameters
    ----------
    config : HotSpotConfig
        Uses the package, chip and interface flags, ``ambient``, ``grid_rows``/``grid_cols``,
        ``grid_map_mode``, ``detailed_3D`` and ``model_secondary`` (not supported: rejected).
    floorplan : Floorplan, optional
        The die for the 2D case: HotSpot's default stack of silicon (``-k_chip``, ``-p_chip``,
        ``-t_chip``, power) over the interface material (``-k_interface`` ...).
    layers : list of LcfLayer, optional
        The 3D stack, layer 0 farthest from the sink; each layer's ``floorplan_path`` is read.
    materials : mapping of name to material, optional
        The materials file, for ``-material_chip`` / ``-material_sink`` ... names.
    """
    if _is_on(getattr(config, "model_secondary", 0)):
        raise ConfigError("model_secondary", "the secondary heat path (-model_secondary 1) is not supported "
                                             "by the built-in grid model")
    detailed = _is_on(getattr(config, "detailed_3D", False))
    stack, package = package_stack(config, materials)
    if layers:
        from ailfm.thermal.formats.flp import read_flp

        floorplans: dict[Path, object] = {}
        chip_layers = []
        for position, lcf_layer in enumerate(sorted(layers, key=lambda layer: layer.number)):
            if lcf_layer.number != position:
                raise ConfigError("grid_layer_file",
                                  f"layer numbers must run 0..{len(layers) - 1}, got {lcf_layer.number}")
            path = Path(lcf_layer.floorplan_path)
            if path not in floorplans:
                floorplans[path] = lcf_layer.floorplan if lcf_layer.floorplan is not None else read_flp(path)
            chip_layers.append(chip_layer(
                f"layer_{position}", f"layer_{position}_", floorplans[path],
                conductivity_W_per_mK=1.0 / lcf_layer.resistivity_mK_per_W,
                specific_heat_J_per_m3K=lcf_layer.specific_heat_J_per_m3K, thickness_m=lcf_layer.thickness_m,
                lateral=lcf_layer.lateral_heat_flow, has_power=lcf_layer.has_power))
    elif floorplan is not None:
        if detailed:
            raise ConfigError("detailed_3D", "-detailed_3D on needs a layer configuration file (-grid_layer_file)")
        chip_layers = [
            chip_layer("silicon", "", floorplan, conductivity_W_per_mK=stack.k_chip,
                       specific_heat_J_per_m3K=stack.p_chip, thickness_m=stack.t_chip, lateral=True, has_power=True),
            chip_layer("iface", "iface_", floorplan, conductivity_W_per_mK=stack.k_interface,
                       specific_heat_J_per_m3K=stack.p_interface, thickness_m=stack.t_interface, lateral=True,
                       has_power=False),
        ]
    else:
        raise ConfigError("grid_layer_file", "the grid model needs a floorplan or a layer configuration file")
    return GridCircuit(chip_layers, stack, int(config.grid_rows), int(config.grid_cols),
                       ambient_K=float(config.ambient), map_mode=str(config.grid_map_mode).lower(), detailed=detailed,
                       package=package)
