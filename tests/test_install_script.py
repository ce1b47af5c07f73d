"""The Docker image's install steps, run for real: ``scripts/install-into.sh`` into a throwaway venv (no Docker engine
runs on the project's machines, so this is how every CI run exercises what ``docker build`` would do).

The build context is made of exactly the paths the Dockerfile copies, so a folder the image forgets fails here. The
venv is made with the Python running the tests; the dependencies come from that Python's environment through
``PYTHONPATH`` (pip counts them as installed and downloads none of them), which keeps the run to seconds and is the
same route by which gem5's embedded interpreter sees the image's venv.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from reference_data import REPO

SCRIPT = Path("scripts/install-into.sh")


def _dockerfile_copies() -> list[tuple[str, str]]:
    """``COPY src... dst`` lines of the Dockerfile as (source, destination) pairs, relative to /opt/ailfm."""
    pairs = []
    for line in (REPO / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            *sources, destination = line.split()[1:]
            pairs += [(source, destination) for source in sources]
    return pairs


def test_the_dockerfile_runs_the_script_on_the_python_gem5_embeds():
    text = (REPO / "Dockerfile").read_text()
    assert re.search(rf"^RUN PYTHON=/usr/bin/python3 .*\./{SCRIPT} /opt/ailfm/\.venv /opt/ailfm", text, re.MULTILINE)
    assert (str(SCRIPT), f"./{SCRIPT}") in _dockerfile_copies()
    # gem5's interpreter and the CLI both find the venv, and outputs go to the mounted folder
    assert "PYTHONPATH=/opt/ailfm/.venv/lib/python3.12/site-packages" in text
    assert "PATH=/opt/ailfm/.venv/bin:$PATH" in text
    assert re.search(r"^WORKDIR /out$", text, re.MULTILINE)


def test_the_script_refuses_to_run_without_a_venv_folder():
    done = subprocess.run(["bash", str(REPO / SCRIPT)], capture_output=True, text=True)
    assert done.returncode != 0 and "usage: install-into.sh VENV" in done.stderr


def test_install_into_a_throwaway_venv(tmp_path):
    try:
        import ensurepip  # noqa: F401
    except ImportError:
        pytest.skip(f"{sys.executable} has no ensurepip, so it cannot make a venv with pip")
    context = tmp_path / "context"
    for source, destination in _dockerfile_copies():
        target = context / destination
        if (REPO / source).is_dir():
            shutil.copytree(REPO / source, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            target = target / Path(source).name if destination.endswith("/") else target
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / source, target)
    venv = tmp_path / "venv"
    environment = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": sysconfig.get_path("purelib"),
                   "AILFM_EXTRAS": "all"}
    done = subprocess.run(["bash", str(context / SCRIPT), str(venv), str(context)], capture_output=True, text=True,
                          env=environment, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    site = Path(done.stdout.strip().splitlines()[-1])
    assert site.is_dir() and site.is_relative_to(venv)

    # independently of the script's own checks: the CLI runs and the package is the venv's copy, not the checkout's
    help_text = subprocess.run([str(venv / "bin" / "ailfm"), "--help"], capture_output=True, text=True, cwd="/",
                               env=environment, check=True).stdout
    assert "simulate" in help_text and "compare" in help_text
    where = subprocess.run([sys.executable, "-c", "import ailfm.gem5_configs.topologies as t; print(t.__file__)"],
                           capture_output=True, text=True, cwd="/", check=True,
                           env={**environment, "PYTHONPATH": f"{site}{os.pathsep}{environment['PYTHONPATH']}"})
    assert Path(where.stdout.strip()).is_relative_to(site)
    assert (site / "ailfm" / "gem5_configs" / "systems" / "snuca-64.yaml").is_file()  # package data installed
