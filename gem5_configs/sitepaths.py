"""Make ``ailfm`` importable inside gem5.opt's embedded Python (imported by the gem5 scripts before ``ailfm``).

gem5's embedded interpreter may ignore ``PYTHONPATH`` (pybind11 2.10 with Python 3.11 starts it isolated) and never
activates a virtual environment, so the scripts add a site-packages directory themselves: ``AILFM_SITE_PACKAGES``
if set, else the repository's ``.venv``. ``site.addsitedir`` also runs the ``.pth`` file of an editable install.
gem5 puts the script's directory first on ``sys.path`` (unless run with ``-P``), which is how the scripts find this
module before ``ailfm`` is importable.
"""

from __future__ import annotations

import os
import site
import sys
from collections.abc import Callable
from pathlib import Path


def add_site_packages(repo: Path) -> None:
    """Put the chosen site-packages ahead of the interpreter's own; exit with a hint when ``ailfm`` cannot be
    imported."""
    chosen = os.environ.get("AILFM_SITE_PACKAGES")
    before = list(sys.path)
    for candidate in [Path(chosen)] if chosen else sorted((repo / ".venv" / "lib").glob("python3*/site-packages")):
        if candidate.is_dir():
            site.addsitedir(str(candidate))
    # addsitedir appends, behind the system's dist-packages that gem5's interpreter already has; the environment's
    # own packages must win (a system _cffi_backend 1.15 beside the venv's cffi 2.x stops numba, for one)
    added = [path for path in sys.path if path not in before]
    sys.path[:] = before[:1] + added + before[1:]
    try:
        import ailfm  # noqa: F401
    except ImportError:
        _fail(f"{sys.argv[0]}: cannot import ailfm; install it (pip install -e .) into a Python "
              f"{sys.version_info.major}.{sys.version_info.minor} environment and set AILFM_SITE_PACKAGES to its "
              "site-packages, or pass gem5.opt -p <site-packages>")


def run_script(main: Callable[[list[str]], int], script: str) -> None:
    """Run a gem5 script's ``main`` as ``__m5_main__``: site-packages first, then ``ailfm``'s errors as one line."""
    add_site_packages(Path(script).resolve().parents[1])
    sys.exit(one_line_errors(main, sys.argv[1:], Path(script).name))


def one_line_errors(main: Callable[[list[str]], int], argv: list[str], name: str) -> int:
    """``main(argv)``, with an ``ailfm`` error printed as ``NAME: error: ...`` and status 1 (not passed to
    ``sys.exit``: see ``_fail``)."""
    from ailfm.errors import AilfmError

    try:
        return main(argv)
    except AilfmError as err:
        print(f"{name}: error: {err}", file=sys.stderr, flush=True)
        return 1


def _fail(message: str) -> None:
    """Print the message and exit with status 1: gem5's embedded interpreter casts a ``SystemExit`` code to an int,
    so ``sys.exit("message")`` aborts gem5 with a pybind11 cast_error and the message is never shown."""
    print(message, file=sys.stderr, flush=True)
    sys.exit(1)
