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
from pathlib import Path


def add_site_packages(repo: Path) -> None:
    """Add the chosen site-packages; exit with a one-line hint when ``ailfm`` still cannot be imported."""
    chosen = os.environ.get("AILFM_SITE_PACKAGES")
    for candidate in [Path(chosen)] if chosen else sorted((repo / ".venv" / "lib").glob("python3*/site-packages")):
        if candidate.is_dir():
            site.addsitedir(str(candidate))
    try:
        import ailfm  # noqa: F401
    except ImportError:
        sys.exit(f"{sys.argv[0]}: cannot import ailfm; install it (pip install -e .) into a Python "
                 f"{sys.version_info.major}.{sys.version_info.minor} environment and set AILFM_SITE_PACKAGES to its "
                 "site-packages, or pass gem5.opt -p <site-packages>")
