"""HotSpot node-temperature files: ``-steady_file`` output (``.steady``) and ``-init_file`` input (``.init``).

One ``<name>\\t<temperature K>`` line per node, written with ``%.2f`` (``dump_temp``). The names
are HotSpot's node names in HotSpot's order: for the block model the units, then ``iface_<unit>``,
``hsp_<unit>``, ``hsink_<unit>``, then ``inode_0`` ... ``inode_11``; for the grid model with an LCF
``layer_<n>_<unit>`` per layer, then ``hsp_``/``hsink_`` units and the ``inode_*`` nodes. HotSpot
reads an init file back strictly in that order (``read_temp``), skipping ``#`` lines, and fails on
any extra line; producing the right names is the model's job, this module only reads and writes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

from ailfm.errors import FormatError
from ailfm.thermal.formats._text import parse_float, significant_lines


def read_steady(path: Path | str) -> dict[str, float]:
    """``{node name: temperature K}`` in file order; repeated names and non-positive values are errors."""
    values: dict[str, float] = {}
    lines: dict[str, int] = {}
    for number, tokens in significant_lines(path):
        if len(tokens) != 2:
            raise FormatError(path, number, f"expected '<name> <temperature>', got {len(tokens)} fields")
        name, text = tokens
        if name in values:
            raise FormatError(path, number, f"node {name!r} already given on line {lines[name]}")
        value = parse_float(path, number, text, f"temperature of {name!r}")
        if value <= 0:
            raise FormatError(path, number, f"temperature of {name!r} is {value}: must be > 0 K")
        values[name] = value
        lines[name] = number
    if not values:
        raise FormatError(path, None, "no temperatures in file")
    return values


def write_steady(path: Path | str, values: Mapping[str, float]) -> None:
    """Write ``values`` in order as HotSpot does: ``name<TAB>%.2f``, nothing after the last line."""
    for name, value in values.items():
        if not name or any(c.isspace() for c in name) or not (math.isfinite(value) and value > 0):
            raise ValueError(f"bad node {name!r} = {value}: names are one word, temperatures finite and > 0 K")
    Path(path).write_text("".join(f"{name}\t{value:.2f}\n" for name, value in values.items()))
