"""Decision overhead of the ONNX governor on the default 64-core system.

Decision overhead of the ONNX governor on the default 64-core system: features + onnxruntime (one thread) +
actions, per epoch, on real observations of a simulation (issue 4 acceptance: median <= 50 us).

    .venv/bin/python bench/ail_overhead.py [--policy PATH] [--repeats 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default=None, help="ONNX policy (default: the shipped ail policy)")
    parser.add_argument("--repeats", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=50, help="epochs simulated to collect observations")
    args = parser.parse_args()
    from ailfm.plugins.governors.onnx_governor import AilGovernor
    from ailfm.plugins.imitation.rollout import RolloutScenario, simulation

    governor = AilGovernor(args.policy)
    sim = simulation(RolloutScenario(), governor)
    observations = []
    obs = sim.start(args.epochs * 1e-3)
    while not sim.finished:
        observations.append(obs)
        obs = sim.step(governor.decide(obs))
    stages = {"features": [], "onnxruntime": [], "actions + shield": [], "total": []}
    from ailfm.plugins.imitation.actions import requested_from_outputs

    for k in range(args.repeats):
        obs = observations[k % len(observations)]
        t0 = time.perf_counter()
        features = governor.features(obs)
        t1 = time.perf_counter()
        outputs = governor.policy(features)
        t2 = time.perf_counter()
        governor.shield.observe(obs)  # the twin's step is part of each decision's cost
        governor.shield.decision(*requested_from_outputs(governor.context, outputs, obs), obs)
        t3 = time.perf_counter()
        for name, value in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t3 - t0), strict=True):
            stages[name].append(value * 1e6)
    report = {name: {"median_us": float(np.median(v)), "p90_us": float(np.percentile(v, 90))}
              for name, v in stages.items()}
    report["cores"] = int(governor.context.n_cores)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
