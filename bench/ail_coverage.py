"""Where a policy decides outside its training data: the states of the held-out evaluation against the roll-outs'.

A learned policy is only as good as the states its Oracle labelled. This script records every input row a policy sees
while it governs the held-out scenarios of ``bench/ail_eval.py`` (its mixes and seeds; ``--systems``/``--workloads``)
and sets them against the rows of a training run (``--train-run``: an ``ailfm ail train`` folder; for the shipped
``ail``, the folder ``python bench/ail_reproduce.py --work DIR`` retrains it in). Rows are those of cores holding a
thread, split into regions: the thread idle (waiting for a request: utilisation 0), running slowly (< 1 G
instructions/s: decode, memory-bound) or fast, and the core cold (less than 40 % of the way from ambient to T_max) or
not. Per region: its share of the evaluation's and of the training's rows, the Oracle's mean label
(V/f fraction) there, and the policy's mean output and share of outputs that round below f_max. Also, per feature,
the share of evaluation rows outside the training rows' range.

    python bench/ail_coverage.py --train-run /tmp/ail-reproduce --out bench/results/ail/coverage [--policy ail]

Writes ``regions.csv``, ``features.csv`` and ``coverage.md`` (the tables in docs/ail.md) into ``--out``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from ail_eval import SEEDS, SERVING_SCENARIO, SYSTEMS, WORKLOADS, write_mixes

from ailfm.files import write_atomic
from ailfm.plugins.epoch.chip_thermal import build_thermal
from ailfm.plugins.epoch.cosim import CoSimulation
from ailfm.plugins.governors.registry import make_governor
from ailfm.plugins.imitation.features import FEATURE_NAMES
from ailfm.plugins.run.config import RunConfig
from ailfm.plugins.run.runner import load_workload
from ailfm.plugins.system.description import load_system

IDLE = 0.01  # utilisation below which a thread-holding core is idle
SLOW_IPS_G = 1.0  # G instructions/s per thread below which a running thread is slow (decode, memory-bound)
COLD_RISE = 0.4  # temperature feature ((T - ambient) / (T_max - ambient)) below which a core counts as cold


class Recorder:
    """Wraps a governor's policy: passes every call through and keeps its inputs and outputs."""

    def __init__(self, policy):
        self.policy, self.inputs, self.outputs = policy, [], []

    def __call__(self, features: np.ndarray) -> np.ndarray:
        outputs = self.policy(features)
        self.inputs.append(np.array(features))
        self.outputs.append(np.array(outputs))
        return outputs

    def __getattr__(self, name):
        return getattr(self.policy, name)


def evaluation_rows(policy: str, system: str, workload: str, lengths: str, seed: int) -> pd.DataFrame:
    """One held-out scenario (the serving shape of ``ail_eval.SERVING_SCENARIO``) under ``policy``: its input rows."""
    config = RunConfig(system=system, workload=workload, governor=policy, lengths=lengths, seed=seed,
                       **SERVING_SCENARIO)
    description = load_system(system)
    governor = make_governor(policy)
    simulation = CoSimulation.for_workload(description, load_workload(config), build_thermal(description, "fast"),
                                           governor)
    recorder = governor.policy = Recorder(governor.policy)
    simulation.run(config.duration_s)
    rows = pd.DataFrame(np.concatenate(recorder.inputs), columns=FEATURE_NAMES)
    return rows.assign(output=np.concatenate(recorder.outputs)[:, 0], system=system, workload=workload)


def regions(rows: pd.DataFrame) -> pd.Series:
    activity = np.where(rows.utilisation < IDLE, "idle thread",
                        np.where(rows.thread_ips_G < SLOW_IPS_G, "running, < 1 G instr/s", "running, >= 1 G instr/s"))
    return pd.Series(activity, index=rows.index) + np.where(rows.temperature < COLD_RISE, ", cold", "")


def _cell(value: float, spec: str) -> str:
    return "no rows" if np.isnan(value) else format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-run", type=Path, required=True, help="an 'ailfm ail train' folder (its shards/)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--policy", default="ail", help="governor name or .onnx file")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    args = parser.parse_args()
    shards = sorted((args.train_run / "shards").glob("*.parquet"))
    if not shards:
        raise SystemExit(f"ail_coverage: error: no shards/*.parquet under {args.train_run}")
    training = pd.concat([pd.read_parquet(path) for path in shards], ignore_index=True)
    training = training[training.has_thread > 0]
    mixes = write_mixes(args.out)
    evaluation = pd.concat([evaluation_rows(args.policy, system, workload, lengths, seed)
                            for system in args.systems.split(",") for workload in args.workloads.split(",")
                            for lengths in mixes.values() for seed in SEEDS], ignore_index=True)
    evaluation = evaluation[evaluation.has_thread > 0]
    n_levels = len(load_system(SYSTEMS[0]).dvfs.levels_GHz)
    below_f_max = evaluation.output < 1 - 0.5 / (n_levels - 1)  # ``actions.frequencies_from_fractions`` rounds
    evaluation_region, training_region = regions(evaluation), regions(training)
    table = pd.DataFrame({
        "evaluation_share": evaluation_region.value_counts(normalize=True),
        "training_share": training_region.value_counts(normalize=True),
        "oracle_label_mean": training.target_f_fraction.groupby(training_region).mean(),
        "policy_output_mean": evaluation.output.groupby(evaluation_region).mean(),
        "policy_below_f_max": below_f_max.groupby(evaluation_region).mean()})
    table[["evaluation_share", "training_share"]] = table[["evaluation_share", "training_share"]].fillna(0.0)
    table = table.sort_values("evaluation_share", ascending=False).rename_axis("region").reset_index()
    low, high = training[list(FEATURE_NAMES)].min(), training[list(FEATURE_NAMES)].max()
    outside = ((evaluation[list(FEATURE_NAMES)] < low) | (evaluation[list(FEATURE_NAMES)] > high)).mean()
    features = pd.DataFrame({"training_min": low, "training_max": high, "evaluation_outside": outside})
    features = features.sort_values("evaluation_outside", ascending=False).rename_axis("feature").reset_index()
    write_atomic(args.out / "regions.csv", table.to_csv(index=False).encode())
    write_atomic(args.out / "features.csv", features.to_csv(index=False).encode())
    lines = [f"{len(evaluation)} evaluation rows ({args.policy}), {len(training)} training rows; every row a core "
             "holding a thread", "",
             "| region | share of evaluation rows | share of training rows | Oracle's mean label (training) | "
             "policy's mean output (evaluation) | policy outputs below f_max |", "|---|---|---|---|---|---|"]
    lines += [f"| {r.region} | {r.evaluation_share:.1%} | {r.training_share:.1%} | "
              f"{_cell(r.oracle_label_mean, '.3f')} | {_cell(r.policy_output_mean, '.3f')} | "
              f"{_cell(r.policy_below_f_max, '.0%')} |" for r in table.itertuples()]
    lines += ["", "| feature | training range | evaluation rows outside it |", "|---|---|---|"]
    lines += [f"| {r.feature} | {r.training_min:.3g} to {r.training_max:.3g} | {r.evaluation_outside:.1%} |"
              for r in features[features.evaluation_outside > 0].itertuples()]
    text = "\n".join(lines) + "\n"
    write_atomic(args.out / "coverage.md", text.encode())
    print(text, end="")


if __name__ == "__main__":
    main()
