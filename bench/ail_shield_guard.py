"""The shield's guard, measured with ``shielded-performance`` on the held-out scenarios.

The shield's guard, measured: ``shielded-performance`` (f_max requests, so the shield does all the limiting) with
several ``guard_K``, with and without the barrier-spin activity floor (``--spin-floors``; ``PredictiveShield``'s
``spin_floor``), on the training workloads only (the held-out models must not tune it), over the seeds and request
mixes of ``bench/ail_eval.py``. Per guard and floor: the hottest core, time above T_max (sub-step resolution), runs
that exceeded it, and throughput relative to the shipped shield (``SHIELD_GUARD_K``, no floor). ``--governor ail``
runs the shipped policy behind each variant instead; ``--workloads llama-3-8b,vit-l-16`` is the held-out check of a
variant chosen on the training workloads, never a way to choose one.

    .venv/bin/python bench/ail_shield_guard.py --out bench/results/ail/shield_guard [--guards 0.3,0.6,0.9,1.2]
        [--spin-floors off,on] [--governor shielded-performance|ail] [--system snuca-64] [--workloads ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from ail_eval import SEEDS, SERVING_SCENARIO, throughput, write_mixes  # noqa: E402  (the same scenarios as the evaluation)

from ailfm.plugins.epoch.cosim import CoSimulation  # noqa: E402
from ailfm.plugins.governors.registry import make_governor  # noqa: E402
from ailfm.plugins.imitation.dagger import TRAIN_WORKLOADS  # noqa: E402
from ailfm.plugins.imitation.shield import SHIELD_GUARD_K  # noqa: E402
from ailfm.plugins.run.config import RunConfig  # noqa: E402
from ailfm.plugins.run.runner import load_workload, per_joule, thermal_model  # noqa: E402
from ailfm.plugins.system.description import load_system  # noqa: E402


def one(config: RunConfig, guard_K: float, spin_floor: bool) -> dict:
    """``config.governor`` (a ``ShieldedGovernor``) with this guard and floor."""
    system = load_system(config.system)
    governor = make_governor(config.governor)
    governor.guard_K, governor.spin_floor = guard_K, spin_floor
    sim = CoSimulation.for_workload(system, load_workload(config), thermal_model(config.system, config.thermal),
                                    governor)
    summary = sim.run(config.duration_s).summary
    return {"guard_K": guard_K, "spin_floor": spin_floor, "workload": config.workload,
            "lengths": Path(config.lengths).stem, "seed": config.seed, **summary, **per_joule(summary)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/results/ail/shield_guard")
    parser.add_argument("--guards", default=f"0.3,{SHIELD_GUARD_K},0.9,1.2")
    parser.add_argument("--spin-floors", default="off", help="off, on or off,on")
    parser.add_argument("--governor", default="shielded-performance", help="any governor behind the shield")
    parser.add_argument("--system", default="snuca-64")
    parser.add_argument("--workloads", default=",".join(TRAIN_WORKLOADS))
    args = parser.parse_args()
    out = Path(args.out)
    mixes = write_mixes(out)
    rows = []
    variants = [(float(g), floor == "on") for floor in args.spin_floors.split(",") for g in args.guards.split(",")]
    for guard, spin_floor in variants:
        for workload in args.workloads.split(","):
            for lengths in mixes.values():
                for seed in SEEDS:
                    config = RunConfig(system=args.system, workload=workload, governor=args.governor,
                                       lengths=lengths, seed=seed, **SERVING_SCENARIO)
                    rows.append(one(config, guard, spin_floor))
                    print(f"guard {guard} K, spin floor {spin_floor}, {workload} {Path(lengths).stem} seed {seed}: "
                          f"peak {rows[-1]['peak_temp_c']:.2f} C, {rows[-1]['time_above_tmax_s']:g} s above T_max",
                          flush=True)
    frame = pd.DataFrame(rows)
    frame["throughput"] = throughput(frame)
    shipped = (frame.guard_K == SHIELD_GUARD_K) & ~frame.spin_floor
    reference = frame[shipped].set_index(["workload", "lengths", "seed"]).throughput
    frame["vs_shipped_guard"] = frame.throughput.to_numpy() / reference.reindex(
        pd.MultiIndex.from_frame(frame[["workload", "lengths", "seed"]])).to_numpy()
    frame.to_csv(out / "runs.csv", index=False)
    table = frame.groupby(["spin_floor", "guard_K"]).agg(runs=("seed", "size"), peak_temp_c_max=("peak_temp_c", "max"),
                                         time_above_tmax_s_sum=("time_above_tmax_s", "sum"),
                                         runs_above_tmax=("time_above_tmax_s", lambda s: int((s > 0).sum())),
                                         dtm_events=("dtm_events", "sum"),
                                         throughput_vs_shipped_mean=("vs_shipped_guard", "mean"),
                                         throughput_vs_shipped_min=("vs_shipped_guard", "min"))
    table = table.reset_index()
    table["spin_floor"] = table.spin_floor.map({True: "on", False: "off"})
    text = "\n".join(["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
                     + ["| " + " | ".join(v if isinstance(v, str) else f"{v:.4g}" for v in row) + " |"
                        for row in table.itertuples(index=False)])
    (out / "shield_guard.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
