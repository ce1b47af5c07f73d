"""Line-level reading shared by the HotSpot format readers.

HotSpot's own readers (``flp.c``, ``util.c::read_str_pairs``, ``temperature_grid.c::parse_layer_file``,
``materials.c``) all skip blank lines and lines whose first token starts with ``#``, then split on
whitespace. They silently drop whatever follows the fields they expect; we instead accept only a
trailing ``#`` comment there and report anything else, with the file and line.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

from ailfm import files
from ailfm.errors import FormatError


def read_text(path: Path | str) -> str:
    """The file's text (UTF-8; CRLF accepted, a byte-order mark refused, as HotSpot's readers do), or a FormatError
    naming the file and line."""
    return files.read_text(path, bom=False)


def significant_lines(path: Path | str, *, comments: bool = True) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line_number, tokens)`` for each non-blank line, 1-based.

    With ``comments`` (every format except the traces), lines starting with ``#`` are skipped and a
    token starting with ``#`` ends the line, as in HotSpot's configuration files.
    """
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        tokens = line.split()
        if comments:
            for k, token in enumerate(tokens):
                if token.startswith("#"):
                    tokens = tokens[:k]
                    break
        if tokens:
            yield number, tokens


def parse_float(path: Path | str, line: int, text: str, what: str) -> float:
    """``float(text)``, finite, or a FormatError saying which quantity was malformed."""
    try:
        value = float(text)
    except ValueError:
        raise FormatError(path, line, f"{what}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise FormatError(path, line, f"{what}: {text!r} is not finite")
    return value


def format_float(value: float) -> str:
    """The shortest text that reads back as exactly ``value`` (what ``%lf`` in HotSpot accepts)."""
    return repr(float(value))
