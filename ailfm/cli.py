"""The ``ailfm`` command: one entry point, subcommands contributed by the subpackages.

Each module in ``SUBCOMMAND_MODULES`` exposes ``add_subcommands(subparsers)``; it registers its
parsers and sets ``func`` on each, a callable taking the parsed namespace and returning an exit code.
A command line that names a command imports the modules only until one has registered it (the co-simulator's first),
so ``ailfm simulate`` does not pay for importing every subsystem.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from ailfm import __version__
from ailfm.errors import AilfmError
from ailfm.interrupts import ctrl_c_remembered

SUBCOMMAND_MODULES = (
    "ailfm.plugins.run.cli",
    "ailfm.plugins.run.demo",
    "ailfm.traces.cli",
    "ailfm.mapping.cli",
    "ailfm.plugins.imitation.cli",
)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser, or (given the command line) enough of it to parse ``argv``'s command."""
    parser = argparse.ArgumentParser(
        prog="ailfm",
        description="Thermal-aware LLM inference scheduling on 3D S-NUCA many-cores (AILFM) "
        "and mapping exploration for multi-chiplet LLM accelerators (Compass).",
    )
    parser.add_argument("--version", action="version", version=f"ailfm {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    command = next((a for a in argv if not a.startswith("-")), None) if argv else None
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).add_subcommands(subparsers)
        if command is not None and command in subparsers.choices:
            break
    return parser


def _format_warning(message, category, filename, lineno, line=None) -> str:
    """A FutureWarning (an old name still accepted) is a note to the user: one line, no source location."""
    if issubclass(category, FutureWarning):
        return f"ailfm: note: {message}\n"
    return _default_format_warning(message, category, filename, lineno, line)


_default_format_warning = warnings.formatwarning


def main(argv: list[str] | None = None) -> int:
    warnings.formatwarning = _format_warning
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        with ctrl_c_remembered():
            return int(args.func(args) or 0)
    except AilfmError as err:
        print(f"ailfm {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:
        detail = f": {stop}" if str(stop) else ""
        print(f"ailfm {args.command}: interrupted{detail}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of stdout went away (``| head``): the outputs on disk are complete
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush does not raise again
        return 141


if __name__ == "__main__":
    sys.exit(main())
