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

from ailfm.errors import ConfigError, unknown_name
from ailfm.files import Lines, known_fields, load_document, positive, require
from ailfm.mapping.package_spec import PackageSpec, package_from_dict

DATAFLOWS = ("os", "ws", "nvdla", "eyeriss")


# The documented design behind each dataflow. Per PE array of rows x cols (8-bit operands, 32-bit partial sums):
#   os      Tesla FSD NPU-like (Talpes et al., "Compute solution for Tesla's Full Self-Driving computer", IEEE
#           Micro 2020): outputs stay in the PEs while inputs enter from the left and weights from the top; the
#           accumulator is double-buffered so a finished tile shifts out while the next accumulates (2 x 32-bit
#           per PE); inputs, weights and outputs share the SRAM; no separate accumulator memory.
#   ws      TPU v1-like (Jouppi et al., "In-datacenter performance analysis of a tensor processing unit", ISCA
#           2017): two weights per PE (double-buffered: the next tile loads while the current one computes);
#           weights come from DRAM through a weight FIFO, not through the unified buffer (which holds inputs and
#           outputs); 32-bit partial sums go to accumulators of 4096 rows per column (TPU v1: 4 MiB for 256
#           columns).
#   nvdla   NVDLA-like (nvdla.org, hardware architecture document, "Convolution Core"): weights held in the MAC
#           cells for a stripe of 16 input rows (one byte per PE, two with the shadow copy), convolution buffer for
#           inputs and weights, 32-bit partial sums in the accumulator (CACC) for one stripe (16 rows x cols).
#   eyeriss Eyeriss-like row-stationary (Chen et al., JSSC 2017): per-PE scratchpads of 224 filter + 12 input +
#           24 partial-sum 16-bit words (520 B); partial sums in the scratchpads, everything else in the global
#           buffer.
# Buffer ports (array side, bytes per cycle): one 8-bit input per array row and one weight per array column per
# cycle (what the array consumes at full rate); outputs and partial sums: one row of 32-bit words per cycle (os
# drains finished tiles or swaps partial sums with the buffer; ws / nvdla / eyeriss read and write their
# accumulators). NVDLA loads the next weight tile within one 16-row stripe: weight port rows x cols / 16.
DESIGN_DEFAULTS = {
    # dataflow: (register bytes per PE, accumulator rows per array column, weights pass the buffer,
    #            output port bytes per cycle per array column)
    "os": (8.0, 0, True, 4),
    "ws": (2.0, 4096, False, 4),
    "nvdla": (2.0, 16, True, 4),
    "eyeriss": (520.0, 0, True, 4),
}
PARTIAL_SUM_BYTES = 4  # 32-bit accumulation (all four designs)
NVDLA_STRIPE_ROWS = 16  # NVDLA reloads weights into the MAC cells per stripe of input rows (nvdla.org hw docs)


def most_square(macs: int) -> tuple[int, int]:
    """The most square factor pair (rows <= cols) of ``macs``."""
    rows = int(np.sqrt(macs))
    while macs % rows:
        rows -= 1
    return rows, macs // rows


@dataclass(frozen=True)
class ChipletType:
    """One chiplet design: dataflow, MAC array, on-chip memories, their ports, clock.

    Fields left as None take the documented design of the dataflow (DESIGN_DEFAULTS): the array is the most square
    factor pair of ``macs``; register, accumulator and port sizes scale with the array."""

    name: str
    dataflow: str
    macs: int
    buffer_KiB: float
    frequency_GHz: float = 1.0
    array: tuple[int, int] | None = None          # PE rows x cols (rows x cols == macs)
    register_bytes: float | None = None           # per PE, for the stationary operand
    accumulator_KiB: float | None = None          # partial-sum memory beside the array (0: none)
    partial_sum_bytes: int = PARTIAL_SUM_BYTES
    input_port_Bpc: float | None = None           # buffer -> array, bytes per cycle
    weight_port_Bpc: float | None = None          # buffer or weight FIFO -> array, bytes per cycle
    output_port_Bpc: float | None = None          # array <-> accumulator / buffer, bytes per cycle
    weights_via_buffer: bool | None = None        # False: weights stream from DRAM through a FIFO (TPU v1)

    def __post_init__(self):
        pre = f"chiplet_types.{self.name}"
        if self.dataflow not in DATAFLOWS:
            raise ConfigError(f"{pre}.dataflow", f"unknown dataflow {self.dataflow!r}; known: {', '.join(DATAFLOWS)}")
        for name in ("macs", "buffer_KiB", "frequency_GHz", "partial_sum_bytes"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{pre}.{name}", f"must be > 0, got {getattr(self, name)}")
        rows, cols = self.array or most_square(self.macs)
        if rows < 1 or cols < 1 or rows * cols != self.macs:
            raise ConfigError(f"{pre}.array", f"rows x cols must equal macs={self.macs}, got {rows} x {cols}")
        reg, acc_rows, via_buffer, out_per_col = DESIGN_DEFAULTS[self.dataflow]
        resolved = {"array": (rows, cols), "register_bytes": reg,
                    "accumulator_KiB": acc_rows * cols * self.partial_sum_bytes / 1024,
                    "input_port_Bpc": float(rows),
                    "weight_port_Bpc": float(rows * cols / NVDLA_STRIPE_ROWS if self.dataflow == "nvdla" else cols),
                    "output_port_Bpc": float(out_per_col * cols), "weights_via_buffer": via_buffer}
        for name, default in resolved.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, default)
        for name in ("input_port_Bpc", "weight_port_Bpc", "output_port_Bpc", "register_bytes"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{pre}.{name}", f"must be > 0, got {getattr(self, name)}")
        if not self.accumulator_KiB >= 0:
            raise ConfigError(f"{pre}.accumulator_KiB", f"must be >= 0, got {self.accumulator_KiB}")

    @property
    def buffer_bytes(self) -> float:
        return self.buffer_KiB * 1024.0

    @property
    def accumulator_bytes(self) -> float:
        return self.accumulator_KiB * 1024.0

    @property
    def array_shape(self) -> tuple[int, int]:
        """PE array (rows, cols)."""
        return self.array


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
    package: PackageSpec = PackageSpec()  # packaging, cooling and static power (package_spec.py)

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
PORT_FIELDS = {"input": "input_port_Bpc", "weight": "weight_port_Bpc", "output": "output_port_Bpc"}


def _optional_number(spec: dict, key: str, lines: Lines, pre: str, *, kind: type = float, minimum: float = 0.0,
                     strict: bool = True):
    """``spec[key]`` if present (a number > minimum, or >= with ``strict=False``), else None."""
    if key not in spec:
        return None
    value = require(spec, key, lines, kind, prefix=pre)
    if value < minimum or (strict and value == minimum):
        raise lines.error(f"{pre}.{key}", f"must be {'>' if strict else '>='} {minimum:g}, got {value!r}")
    return value


def _chiplet_type(name: str, spec: dict, lines: Lines) -> ChipletType:
    pre = f"chiplet_types.{name}"
    dataflow = require(spec, "dataflow", lines, str, prefix=pre)
    if dataflow not in DATAFLOWS:
        raise lines.error(f"{pre}.dataflow", f"unknown dataflow {dataflow!r}; known: {', '.join(DATAFLOWS)}")
    macs = int(positive(require(spec, "macs", lines, int, prefix=pre), f"{pre}.macs", lines))
    buf = positive(require(spec, "buffer_KiB", lines, float, prefix=pre), f"{pre}.buffer_KiB", lines)
    known_fields(spec, KNOWN_CHIPLET_FIELDS, lines, pre)
    if macs > MAX_MACS:
        raise lines.error(f"{pre}.macs", f"must be <= {MAX_MACS}, got {macs}: 16x the largest accelerator array "
                                         "(TPU v1: 65,536 MACs)")
    if buf > MAX_BUFFER_KIB:
        raise lines.error(f"{pre}.buffer_KiB", f"must be <= {MAX_BUFFER_KIB} (1 GiB), got {buf:g}: beyond any "
                                               "chiplet's SRAM")
    freq = require(spec, "frequency_GHz", lines, float, prefix=pre) if "frequency_GHz" in spec else 1.0
    if not 0 < freq <= 10:
        raise lines.error(f"{pre}.frequency_GHz", f"must be in (0, 10], got {freq!r}: no CMOS logic is clocked "
                                                  "above ~6 GHz")
    design = {}
    if "array" in spec:
        shape = spec["array"]
        if (not isinstance(shape, list) or len(shape) != 2
                or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in shape)):
            raise lines.error(f"{pre}.array", f"expected [rows, cols] of integers >= 1, got {shape!r}")
        if shape[0] * shape[1] != macs:
            raise lines.error(f"{pre}.array", f"rows x cols = {shape[0] * shape[1]} but macs = {macs}")
        design["array"] = (shape[0], shape[1])
    design["register_bytes"] = _optional_number(spec, "register_bytes", lines, pre)
    design["accumulator_KiB"] = _optional_number(spec, "accumulator_KiB", lines, pre, strict=False)
    psum = _optional_number(spec, "partial_sum_bytes", lines, pre, kind=int)
    if psum is not None:
        design["partial_sum_bytes"] = psum
    ports = spec.get("ports_bytes_per_cycle", {})
    if not isinstance(ports, dict):
        raise lines.error(f"{pre}.ports_bytes_per_cycle", f"expected a mapping of {', '.join(PORT_FIELDS)}")
    known_fields(ports, PORT_FIELDS, lines, f"{pre}.ports_bytes_per_cycle")
    for key, attr in PORT_FIELDS.items():
        design[attr] = _optional_number(ports, key, lines, f"{pre}.ports_bytes_per_cycle")
    if "weights_via_buffer" in spec:
        design["weights_via_buffer"] = require(spec, "weights_via_buffer", lines, bool, prefix=pre)
    return ChipletType(str(name), dataflow, macs, buf, float(freq), **{k: v for k, v in design.items()
                                                                       if v is not None})


MAX_MACS = 1 << 20
MAX_BUFFER_KIB = 1 << 20
#: mesh side: the route tables hold n_chiplets^2 x n_links entries (~4 n^3); 32 x 32 would be ~4e9
MAX_MESH_SIDE = 16
KNOWN_FIELDS = ("name", "mesh", "chiplet_types", "layout", "nop", "dram", "package")
SECTION_FIELDS = {"mesh": ("cols", "rows"), "nop": ("link_bandwidth_GBps", "energy_pJ_per_bit_hop"),
                  "dram": ("channels", "channel_bandwidth_GBps", "energy_pJ_per_bit")}
KNOWN_CHIPLET_FIELDS = ("dataflow", "macs", "buffer_KiB", "frequency_GHz", "array", "register_bytes",
                        "accumulator_KiB", "partial_sum_bytes", "ports_bytes_per_cycle", "weights_via_buffer")


def _chiplet_types(doc: dict, lines: Lines) -> tuple[ChipletType, ...]:
    raw = require(doc, "chiplet_types", lines, dict)
    if not raw:
        raise lines.error("chiplet_types", "needs at least one chiplet type")
    types = []
    for name, spec in raw.items():
        if not isinstance(spec, dict):
            raise lines.error(f"chiplet_types.{name}", "expected a mapping of fields")
        types.append(_chiplet_type(str(name), spec, lines))
    return tuple(types)


def hardware_from_dict(doc: dict, lines: Lines) -> Hardware:
    """Validate a parsed hardware description; every error names its field (and line)."""
    if not isinstance(doc, dict):
        raise lines.error("hardware", "expected a mapping of fields")
    known_fields(doc, KNOWN_FIELDS, lines)
    for section, names in SECTION_FIELDS.items():
        if section in doc:
            known_fields(require(doc, section, lines, dict), names, lines, section)
    if "name" in doc:
        require(doc, "name", lines, str)
    mesh = require(doc, "mesh", lines, dict)
    cols = int(positive(require(mesh, "cols", lines, int, prefix="mesh"), "mesh.cols", lines))
    rows = int(positive(require(mesh, "rows", lines, int, prefix="mesh"), "mesh.rows", lines))
    for name, side in (("mesh.cols", cols), ("mesh.rows", rows)):
        if side > MAX_MESH_SIDE:
            raise lines.error(name, f"must be <= {MAX_MESH_SIDE}, got {side}: the route tables grow as the cube of "
                                    "the chiplet count")
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
            if not isinstance(name, str) or name not in names:
                raise lines.error(f"layout[{y}][{x}]", unknown_name(name, names, "chiplet type"))
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
    if "package" in doc:
        kwargs["package"] = package_from_dict(doc["package"], lines)
    return Hardware(str(doc.get("name", "hardware")), cols, rows, types, tuple(chiplet_type), **kwargs)


HARDWARE_PRESETS = ("he-36", "os-36", "ws-36", "simba-36", "hot-36", "hot-64")


def load_hardware(spec: str | Path) -> Hardware:
    """A preset name (``he-36``: 18 OS + 18 WS; ``os-36``; ``ws-36``; ``simba-36``; the hot packages ``hot-36`` and
    ``hot-64``) or a YAML path."""
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
