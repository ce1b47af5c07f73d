"""Held-out check of the NUCA model's loaded latency: a fitted system YAML against other ``calibrate_nuca.py`` runs.

``calibrate_nuca.py --load-traffic llc`` fits ``llc.bank_service_cycles`` at one load level and writes it into its
``fitted_noc.yaml``; this script compares that system's loaded latency with gem5's at load levels the fit never saw
(other ``calibration.csv`` files, e.g. another ``--load-f-GHz`` or ``--load-workload``)::

    python bench/gem5_load_validate.py --fitted runs/load/llc-4-j/fitted_noc.yaml \\
        runs/load/llc-4-j/calibration.csv runs/load/llc-1-j/calibration.csv runs/load/llc-vit-j/calibration.csv

Printed per run: the mean LLC access rate per loaded tile, gem5's mean loaded latency, and the mean absolute
relative error of the built-in model (the fitted YAML's ``base:``), of the idle fit alone (no bank term) and of the
idle fit with the bank term.
"""

from __future__ import annotations

import argparse
import json

import pandas as pd
import yaml

from ailfm.gem5_configs.calibration import load_errors, with_bank_service
from ailfm.plugins.system.description import load_system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", nargs="+", help="calibration.csv files of calibrate_nuca.py runs")
    parser.add_argument("--fitted", required=True, help="fitted_noc.yaml with llc.bank_service_cycles")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args()
    banked = load_system(args.fitted)
    with open(args.fitted, encoding="utf-8") as handle:
        base = load_system(yaml.safe_load(handle)["base"])
    idle_fit = with_bank_service(banked, None)
    systems = {"builtin": base, "idle_fit": idle_fit, "idle_fit_bank": banked}
    rows = []
    for path in args.tables:
        table = pd.read_csv(path)
        loaded = table[table["load_accesses_per_s"] > 0]
        rows.append({"table": path, "accesses_per_s_per_tile": float(loaded["load_accesses_per_s"].mean()),
                     "gem5_load_ns": float(loaded["gem5_load_ns"].mean()),
                     **{f"error_{name}": error for name, error in load_errors(table, systems).items()}})
    print(f"bank_service_cycles = {banked.llc.bank_service_cycles}")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"bank_service_cycles": banked.llc.bank_service_cycles, "runs": rows}, handle, indent=2)
            handle.write("\n")


if __name__ == "__main__":
    main()
