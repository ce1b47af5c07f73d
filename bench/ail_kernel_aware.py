"""What kernel-aware V/f adds to the Oracle (``OracleConfig.kernel_aware``, ``ailfm ail train --kernel-aware``).

The Oracle is the teacher: what kernel-aware labels could teach shows first in its own runs. So the Oracle runs each
scenario twice, with the thermal V/f candidates only and with the kernel-aware ones added (whole instances lowered
first where they lose least per kelvin, from the look-ahead's per-instance fit of the interval model), from the same
state: ``--warmup`` epochs of ``performance`` (the chip at its thermal limit, as the roll-outs start), then
``--epochs`` epochs of the Oracle (a training roll-out driven by the Oracle; snuca-64's epoch is 1 ms).
Scenarios (snuca-64, 3 instances x 16 threads): the held-out models on the ``ail_eval.py`` mixes (Llama-3-8B
decode-heavy ``conv``, ViT-L/16 ``code`` arrivals), and GPT-2 small with 12 short requests, where instances are in
prefill (GEMM) and decode (GEMV) at once: the case kernel-aware V/f is for.

    python bench/ail_kernel_aware.py [--out bench/results/ail/kernel-aware] [--epochs 100]

Writes ``kernel_aware.csv`` (instructions and tokens after the warm-up, peak, epochs above T_max, wall seconds per
decision) and prints it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
from ail_eval import write_mixes  # bench/ is on sys.path: the evaluation's Azure mixes

from ailfm.files import prepare_output_folder, write_atomic
from ailfm.plugins.imitation.oracle import OracleConfig
from ailfm.plugins.imitation.rollout import RolloutGovernor, RolloutScenario, RolloutTask, simulation


def scenarios(out: Path) -> list[tuple[str, str, str, int]]:
    """(workload, lengths, label, requests)."""
    mixes = write_mixes(out)
    return [("llama-3-8b", mixes["conv"], "conv", 3), ("vit-l-16", mixes["code"], "code", 3),
            ("gpt2", "fixed:256,32", "fixed:256,32", 12)]


def measure(workload: str, lengths: str, requests: int, kernel_aware: bool, warmup: int, epochs: int) -> dict:
    scenario = RolloutScenario(system="snuca-64", workload=workload, lengths=lengths, requests=requests, instances=3,
                               threads=16, warmup_epochs=warmup, epochs=epochs, seed=0)
    governor = RolloutGovernor(RolloutTask(scenario, "oracle", oracle=OracleConfig(kernel_aware=kernel_aware)))
    start = time.perf_counter()
    result = simulation(scenario, governor).run((warmup + epochs) * 1e-3)
    wall = time.perf_counter() - start
    after = result.epochs.iloc[warmup:]
    t_max = governor.context.system.thermal.t_max_K - 273.15
    return {"instructions": float(result.per_core["instructions"][warmup:].sum()), "tokens": int(after["tokens"].sum()),
            "peak_C": float(after["peak_temp_C"].max()), "epochs_above_tmax": int((after["peak_temp_C"] > t_max).sum()),
            "wall_s_per_decision": wall / epochs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/results/ail/kernel-aware")
    parser.add_argument("--warmup", type=int, default=60, help="epochs of performance before the Oracle")
    parser.add_argument("--epochs", type=int, default=100, help="epochs of the Oracle")
    args = parser.parse_args(argv)
    if args.warmup < 0 or args.epochs < 1:
        parser.error(f"need --warmup >= 0 and --epochs >= 1, got {args.warmup} and {args.epochs}")
    out = prepare_output_folder(args.out)
    rows = []
    for workload, lengths, label, requests in scenarios(out):
        for kernel_aware in (False, True):
            row = measure(workload, lengths, requests, kernel_aware, args.warmup, args.epochs)
            rows.append({"workload": workload, "lengths": label, "requests": requests, "kernel_aware": kernel_aware,
                         **row})
            print(rows[-1], flush=True)
    frame = pd.DataFrame(rows)
    base = frame[~frame.kernel_aware].set_index("workload")["instructions"]
    frame["instructions_vs_thermal"] = frame["instructions"] / frame["workload"].map(base) - 1
    write_atomic(out / "kernel_aware.csv", frame.to_csv(index=False).encode())
    print(frame.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
