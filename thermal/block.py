"""HotSpot's block model as an RC circuit: four nodes per floorplan block plus twelve package nodes.

Derivation (HotSpot 7.0 ``temperature_block.c`` and ``temperature.c`` re-derived; see docs/thermal-model.md)
-------------------------------------------------------------------------------------------------------
Every block ``i`` (width ``w``, height ``h``, area ``A = w h``) is a column of four nodes: silicon,
thermal interface (TIM), spreader and sink, each a lumped slab of its layer under the block. With a
layer of conductivity ``k`` and thickness ``t``:

* Lateral, within a layer: from a block's centre to its east/west edge the heat crosses half the block's
  width through a cross-section ``h t``, i.e. ``g_x = 2 k h t / w`` per block, ``g_x / h`` per metre of
  edge; likewise ``g_y = 2 k w t / h`` to the north/south edge. Two blocks sharing an edge of length
  ``L`` are joined by the two half-block conductances ``(g/side)_i L`` and ``(g/side)_j L`` in series.
  ``block_omit_lateral`` removes the silicon layer's lateral paths.
* Vertical: silicon -> TIM through the full silicon thickness (``k_chip A / t_chip``), TIM -> spreader
  through the TIM (``k_tim A / t_tim``), spreader -> sink through the spreader; the sink node reaches
  ambient through the sink's thickness in series with its area share of the convection resistance,
  ``r_convec s_sink^2 / A``.
* The spreader and sink overhang the die. Each overhang is split into four trapezoids (west, east,
  north, south) lumped into one node each: the spreader's four peripheral nodes, the sink's four inner
  peripheral nodes (under the spreader's overhang) and the sink's four outer ones (beyond the spreader).
  A die-edge block joins the peripheral node of its side through its half-block conductance; the
  lateral resistance of the trapezoid is shared among the edge blocks in proportion to their
  conductance, so that the whole edge is (edge blocks in parallel) + (trapezoid) in series.
* Capacitances are ``C_FACTOR * (volumetric heat capacity) * thickness * area`` with HotSpot's fitting
  factor ``C_FACTOR = 0.333``; the convection capacitance ``c_convec`` is spread over the sink by area
  and also scaled by ``C_FACTOR``.

Node order (HotSpot's ``.steady`` order): the blocks, ``iface_<b>``, ``hsp_<b>``, ``hsink_<b>``, then
``inode_0..11`` = spreader W E N S, inner sink W E N S, outer sink W E N S.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from ailfm.errors import ConfigError
from ailfm.thermal.network import RCNetwork, ThermalCircuit
from ailfm.thermal.package import PackageConfig, convection_resistance_K_per_W, read_package_config

# HotSpot's lumped-vs-distributed capacitance fitting factor ("to match floworks"), temperature.h C_FACTOR.
C_FACTOR = 0.333
# HotSpot compares floorplan coordinates with an absolute tolerance of 1 um (util.h DELTA, metres).
COORDINATE_TOLERANCE_M = 1.0e-6
# Peripheral package nodes, in HotSpot's inode order.
PACKAGE_NODE_SIDES = ("sp_W", "sp_E", "sp_N", "sp_S", "sink_inner_W", "sink_inner_E", "sink_inner_N",
                      "sink_inner_S", "sink_outer_W", "sink_outer_E", "sink_outer_N", "sink_outer_S")
N_PACKAGE_NODES = len(PACKAGE_NODE_SIDES)
_SIDES = ("W", "E", "N", "S")


@dataclass(frozen=True)
class StackProperties:
    """The resolved physical parameters of the block model's layers and package (SI units).

    Built from a ``HotSpotConfig`` by :func:`stack_properties` (material names resolved, package model
    applied); ``k_*`` in W/(m K), ``p_*`` volumetric heat capacity in J/(m^3 K), ``t_*``/``s_*`` in m.
    """

    t_chip: float
    k_chip: float
    p_chip: float
    t_interface: float
    k_interface: float
    p_interface: float
    s_spreader: float
    t_spreader: float
    k_spreader: float
    p_spreader: float
    s_sink: float
    t_sink: float
    k_sink: float
    p_sink: float
    r_convec: float
    c_convec: float


def stack_properties(config, materials=None) -> StackProperties:
    """Resolve a ``HotSpotConfig`` into layer properties: ``material_*`` names override ``k_*``/``p_*`` as in
    HotSpot (``HotSpotConfig.with_materials``)."""
    config = config.with_materials(materials or {})
    values = {name: float(getattr(config, name)) for name in StackProperties.__dataclass_fields__}
    for name, value in values.items():
        if not value > 0 and name not in ("r_convec", "c_convec"):
            raise ConfigError(name, f"must be > 0, got {value}")
        if value < 0:
            raise ConfigError(name, f"must be >= 0, got {value}")
    if values["s_spreader"] >= values["s_sink"]:
        raise ConfigError("s_spreader", f"the spreader ({values['s_spreader']} m) must be smaller than the sink "
                                        f"({values['s_sink']} m): the sink's overhang would have no heat capacity")
    return StackProperties(**values)


def package_config_of(config) -> PackageConfig | None:
    """The package description HotSpot would use, or ``None`` when ``package_model_used`` is off."""
    if not config.package_model_used:
        return None
    return PackageConfig() if config.package_config_file is None else read_package_config(config.package_config_file)


def package_stack(config, materials=None) -> tuple[StackProperties, PackageConfig | None]:
    """The layer properties and package description both models start from: with ``package_model_used`` the
    convection resistance comes from the package (for natural convection, at HotSpot's starting guess of
    ambient + 0.01 K; the model refines it)."""
    stack = stack_properties(config, materials)
    package = package_config_of(config)
    if package is not None:
        r_convec = convection_resistance_K_per_W(package, s_sink_m=stack.s_sink, k_sink_W_per_mK=stack.k_sink,
                                                 ambient_K=float(config.ambient))
        stack = replace(stack, r_convec=r_convec)
    return stack, package


def _floorplan_arrays(floorplan) -> tuple[tuple[str, ...], np.ndarray]:
    """Names and an (n, 4) array of [left, bottom, width, height] (m), shifted so the die starts at (0, 0)."""
    blocks = list(floorplan.blocks)
    if not blocks:
        raise ConfigError("floorplan", "has no blocks")
    names = tuple(b.name for b in blocks)
    box = np.array([[b.left_m, b.bottom_m, b.width_m, b.height_m] for b in blocks], dtype=float)
    box[:, 0] -= box[:, 0].min()
    box[:, 1] -= box[:, 1].min()
    return names, box


def _edge_contacts(box: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairwise (horizontal-neighbour, vertical-neighbour, shared edge length m) of blocks, as HotSpot's flp.c judges
    adjacency: edges coincide within 1 um, the spans overlap (inclusively), and corner-only contact does not count."""
    x1, y1 = box[:, 0], box[:, 1]
    x2, y2 = x1 + box[:, 2], y1 + box[:, 3]
    x1i, x2i, y1i, y2i = (a[:, None] for a in (x1, x2, y1, y2))
    x1j, x2j, y1j, y2j = (a[None, :] for a in (x1, x2, y1, y2))

    def close(a, b):
        return np.abs(a - b) < COORDINATE_TOLERANCE_M

    corner = ((close(x2i, x1j) & close(y2i, y1j)) | (close(x1i, x2j) & close(y1i, y2j))
              | (close(x2i, x1j) & close(y1i, y2j)) | (close(x1i, x2j) & close(y2i, y1j)))

    def spans_overlap(a1, a2, b1, b2):
        def within(v, lo, hi):
            return (v >= lo) & (v <= hi)

        return within(b1, a1, a2) | within(b2, a1, a2) | within(a1, b1, b2) | within(a2, b1, b2)

    not_self = ~np.eye(len(box), dtype=bool)
    horizontal = not_self & ~corner & (close(x1i, x2j) | close(x2i, x1j)) & spans_overlap(y1i, y2i, y1j, y2j)
    vertical = not_self & ~corner & (close(y1i, y2j) | close(y2i, y1j)) & spans_overlap(x1i, x2i, x1j, x2j)
    shared = np.where(vertical, np.minimum(x2i, x2j) - np.maximum(x1i, x1j),
                      np.where(horizontal, np.minimum(y2i, y2j) - np.maximum(y1i, y1j), 0.0))
    return horizontal, vertical, shared


def _series(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Conductances in series, elementwise; zero where either is zero (an absent path)."""
    out = np.zeros(np.broadcast(a, b).shape)
    both = (a != 0) & (b != 0)
    out[both] = 1.0 / (1.0 / np.broadcast_to(a, out.shape)[both] + 1.0 / np.broadcast_to(b, out.shape)[both])
    return out


class BlockCircuit(ThermalCircuit):
    """HotSpot's block-model circuit of one floorplan (see the module docstring for the derivation).

    Attributes (beyond ``ThermalCircuit``)
    --------------------------------------
    stack : StackProperties
        The resolved layer and package parameters the circuit was built from.
    package_model : PackageConfig or None
        The detailed package model, when ``package_model_used`` is on.
    block_area_m2 : ndarray
        Block areas, in floorplan order.
    """

    def __init__(self, names: tuple[str, ...], box: np.ndarray, stack: StackProperties, *, omit_lateral: bool,
                 package: PackageConfig | None = None):
        self.power_names = self.output_names = names
        self.node_names = (names + tuple(f"iface_{b}" for b in names) + tuple(f"hsp_{b}" for b in names)
                           + tuple(f"hsink_{b}" for b in names) + tuple(f"inode_{i}" for i in range(N_PACKAGE_NODES)))
        self.stack, self.package_model, self.omit_lateral = stack, package, omit_lateral
        self._box = box
        self.block_area_m2 = box[:, 2] * box[:, 3]
        self.chip_width_m = float((box[:, 0] + box[:, 2]).max())
        self.chip_height_m = float((box[:, 1] + box[:, 3]).max())
        if max(self.chip_width_m, self.chip_height_m) >= stack.s_spreader:
            raise ConfigError("s_spreader", f"the die ({self.chip_width_m:g} m x {self.chip_height_m:g} m) must be "
                                            f"smaller than the spreader ({stack.s_spreader:g} m)")
        self._index = {name: i for i, name in enumerate(self.node_names)}
        self.network = self._build_network()

    # ---- the circuit -------------------------------------------------------------------------------------
    def _overhang_areas_m2(self) -> np.ndarray:
        """Areas (m^2) of the W, E, N, S trapezoids of the spreader (beyond the die), the sink under them, and the
        sink beyond the spreader."""
        s, w, h, big = self.stack.s_spreader, self.chip_width_m, self.chip_height_m, self.stack.s_sink
        x_side = (s + h) * (s - w) / 4.0
        y_side = (s + w) * (s - h) / 4.0
        return np.array([x_side, x_side, y_side, y_side]), (big * big - s * s) / 4.0

    def _build_network(self) -> RCNetwork:
        st, box = self.stack, self._box
        n = len(self.power_names)
        width, height = box[:, 2], box[:, 3]
        area = self.block_area_m2
        layers = [(st.k_chip, st.t_chip), (st.k_interface, st.t_interface),
                  (st.k_spreader, st.t_spreader), (st.k_sink, st.t_sink)]
        # Half-block lateral conductances (centre -> edge), per layer: shape (4, n).
        g_half_x = np.array([2.0 * k * height * t / width for k, t in layers])
        g_half_y = np.array([2.0 * k * width * t / height for k, t in layers])
        if self.omit_lateral:
            g_half_x[0] = g_half_y[0] = 0.0

        m = 4 * n + N_PACKAGE_NODES
        g = np.zeros((m, m))  # off-diagonal conductances between nodes (W/K), symmetric
        horizontal, vertical, shared = _edge_contacts(box)
        for layer in range(4):
            per_length = np.where(horizontal, (g_half_x[layer] / height)[:, None],
                                  np.where(vertical, (g_half_y[layer] / width)[:, None], 0.0))
            to_edge = per_length * shared  # i's half towards the edge it shares with j
            block = slice(layer * n, (layer + 1) * n)
            g[block, block] = _series(to_edge, to_edge.T)
        # Vertical paths down the column: silicon->TIM->spreader->sink, each through its layer's thickness.
        for layer in range(3):
            k, t = layers[layer]
            idx = np.arange(n)
            g[layer * n + idx, (layer + 1) * n + idx] = g[(layer + 1) * n + idx, layer * n + idx] = k * area / t

        # Die-edge blocks to the peripheral spreader/sink nodes.
        w_chip, h_chip = self.chip_width_m, self.chip_height_m
        left, bottom = box[:, 0], box[:, 1]
        on_side = np.array([np.abs(left) < COORDINATE_TOLERANCE_M,
                            np.abs(left + width - w_chip) < COORDINATE_TOLERANCE_M,
                            np.abs(bottom + height - h_chip) < COORDINATE_TOLERANCE_M,
                            np.abs(bottom) < COORDINATE_TOLERANCE_M])  # W, E, N, S x n
        s = st.s_spreader

        def lateral_r(k, t, length_across, breadth):
            return length_across / (k * breadth * t)

        # Resistance (K/W) of the part of each trapezoid between the die edge and the trapezoid's lumped node.
        r_sp_edge = np.array([lateral_r(st.k_spreader, st.t_spreader, (s - w_chip) / 4, (s + 3 * h_chip) / 4)] * 2
                             + [lateral_r(st.k_spreader, st.t_spreader, (s - h_chip) / 4, (s + 3 * w_chip) / 4)] * 2)
        r_hs_edge = np.array([lateral_r(st.k_sink, st.t_sink, (s - w_chip) / 4, (s + 3 * h_chip) / 4)] * 2
                             + [lateral_r(st.k_sink, st.t_sink, (s - h_chip) / 4, (s + 3 * w_chip) / 4)] * 2)
        for layer, r_edge, first in ((2, r_sp_edge, 4 * n), (3, r_hs_edge, 4 * n + 4)):
            for side in range(4):
                g_block = g_half_x[layer] if side < 2 else g_half_y[layer]
                g_edge_total = g_block[on_side[side]].sum()
                g_link = np.where(on_side[side], g_block / (1.0 + r_edge[side] * g_edge_total), 0.0)
                rows = layer * n + np.arange(n)
                g[rows, first + side] = g[first + side, rows] = g_link

        side_area, outer_area = self._overhang_areas_m2()
        sp_nodes, inner_nodes, outer_nodes = 4 * n + np.arange(4), 4 * n + 4 + np.arange(4), 4 * n + 8 + np.arange(4)
        # Spreader trapezoid down into the sink under it.
        g[sp_nodes, inner_nodes] = g[inner_nodes, sp_nodes] = st.k_spreader * side_area / st.t_spreader
        # Inner sink trapezoid outwards to the outer sink: the rest of the inner trapezoid plus the outer one.
        r_inner_out = np.array(
            [lateral_r(st.k_sink, st.t_sink, (s - w_chip) / 4, (3 * s + h_chip) / 4)] * 2
            + [lateral_r(st.k_sink, st.t_sink, (s - h_chip) / 4, (3 * s + w_chip) / 4)] * 2)
        r_outer = lateral_r(st.k_sink, st.t_sink, (st.s_sink - s) / 4, (st.s_sink + 3 * s) / 4)
        g[inner_nodes, outer_nodes] = g[outer_nodes, inner_nodes] = 1.0 / (r_outer + r_inner_out)

        # To ambient: through the sink's thickness, then the area share of r_convec.
        share = st.r_convec * st.s_sink**2
        g_ambient = np.zeros(m)
        g_ambient[3 * n:4 * n] = 1.0 / (st.t_sink / (st.k_sink * area) + share / area)
        g_ambient[inner_nodes] = 1.0 / (st.t_sink / (st.k_sink * side_area) + share / side_area)
        g_ambient[outer_nodes] = 1.0 / (st.t_sink / (st.k_sink * outer_area) + share / outer_area)

        capacitance = np.empty(m)
        for layer, (p, t) in enumerate([(st.p_chip, st.t_chip), (st.p_interface, st.t_interface),
                                        (st.p_spreader, st.t_spreader), (st.p_sink, st.t_sink)]):
            capacitance[layer * n:(layer + 1) * n] = C_FACTOR * p * t * area
        convection_per_area = C_FACTOR * st.c_convec / st.s_sink**2
        capacitance[3 * n:4 * n] += convection_per_area * area
        capacitance[sp_nodes] = C_FACTOR * st.p_spreader * st.t_spreader * side_area
        capacitance[inner_nodes] = (C_FACTOR * st.p_sink * st.t_sink + convection_per_area) * side_area
        capacitance[outer_nodes] = (C_FACTOR * st.p_sink * st.t_sink + convection_per_area) * outer_area

        conductance = sp.csr_matrix(sp.diags(g.sum(axis=1) + g_ambient) - sp.csr_matrix(g))
        power_to_node = sp.csr_matrix((np.ones(n), (np.arange(n), np.arange(n))), shape=(m, n))
        return RCNetwork(conductance, capacitance, g_ambient, power_to_node)

    # ---- what the sink looks like to the natural-convection package model ---------------------------------
    def mean_sink_rise(self, theta: np.ndarray) -> float:
        """Area-weighted mean temperature rise of the sink's base (K): what natural convection depends on."""
        n = len(self.power_names)
        side_area, outer_area = self._overhang_areas_m2()
        weights = np.concatenate([self.block_area_m2, side_area, np.full(4, outer_area)])
        sink = np.concatenate([theta[3 * n:4 * n], theta[4 * n + 4:4 * n + 12]])
        return float(weights @ sink / self.stack.s_sink**2)

    # HotSpot's block model keeps its transient dynamics when natural convection updates r_convec (see model.py).
    convection_refreshes_dynamics = False

    def with_r_convec(self, r_convec_K_per_W: float) -> BlockCircuit:
        """The same circuit with another convection resistance (the package model's update)."""
        return BlockCircuit(self.power_names, self._box, replace(self.stack, r_convec=r_convec_K_per_W),
                            omit_lateral=self.omit_lateral, package=self.package_model)

    # ---- ThermalCircuit ------------------------------------------------------------------------------------
    def outputs(self, theta: np.ndarray) -> np.ndarray:
        return theta[..., :len(self.output_names)]

    def named_nodes(self, theta: np.ndarray) -> np.ndarray:
        return theta

    def theta_from_named(self, rise_by_name: Mapping[str, float]) -> np.ndarray:
        missing = [name for name in self.node_names if name not in rise_by_name]
        if missing:
            raise ConfigError("init_file", f"lacks {len(missing)} node(s) of the block model, e.g. {missing[:3]}")
        extra = [name for name in rise_by_name if name not in self._index]
        if extra:
            raise ConfigError("init_file", f"names node(s) the block model does not have, e.g. {extra[:3]}")
        return np.array([float(rise_by_name[name]) for name in self.node_names])


def build_block_circuit(config, floorplan, materials=None) -> BlockCircuit:
    """Build HotSpot's block-model circuit of ``floorplan`` under ``config`` (a ``HotSpotConfig``).

    With ``package_model_used`` the convection resistance comes from the package description (``package_stack``).
    """
    if config.model_secondary:
        raise ConfigError("model_secondary", "the secondary heat path exists only in the grid model (as in HotSpot)")
    names, box = _floorplan_arrays(floorplan)
    stack, package = package_stack(config, materials)
    return BlockCircuit(names, box, stack, omit_lateral=bool(config.block_omit_lateral), package=package)
