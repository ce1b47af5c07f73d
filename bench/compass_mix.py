"""Does a heterogeneous co-exploration result's mix of chiplets pay?

Does a heterogeneous co-exploration result's mix pay? Re-score its best design with every chiplet turned to each
dataflow it uses (a homogeneous twin per dataflow, same MACs and buffers), by the explore inner loop (small GA,
same settings and seed), both warm-started from the LNS incumbent's mapping and from the fixed baselines only.

    python bench/compass_mix.py OUT [--model llama-3-8b --serving orca --lengths azure-conv]

OUT is an ``ailfm map explore`` output folder (explore.json, best_hardware.yaml, lns_state.json); pass the same
model, serving, lengths and inner-search settings as that run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ailfm.mapping.hardware import ChipletType, Hardware, load_hardware
from ailfm.mapping.models import load_model
from ailfm.mapping.search.hardware import ExploreSettings, score_design, with_chiplets
from ailfm.mapping.workload import load_lengths


def twin(hw: Hardware, dataflow: str) -> Hardware:
    """``hw`` with every chiplet's dataflow set to ``dataflow`` (MACs, buffer and clock kept)."""
    chiplets = [hw.types[k] for k in hw.chiplet_type]
    return with_chiplets(hw, [ChipletType(c.name, dataflow, c.macs, c.buffer_KiB, c.frequency_GHz) for c in chiplets])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--model", default="llama-3-8b")
    parser.add_argument("--serving", default="orca")
    parser.add_argument("--lengths", default="azure-conv")
    parser.add_argument("--inner-pop", type=int, default=16)
    parser.add_argument("--inner-gen", type=int, default=8)
    args = parser.parse_args()
    out = Path(args.out)
    result = json.loads((out / "explore.json").read_text())
    state = json.loads((out / "lns_state.json").read_text())
    hw = load_hardware(out / "best_hardware.yaml")
    settings = ExploreSettings(inner_pop=args.inner_pop, inner_gen=args.inner_gen)
    workload_args = {"n_slots": 32, "n_steps": 3, "tensor_parallel": 8, "n_blocks": 1, "seed": 0}
    model, lengths = load_model(args.model), load_lengths(args.lengths)
    micro_batches = result["homogeneous_best"]["micro_batches"]
    # the incumbent's mapping is the best design's when the LNS ended on it
    incumbent = np.asarray(state["current_genome"]) if state["current_cost"] == state["best_cost"] else None
    designs = {"best (as found)": hw}
    for dataflow in sorted({t.dataflow for t in hw.types}):
        designs[f"all {dataflow}"] = twin(hw, dataflow)
    print(f"{out}: best design {[t.name for t in hw.types]}; cost = latency x energy x USD (lower is better)")
    for name, design in designs.items():
        cells = []
        for label, warm in (("incumbent mapping", incumbent), ("baselines only", None)):
            if label == "incumbent mapping" and warm is None:
                continue
            s = score_design(model, args.serving, lengths, design, micro_batches, settings, workload_args,
                             warm_start=warm)
            cells.append(f"{label}: cost {s.cost:.5g} ({s.latency_s * 1e3:.3f} ms, {s.energy_J:.4f} J, "
                         f"USD {s.money_usd:.3f})")
        print(f"  {name:16s} " + "; ".join(cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
