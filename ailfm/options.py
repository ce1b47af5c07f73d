"""Checked command-line values: argparse types that bound every number, so a bad option is one usage line
(``argument --jobs: expected an integer >= 1, got 0``) before any work starts, never a traceback mid-run."""

from __future__ import annotations

import argparse
import math


def integer(minimum: int | None = None, maximum: int | None = None, why: str = ""):
    """An argparse ``type`` for an integer in [minimum, maximum]; ``why`` explains the upper bound."""
    return _bounded(int, "an integer", minimum, maximum, None, why)


def number(minimum: float | None = None, maximum: float | None = None, *, above: float | None = None,
           why: str = ""):
    """An argparse ``type`` for a finite number, >= ``minimum`` (or > ``above``) and <= ``maximum``."""
    return _bounded(float, "a number", minimum, maximum, above, why)


def _bounded(kind: type, noun: str, minimum, maximum, above, why: str):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
        if above is not None and not value > above:
            raise argparse.ArgumentTypeError(f"expected {noun} > {above:g}, got {text}")
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"expected {noun} >= {minimum:g}, got {text}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"expected {noun} <= {maximum:g}{f' ({why})' if why else ''}, "
                                             f"got {text}")
        return value

    return parse


POSITIVE = integer(1)
NON_NEGATIVE = integer(0)
#: numpy's SeedSequence takes non-negative integers only
SEED = integer(0)
#: worker processes: each holds a copy of the model (200-400 MB measured on the AILFM roll-outs)
WORKERS = integer(1, 1024, "one process per core is the useful maximum")
#: thermal grid cells per side: the grid circuit has layers x N^2 nodes and the reduced-order model factorises it
GRID_CELLS = integer(1, 128, "the grid circuit grows as N^2 per layer: 128 took > 3.4 GB and 90 s to build "
                     "(docs/reliability.md)")
