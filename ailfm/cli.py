"""The ``ailfm`` command: one entry point, subcommands contributed by the subpackages.

Each module in ``SUBCOMMAND_MODULES`` exposes ``add_subcommands(subparsers)``; it registers its
parsers and sets ``func`` on each, a callable taking the parsed namespace and returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ailfm import __version__
from ailfm.errors import AilfmError

SUBCOMMAND_MODULES = (
    "ailfm.thermal.cli",
    "ailfm.traces.cli",
    "ailfm.mapping.cli",
    "ailfm.plugins.run.cli",
    "ailfm.plugins.imitation.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ailfm",
        description="Thermal-aware LLM inference scheduling on 3D S-NUCA many-cores (AILFM) "
        "and mapping exploration for multi-chiplet LLM accelerators (Compass).",
    )
    parser.add_argument("--version", action="version", version=f"ailfm {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).add_subcommands(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except AilfmError as err:
        print(f"ailfm {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:
        detail = f": {stop}" if str(stop) else ""
        print(f"ailfm {args.command}: interrupted{detail}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
