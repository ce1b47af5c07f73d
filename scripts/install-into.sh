#!/usr/bin/env bash
# Install ailfm from a source folder into a new virtual environment whose site-packages gem5's embedded Python can
# be given. These are the Docker image's install steps (the Dockerfile runs this script) and a test runs the same
# script on every CI run (tests/test_install_script.py), so the steps are exercised without a Docker engine.
#
#   scripts/install-into.sh VENV [SOURCE]      (SOURCE: the folder holding setup.cfg; default this checkout)
#
# PYTHON (default python3) makes the venv. For gem5 it must be the Python gem5 embeds, or one of the same minor
# version (numpy, pandas, numba and onnxruntime wheels are per minor version): in ghcr.io/gem5/devcontainer:v24-0
# that is the system Python 3.12, which has the venv module (python3-venv) but no pip (no python3-pip), hence a venv
# rather than `pip install --break-system-packages`. AILFM_EXTRAS (default all) picks the extras; pip's own
# environment variables (PIP_NO_CACHE_DIR, ...) pass through. When GEM5 names a gem5 binary, the script finally
# imports the package inside gem5's embedded interpreter too.
#
# The last line printed is the venv's site-packages: give it to gem5 as PYTHONPATH (gem5 v24 starts its interpreter
# with use_environment = 1, so PYTHONPATH is honoured) or as AILFM_SITE_PACKAGES (read by gem5_configs/sitepaths.py).
set -euo pipefail

venv=${1:?usage: install-into.sh VENV [SOURCE]}
source_dir=$(cd "${2:-$(dirname "$0")/..}" && pwd)
python=${PYTHON:-python3}
extras=${AILFM_EXTRAS-all}

"$python" -m venv "$venv"
venv=$(cd "$venv" && pwd)
"$venv/bin/python" -m pip install --disable-pip-version-check "$source_dir${extras:+[$extras]}"
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')

# The checks run outside the source folder, so nothing can import from it instead of from the venv.
cd /
"$venv/bin/ailfm" --help > /dev/null
# gem5 embeds the system Python, not the venv's: that interpreter must find the package through PYTHONPATH alone,
# the pure-Python gem5 modules (topology as data, run recipe) included.
check='
import sys, ailfm, ailfm.gem5_configs.recipe, ailfm.gem5_configs.topologies.mesh3d
site = sys.argv[-1]
if not ailfm.__file__.startswith(site):  # print, then exit 1: gem5 cannot show a SystemExit with a message
    print(f"ailfm imports from {ailfm.__file__}, not from {site}", file=sys.stderr)
    sys.exit(1)
'
PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}" "$python" -c "$check" "$site"
if [[ -n ${GEM5:-} ]]; then
    m5out=$(mktemp -d)
    PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}" "$GEM5" -d "$m5out" -c "$check" "$site"
    rm -rf "$m5out"
fi
echo "$site"
