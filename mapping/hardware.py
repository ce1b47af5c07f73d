"""Multi-chiplet hardware: chiplet types on a 2D-mesh network-on-package with DRAM channels at the edges.

A description is a YAML file (see ``mapping/presets/*.yaml`` and docs/compass.md), validated once into
frozen dataclasses. The mesh uses XY dimension-order routing; DRAM channels sit on the left (x = 0)
and right (x = cols - 1) mesh columns, each attached to a contiguous run of edge routers, and DRAM
traffic is striped evenly over all channels and over each channel's routers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from importlib import resources
from pathlib import Path

import numpy as np

from ailfm.errors import ConfigError
from ailfm.mapping.files import Lines, load_document, positive, require

DATAFLOWS = ("os", "ws", "nvdla", "eyeriss")


@dataclass(frozen=True)
class ChipletType:
    """One chiplet design: dataflow, MAC count, on-chip buffer and clock."""

    name: str
    dataflow: str
    macs: int
    buffer_KiB: float
    frequency_GHz: float = 1.0

    def __post_init__(self):
        if self.dataflow not in DATAFLOWS:
            raise ConfigError(f"chiplet_types.{self.name}.dataflow",
                              f"unknown dataflow {self.dataflow!r}; known: {', '.join(DATAFLOWS)}")
        for name in ("macs", "buffer_KiB", "frequency_GHz"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"chiplet_types.{self.name}.{name}", f"must be > 0, got {getattr(self, name)}")

    @property
    def buffer_bytes(self) -> float:
        return self.buffer_KiB * 1024.0

    @property
    def array_shape(self) -> tuple[int, int]:
        """PE array (rows, cols): the most square factor pair of ``macs`` (rows <= cols)."""
        rows = int(np.sqrt(self.macs))
        while self.macs % rows:
            rows -= 1
        return rows, self.macs // rows


@dataclass(frozen=True)
class Hardware:
    """Chiplets on a ``mesh_cols x mesh_rows`` mesh; chiplet c sits at (c mod cols, c div cols)."""

    name: str
    mesh_cols: int
    mesh_rows: int
    types: tuple[ChipletType, ...]
    chiplet_type: tuple[int, ...]  # index into ``types`` per chiplet, row-major
    nop_link_GBps: float = 128.0
    nop_pJ_per_bit_hop: float = 0.5
    dram_channels: int = 4
    dram_channel_GBps: float = 64.0
    dram_pJ_per_bit: float = 20.0

    def __post_init__(self):
        if self.mesh_cols < 1 or self.mesh_rows < 1:
            raise ConfigError("mesh", f"needs >= 1 column and row, got {self.mesh_cols}x{self.mesh_rows}")
        if len(self.chiplet_type) != self.n_chiplets:
            raise ConfigError("layout", f"{len(self.chiplet_type)} chiplets for a "
                              f"{self.mesh_cols}x{self.mesh_rows} mesh")
        if any(not 0 <= k < len(self.types) for k in self.chiplet_type):
            raise ConfigError("layout", "a chiplet refers to an unknown type")
        for name in ("nop_link_GBps", "nop_pJ_per_bit_hop", "dram_channel_GBps", "dram_pJ_per_bit"):
            if not getattr(self, name) >= 0 or (name.endswith("GBps") and getattr(self, name) == 0):
                raise ConfigError(name, f"must be > 0, got {getattr(self, name)}")
        if self.dram_channels < 1:
            raise ConfigError("dram.channels", f"must be >= 1, got {self.dram_channels}")

    @property
    def n_chiplets(self) -> int:
        return self.mesh_cols * self.mesh_rows

    @cached_property
    def xy(self) -> np.ndarray:
        """(n, 2) mesh coordinates (x = column, y = row)."""
        c = np.arange(self.n_chiplets)
        return np.stack([c % self.mesh_cols, c // self.mesh_cols], axis=1)

    @cached_property
    def hops(self) -> np.ndarray:
        """(n, n) XY-routing hop counts (Manhattan distance)."""
        return np.abs(self.xy[:, None, :] - self.xy[None, :, :]).sum(axis=2)

    @cached_property
    def dram_router_weight(self) -> np.ndarray:
        """Share of striped DRAM traffic entering the mesh at each chiplet's router (sums to 1)."""
        weight = np.zeros(self.n_chiplets)
        n_left = -(-self.dram_channels // 2)
        sides = [(0, n_left), (self.mesh_cols - 1, self.dram_channels - n_left)]
        for x, n_ch in sides:
            if n_ch == 0:
                continue
            rows = np.array_split(np.arange(self.mesh_rows), n_ch)
            for run in rows:
                runs = run if len(run) else np.array([0])
                for y in runs:
                    weight[y * self.mesh_cols + x] += 1.0 / (self.dram_channels * len(runs))
        return weight

    @cached_property
    def dram_direction_shares(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per chiplet d: shares of DRAM->d traffic on d's 4 inbound links (W, E, N, S), of d->DRAM traffic on
        its 4 outbound links, and the mean hop count to the DRAM routers. Under XY routing every flow into d
        passes one inbound link of d and carries a superset of the flows on any link upstream, so these
        four links hold the maximum per-link load of a many-to-one pattern (and likewise outbound)."""
        n = self.n_chiplets
        w = self.dram_router_weight
        inbound = np.zeros((n, 4))
        outbound = np.zeros((n, 4))
        for d in range(n):
            inbound[d] = self.direction_onehot(np.arange(n), np.full(n, d)).T @ w
            outbound[d] = self.direction_onehot_out(np.full(n, d), np.arange(n)).T @ w
        return inbound, outbound, self.hops @ w

    @cached_property
    def links(self) -> np.ndarray:
        """(n_links, 2) directed mesh links as (from chiplet, to chiplet) between neighbouring routers."""
        pairs = []
        for c in range(self.n_chiplets):
            x, y = self.xy[c]
            for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                if 0 <= x + dx < self.mesh_cols and 0 <= y + dy < self.mesh_rows:
                    pairs.append((c, (y + dy) * self.mesh_cols + x + dx))
        return np.asarray(pairs, np.int64).reshape(-1, 2)

    def route_links(self) -> np.ndarray:
        """(n, n, n_links) 0/1: the links of the XY route (x first, then y) from a source to a destination.
        Not cached: it is large and the Hardware object travels to every evaluation worker."""
        n = self.n_chiplets
        index = {tuple(pair): k for k, pair in enumerate(self.links.tolist())}
        routes = np.zeros((n, n, len(index)))
        for src in range(n):
            for dst in range(n):
                (x, y), (xd, yd) = self.xy[src], self.xy[dst]
                here = src
                while (x, y) != (xd, yd):
                    if x != xd:
                        x += 1 if xd > x else -1
                    else:
                        y += 1 if yd > y else -1
                    nxt = y * self.mesh_cols + x
                    routes[src, dst, index[(here, nxt)]] = 1.0
                    here = nxt
        return routes

    @cached_property
    def dram_link_shares(self) -> tuple[np.ndarray, np.ndarray]:
        """(n, n_links) share of a chiplet's DRAM reads (striped over the DRAM routers, then XY-routed to it) on
        every link, and likewise of its DRAM writes."""
        w, routes = self.dram_router_weight, self.route_links()
        return np.einsum("r,rdl->dl", w, routes), np.einsum("r,drl->dl", w, routes)

    def direction_onehot(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """One-hot (..., 4) of the inbound link (W, E, N, S) of ``dst`` that an XY route from ``src`` uses
        (all zeros when src == dst)."""
        xs, ys = self.xy[src, 0], self.xy[src, 1]
        xd, yd = self.xy[dst, 0], self.xy[dst, 1]
        same_row = ys == yd
        return np.stack([same_row & (xs < xd), same_row & (xs > xd), ys < yd, ys > yd], axis=-1).astype(float)

    def direction_onehot_out(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """One-hot (..., 4) of the outbound link (W, E, N, S) of ``src`` that an XY route to ``dst`` uses."""
        xs, ys = self.xy[src, 0], self.xy[src, 1]
        xd, yd = self.xy[dst, 0], self.xy[dst, 1]
        same_col = xs == xd
        return np.stack([xd < xs, xd > xs, same_col & (yd < ys), same_col & (yd > ys)], axis=-1).astype(float)

    @property
    def dram_GBps(self) -> float:
        return self.dram_channels * self.dram_channel_GBps

    @property
    def total_macs(self) -> int:
        return sum(self.types[k].macs for k in self.chiplet_type)

    def with_types(self, types: tuple[ChipletType, ...], chiplet_type: tuple[int, ...], name: str | None = None):
        """A copy with other chiplet designs (used by the hardware search)."""
        return replace(self, types=types, chiplet_type=chiplet_type, name=name or self.name)


# ---------------------------------------------------------------------------------------------- YAML
def _chiplet_types(doc: dict, lines: Lines) -> tuple[ChipletType, ...]:
    raw = require(doc, "chiplet_types", lines, dict)
    if not raw:
        raise lines.error("chiplet_types", "needs at least one chiplet type")
    types = []
    for name, spec in raw.items():
        pre = f"chiplet_types.{name}"
        dataflow = require(spec, "dataflow", lines, str, prefix=pre)
        if dataflow not in DATAFLOWS:
            raise lines.error(f"{pre}.dataflow", f"unknown dataflow {dataflow!r}; known: {', '.join(DATAFLOWS)}")
        macs = int(positive(require(spec, "macs", lines, int, prefix=pre), f"{pre}.macs", lines))
        buf = positive(require(spec, "buffer_KiB", lines, float, prefix=pre), f"{pre}.buffer_KiB", lines)
        freq = spec.get("frequency_GHz", 1.0)
        if isinstance(freq, bool) or not isinstance(freq, (int, float)) or freq <= 0:
            raise lines.error(f"{pre}.frequency_GHz", f"must be a number > 0, got {freq!r}")
        types.append(ChipletType(str(name), dataflow, macs, buf, float(freq)))
    return tuple(types)


def hardware_from_dict(doc: dict, lines: Lines) -> Hardware:
    """Validate a parsed hardware description; every error names its field (and line)."""
    if not isinstance(doc, dict):
        raise lines.error("hardware", "expected a mapping of fields")
    mesh = require(doc, "mesh", lines, dict)
    cols = int(positive(require(mesh, "cols", lines, int, prefix="mesh"), "mesh.cols", lines))
    rows = int(positive(require(mesh, "rows", lines, int, prefix="mesh"), "mesh.rows", lines))
    types = _chiplet_types(doc, lines)
    names = [t.name for t in types]
    layout = require(doc, "layout", lines, (str, list))
    if isinstance(layout, str):
        layout = [[layout] * cols] * rows
    if len(layout) != rows:
        raise lines.error("layout", f"expected {rows} rows, got {len(layout)}")
    chiplet_type = []
    for y, row in enumerate(layout):
        if not isinstance(row, list) or len(row) != cols:
            raise lines.error(f"layout[{y}]", f"expected a list of {cols} chiplet type names")
        for x, name in enumerate(row):
            if name not in names:
                raise lines.error(f"layout[{y}][{x}]", f"unknown chiplet type {name!r}; known: {', '.join(names)}")
            chiplet_type.append(names.index(name))
    nop = doc.get("nop", {})
    dram = doc.get("dram", {})
    kwargs = {}
    for section, sec_name, key, attr, kind in (
        (nop, "nop", "link_bandwidth_GBps", "nop_link_GBps", float),
        (nop, "nop", "energy_pJ_per_bit_hop", "nop_pJ_per_bit_hop", float),
        (dram, "dram", "channels", "dram_channels", int),
        (dram, "dram", "channel_bandwidth_GBps", "dram_channel_GBps", float),
        (dram, "dram", "energy_pJ_per_bit", "dram_pJ_per_bit", float),
    ):
        if key in section:
            kwargs[attr] = positive(require(section, key, lines, kind, prefix=sec_name), f"{sec_name}.{key}", lines)
    return Hardware(str(doc.get("name", "hardware")), cols, rows, types, tuple(chiplet_type), **kwargs)


HARDWARE_PRESETS = ("he-36", "os-36", "ws-36", "simba-36")


def load_hardware(spec: str | Path) -> Hardware:
    """A preset name (``he-36``: 18 OS + 18 WS; ``os-36``; ``ws-36``; ``simba-36``) or a YAML path."""
    if str(spec) in HARDWARE_PRESETS:
        ref = resources.files("ailfm.mapping.presets") / f"{spec}.yaml"
        with resources.as_file(ref) as path:
            doc, lines = load_document(path)
    else:
        path = Path(spec)
        if not path.exists():
            raise ConfigError("hardware", f"unknown hardware {spec!r}: not a preset "
                              f"({', '.join(HARDWARE_PRESETS)}) and not a YAML path")
        doc, lines = load_document(path)
    return hardware_from_dict(doc, lines)


def homogeneous(chiplet: ChipletType, cols: int, rows: int, name: str = "homogeneous", **kwargs) -> Hardware:
    """Every chiplet of the same type."""
    return Hardware(name, cols, rows, (chiplet,), (0,) * (cols * rows), **kwargs)
