"""Reproduce a shipped AIL policy from this checkout and compare its weights with the shipped file.

Reproduce the shipped ``ail`` policy from this checkout: ``ailfm ail train`` with the options it was trained with
(``TRAINING``; seed 0, defaults otherwise), then compare every weight of the result with
``plugins/policies/ail-default.onnx`` (``--objective edp``: ``ail-edp.onnx``) and its initial-placement metadata.

The shipped file is the export of that command at the commit it ships with, so a change to anything its roll-outs run
through (epoch model, Oracle, features, action rules) must retrain and ship a new file; this script is the check.
Training resumes if interrupted (run the script again with the same ``--work``). About 1.5 minutes with ``--jobs 1``
on the shared 2-core machine (measured: 1 min 23 s for ``ail``, 1 min 26 s for ``ail-edp``).

    .venv/bin/python bench/ail_reproduce.py [--work /tmp/ail-reproduce] [--jobs 2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
from ail_eval import write_mixes  # bench/ is on sys.path: the evaluation's serving mixes

from ailfm.plugins.governors.onnx_governor import SHIPPED_POLICIES
from ailfm.plugins.imitation.contract import load_policy

REPOSITORY = Path(__file__).resolve().parents[1]
#: the ``ailfm ail train`` options each shipped policy was trained with, beyond ``--objective`` (``{conv}``: the scaled
#: Azure ``conv`` mix of ``bench/ail_eval.py``, written into the work folder): ``ail`` learns its initial placement
#: from roll-outs on both system presets, half of them (drawn) on saturated prefill and half on the serving mix, with
#: f_max labels fitted one V/f level above the range (docs/ail.md, *Training on serving scenarios*); ``ail-edp`` is the
#: default configuration at seed 1, the best of two seeds x two V/f rules on validation scenarios of training models
#: (docs/ail.md, *`ail-edp` and its teacher*)
TRAINING = {"throughput": ["--learn-placement", "--system", "snuca-64,snuca-64-2l", "--lengths", "fixed:16,4;{conv}",
                           "--fmax-target", "1.033"],
            "edp": ["--seed", "1"]}


def weights(path: Path) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    return {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="/tmp/ail-reproduce", help="the training run folder (resumed if present)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--objective", choices=sorted(SHIPPED_POLICIES), default="throughput",
                        help="which shipped policy: ail (throughput) or ail-edp (edp)")
    args = parser.parse_args()
    run = Path(args.work)
    conv = write_mixes(run.with_name(run.name + "-mixes"))["conv"]
    options = [option.format(conv=conv) for option in TRAINING[args.objective]]
    subprocess.run([sys.executable, "-m", "ailfm.cli", "ail", "train", "--out", str(run), "--jobs", str(args.jobs),
                    "--quiet", "--objective", args.objective, *options], check=True)
    shipped_path = REPOSITORY / "plugins" / "policies" / SHIPPED_POLICIES[args.objective]
    shipped = weights(shipped_path)
    trained = weights(run / "policy.onnx")
    if shipped.keys() != trained.keys():
        sys.exit(f"different graphs: {sorted(shipped)} vs {sorted(trained)}")
    worst = max(float(np.abs(shipped[k] - trained[k]).max()) for k in shipped)
    placements = [load_policy(path).scores_initial_placement for path in (shipped_path, run / "policy.onnx")]
    same = worst == 0.0 and placements[0] == placements[1]
    print(f"{len(shipped)} weight tensors, largest difference {worst:g}, initial placement by scores: "
          f"{placements[0]} / {placements[1]}: {'the shipped policy is reproduced' if same else 'NOT reproduced'}")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
