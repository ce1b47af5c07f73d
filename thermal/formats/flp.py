"""HotSpot floorplans (``.flp``): one rectangular block per line, in metres.

Line format (``flp.c::flp_populate_blks``), whitespace-separated::

    <name> <width> <height> <left-x> <bottom-y> [<specific-heat J/(m^3 K)> <resistivity (m K)/W>]

The two optional columns give a block its own material; HotSpot uses them only with
``-detailed_3D on``. Lines of three fields ``<name1> <name2> <wire-density>`` are HotFloorplan's
connectivity records, which HotSpot skips; we keep them in ``Floorplan.connections``.

HotSpot itself rejects 6 or more than 7 numeric fields and repeated block names (by giving wrong
results, in the second case). It does not check overlaps (the grid model prints "overlap of
functional blocks?" and continues) nor gaps (uncovered area simply carries no power). We reject
non-positive sizes, duplicate names and overlapping blocks, with the file and line; gaps are legal,
as in HotSpot, and ``Floorplan.uncovered_area_m2`` measures them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from ailfm.errors import ConfigError, FormatError
from ailfm.thermal.formats._text import format_float, parse_float, significant_lines

# Two blocks overlap when they share more than this extent in both x and y. 1 nm is far below any
# floorplan feature and far above the rounding of coordinates near 1e-2 m (~1e-18 m).
OVERLAP_TOLERANCE_m = 1e-9

#: floorplan coordinates and sizes are metres: a larger value is a unit mistake (dies are millimetres)
MAX_EXTENT_M = 1.0


@dataclass(frozen=True)
class Block:
    """One functional unit of a floorplan (a core, an LLC bank, a TIM sheet...).

    The optional material pair overrides the layer's material for this block under ``-detailed_3D on``;
    both or neither are given.
    """

    name: str
    width_m: float
    height_m: float
    left_m: float
    bottom_m: float
    specific_heat_J_per_m3K: float | None = None
    resistivity_mK_per_W: float | None = None

    def __post_init__(self) -> None:
        problem = _block_problem(self)
        if problem:
            raise ConfigError(f"block {self.name!r}", problem)

    @property
    def right_m(self) -> float:
        return self.left_m + self.width_m

    @property
    def top_m(self) -> float:
        return self.bottom_m + self.height_m

    @property
    def area_m2(self) -> float:
        return self.width_m * self.height_m

    @property
    def has_material(self) -> bool:
        """Whether the block carries its own specific heat and resistivity (the 7-field form)."""
        return self.specific_heat_J_per_m3K is not None


@dataclass(frozen=True)
class Floorplan:
    """Blocks of one die layer, in file order, no two overlapping.

    ``connections`` holds HotFloorplan's ``(name1, name2, wire_density)`` records, if any; HotSpot's
    thermal model ignores them.
    """

    blocks: tuple[Block, ...]
    connections: tuple[tuple[str, str, float], ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", tuple(self.blocks))
        object.__setattr__(self, "connections", tuple(tuple(c) for c in self.connections))
        if not self.blocks:
            raise ConfigError("floorplan", "has no blocks")
        duplicate = _first_duplicate(self.names)
        if duplicate is not None:
            raise ConfigError("floorplan", f"block name {self.names[duplicate[1]]!r} appears twice")
        overlap = first_overlap(self.blocks)
        if overlap is not None:
            a, b = (self.blocks[k].name for k in overlap)
            raise ConfigError("floorplan", f"blocks {a!r} and {b!r} overlap")
        for a, b, _ in self.connections:
            for name in (a, b):
                if name not in self._index:
                    raise ConfigError("floorplan", f"connection names unknown block {name!r}")

    def __len__(self) -> int:
        return len(self.blocks)

    def __iter__(self) -> Iterator[Block]:
        return iter(self.blocks)

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.blocks)

    @cached_property
    def _index(self) -> dict[str, int]:
        return {name: k for k, name in enumerate(self.names)}

    def index(self, name: str) -> int:
        """Position of block ``name``; KeyError listing a few names when absent."""
        try:
            return self._index[name]
        except KeyError:
            shown = ", ".join(self.names[:8]) + (", ..." if len(self) > 8 else "")
            raise KeyError(f"no block {name!r} in floorplan (blocks: {shown})") from None

    @cached_property
    def left_m(self) -> float:
        return min(b.left_m for b in self.blocks)

    @cached_property
    def bottom_m(self) -> float:
        return min(b.bottom_m for b in self.blocks)

    @cached_property
    def width_m(self) -> float:
        """Width of the bounding box (HotSpot's ``get_total_width``)."""
        return max(b.right_m for b in self.blocks) - self.left_m

    @cached_property
    def height_m(self) -> float:
        return max(b.top_m for b in self.blocks) - self.bottom_m

    @property
    def area_m2(self) -> float:
        """Area of the bounding box (the die)."""
        return self.width_m * self.height_m

    @property
    def uncovered_area_m2(self) -> float:
        """Die area no block covers (blocks never overlap, so this is box minus block areas)."""
        return self.area_m2 - math.fsum(b.area_m2 for b in self.blocks)


def _block_problem(block: Block) -> str | None:
    """Why ``block`` is invalid, or None."""
    if not block.name or any(c.isspace() for c in block.name) or block.name.startswith("#"):
        return "name must be non-empty, without whitespace, not starting with '#'"
    for label, value in (("width", block.width_m), ("height", block.height_m)):
        if not (math.isfinite(value) and value > 0):
            return f"{label} must be positive, got {value}"
    for label, value in (("left-x", block.left_m), ("bottom-y", block.bottom_m)):
        if not math.isfinite(value):
            return f"{label} must be finite, got {value}"
    if (block.specific_heat_J_per_m3K is None) != (block.resistivity_mK_per_W is None):
        return "give both specific heat and resistivity, or neither"
    if block.specific_heat_J_per_m3K is not None:
        for label, value in (("specific heat", block.specific_heat_J_per_m3K),
                             ("resistivity", block.resistivity_mK_per_W)):
            if not (math.isfinite(value) and value > 0):
                return f"{label} must be positive, got {value}"
    return None


def _first_duplicate(names: tuple[str, ...]) -> tuple[int, int] | None:
    seen: dict[str, int] = {}
    for k, name in enumerate(names):
        if name in seen:
            return seen[name], k
        seen[name] = k
    return None


def first_overlap(blocks: tuple[Block, ...] | list[Block]) -> tuple[int, int] | None:
    """Indices ``(i, j)``, ``i < j``, of the first pair of blocks sharing area, or None."""
    box = np.array([(b.left_m, b.bottom_m, b.right_m, b.top_m) for b in blocks])
    left, bottom, right, top = box.T
    dx = np.minimum(right[:, None], right[None, :]) - np.maximum(left[:, None], left[None, :])
    dy = np.minimum(top[:, None], top[None, :]) - np.maximum(bottom[:, None], bottom[None, :])
    clash = np.triu((dx > OVERLAP_TOLERANCE_m) & (dy > OVERLAP_TOLERANCE_m), k=1)
    pairs = np.argwhere(clash)
    if len(pairs) == 0:
        return None
    i, j = pairs[np.lexsort((pairs[:, 0], pairs[:, 1]))[0]]
    return int(i), int(j)


def read_flp(path: Path | str) -> Floorplan:
    """Read a ``.flp`` file; FormatError with the line for anything HotSpot would misread."""
    blocks: list[Block] = []
    lines: list[int] = []
    connections: list[tuple[str, str, float]] = []
    connection_lines: list[int] = []
    for number, tokens in significant_lines(path):
        if len(tokens) == 3:
            connections.append((tokens[0], tokens[1], parse_float(path, number, tokens[2], "wire density")))
            connection_lines.append(number)
            continue
        if len(tokens) not in (5, 7):
            raise FormatError(path, number, f"expected 5 or 7 fields (name width height left-x bottom-y "
                                            f"[specific-heat resistivity]), got {len(tokens)}")
        labels = ("width", "height", "left-x", "bottom-y", "specific heat", "resistivity")
        values = [parse_float(path, number, text, label) for text, label in zip(tokens[1:], labels, strict=False)]
        for value, label in zip(values[:4], labels, strict=False):
            if abs(value) > MAX_EXTENT_M:
                raise FormatError(path, number, f"block {tokens[0]!r}: {label} {value:g} m: floorplans are in metres, "
                                                f"more than {MAX_EXTENT_M:g} m is a unit mistake")
        try:
            blocks.append(Block(tokens[0], *values))
        except ConfigError as err:
            raise FormatError(path, number, f"block {tokens[0]!r}: {err.reason}") from None
        lines.append(number)
    if not blocks:
        raise FormatError(path, None, "no blocks in floorplan")
    duplicate = _first_duplicate(tuple(b.name for b in blocks))
    if duplicate is not None:
        first, second = duplicate
        raise FormatError(path, lines[second], f"block {blocks[second].name!r} already defined on line {lines[first]}")
    known = {b.name for b in blocks}
    for (a, b, _), number in zip(connections, connection_lines, strict=True):
        for name in (a, b):
            if name not in known:
                raise FormatError(path, number, f"connectivity record names unknown block {name!r}")
    overlap = first_overlap(blocks)
    if overlap is not None:
        i, j = overlap
        raise FormatError(path, lines[j], f"block {blocks[j].name!r} overlaps block {blocks[i].name!r} "
                                          f"(line {lines[i]})")
    try:
        return Floorplan(tuple(blocks), tuple(connections))
    except ConfigError as err:
        raise FormatError(path, None, err.reason) from None


def write_flp(path: Path | str, floorplan: Floorplan) -> None:
    """Write ``floorplan`` in the layout HotSpot's ``dump_flp`` uses (tab-separated, metres)."""
    rows = ["# name\twidth_m\theight_m\tleft_m\tbottom_m[\tspecific_heat_J_per_m3K\tresistivity_mK_per_W]"]
    for b in floorplan.blocks:
        fields = [b.width_m, b.height_m, b.left_m, b.bottom_m]
        if b.has_material:
            fields += [b.specific_heat_J_per_m3K, b.resistivity_mK_per_W]
        rows.append("\t".join([b.name, *map(format_float, fields)]))
    if floorplan.connections:
        rows.append("")
        rows += [f"{a}\t{b}\t{format_float(w)}" for a, b, w in floorplan.connections]
    Path(path).write_text("\n".join(rows) + "\n")
