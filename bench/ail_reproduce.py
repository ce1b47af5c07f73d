"""Reproduce the shipped ``ail`` policy: ``ailfm ail train`` at the commit that trained it, then compare weights.

``plugins/policies/ail-default.onnx`` was exported by ``ailfm ail train`` (default configuration, seed 0) at commit
678c9b8; later commits changed the action rules its roll-outs ran through, so training at another commit gives
another policy. This script checks the shipped file out of history instead of trusting it: a git worktree of that
commit, installed into a private folder (pip, no dependencies: this environment's numpy, scikit-learn, ... are used),
trains with that commit's code in a subprocess, and compares every weight of the result with the shipped file.
Training resumes if interrupted (run the script again). About 10 minutes on 2 cores.

    .venv/bin/python bench/ail_reproduce.py [--work /tmp/ail-reproduce] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

TRAINED_AT = "678c9b8"
REPOSITORY = Path(__file__).resolve().parents[1]


def weights(path: Path) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    return {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="/tmp/ail-reproduce", help="worktree, install and run folders go here")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    work = Path(args.work)
    source, package, run = work / "source", work / "package", work / "run"
    if not source.exists():
        subprocess.run(["git", "-C", str(REPOSITORY), "worktree", "add", "--detach", str(source), TRAINED_AT],
                       check=True)
    if not package.exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(package),
                        str(source)], check=True)
    environment = {**os.environ, "PYTHONPATH": str(package)}  # ahead of the editable install of this checkout
    subprocess.run([sys.executable, "-m", "ailfm.cli", "ail", "train", "--out", str(run), "--jobs", str(args.jobs),
                    "--quiet"], check=True, env=environment)
    shipped = weights(REPOSITORY / "plugins" / "policies" / "ail-default.onnx")
    trained = weights(run / "policy.onnx")
    if shipped.keys() != trained.keys():
        sys.exit(f"different graphs: {sorted(shipped)} vs {sorted(trained)}")
    worst = max(float(np.abs(shipped[k] - trained[k]).max()) for k in shipped)
    print(f"{len(shipped)} weight tensors, largest difference {worst:g}: "
          f"{'the shipped policy is reproduced' if worst == 0.0 else 'NOT reproduced'}")
    sys.exit(0 if worst == 0.0 else 1)


if __name__ == "__main__":
    main()
