"""Why a shielded run went above T_max, epoch by epoch.

Why a shielded run went above T_max: re-runs one scenario of ``bench/ail_eval.py`` epoch by epoch and, for every
epoch that spent time above T_max, lists the threads whose switching activity while busy exceeded what the shield
held for them (``PredictiveShield.thread_activity``, the highest each thread had shown), with the kernel type at the
epoch's start and end and the cores DTM slowed. The same seed gives the same run as ``ailfm compare``.

    .venv/bin/python bench/ail_shield_misses.py --system snuca-64 --workload llama-3-8b --mix code --seed 2 \\
        [--governor ail] [--out bench/results/ail/shield_misses]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from ail_eval import SERVING_SCENARIO, write_mixes  # noqa: E402  (the same scenarios as the evaluation)

from ailfm.plugins.run.config import RunConfig  # noqa: E402
from ailfm.plugins.run.runner import simulation  # noqa: E402


def activity_misses(config: RunConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per (epoch, busy thread): held and shown activity; and the run's per-epoch chip records."""
    sim = simulation(config)
    names = sim.kernel_type_names
    obs = sim.start(config.duration_s)
    rows = []
    while not sim.finished:
        decision = sim.governor.decide(obs)
        held = sim.governor.shield.thread_activity.copy()  # what the shield assumed for the coming epoch
        kernel_start = obs.thread_kernel_type.copy()
        new = sim.step(decision)
        for thread, core in enumerate(new.thread_core):
            if core >= 0 and new.utilisation[core] > 0:
                slowed = bool(new.dtm_throttled[core]) or new.f_effective_GHz[core] < decision.f_GHz[core] - 1e-9
                rows.append({"epoch": new.epoch - 1, "thread": thread, "core": int(core),
                             "kernel_start": names[kernel_start[thread]] if kernel_start[thread] >= 0 else "done",
                             "kernel_end": names[new.thread_kernel_type[thread]]
                             if new.thread_kernel_type[thread] >= 0 else "done",
                             "held": held[thread], "shown": min(new.activity[core] / new.utilisation[core], 1.0),
                             "busy": new.utilisation[core], "dtm_slowed": slowed})
        obs = new
    frame = pd.DataFrame(rows)
    frame["excess"] = frame.shown - frame.held
    return frame, sim.result().epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", default="snuca-64")
    parser.add_argument("--workload", default="llama-3-8b")
    parser.add_argument("--mix", default="code")
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--governor", default="ail")
    parser.add_argument("--out", default="bench/results/ail/shield_misses")
    args = parser.parse_args()
    out = Path(args.out)
    mixes = write_mixes(out)
    config = RunConfig(system=args.system, workload=args.workload, governor=args.governor, lengths=mixes[args.mix],
                       seed=args.seed, **SERVING_SCENARIO)
    frame, epochs = activity_misses(config)
    hot = np.flatnonzero(epochs.above_tmax_s.to_numpy() > 0)
    name = f"{args.system}-{args.workload}-{args.mix}-{args.seed}-{Path(args.governor).stem}"
    misses = frame[frame.epoch.isin(hot)].sort_values(["epoch", "excess"], ascending=[True, False])
    misses.to_csv(out / f"{name}.csv", index=False)
    over = frame[frame.excess > 0.01]
    print(f"{name}: {epochs.above_tmax_s.sum():.5f} s above T_max in epochs {list(hot)}; epochs with a thread more "
          f"than 0.01 above its held activity: {over.epoch.nunique()} of {frame.epoch.nunique()}")
    for epoch in hot:
        rows = misses[misses.epoch == epoch]
        peak, end = epochs.peak_temp_C.iloc[epoch], epochs.epoch_end_peak_C.iloc[epoch]
        slowed = sorted(rows[rows.dtm_slowed].core)
        print(f"epoch {epoch}: peak {peak:.3f} C (end {end:.3f} C), {int((rows.excess > 0.01).sum())} threads "
              f"above their held activity, by up to {rows.excess.max():.3f}; DTM slowed cores {slowed}")
        print(rows.head(8).to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
