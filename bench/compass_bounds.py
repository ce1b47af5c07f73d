"""Separate latency and energy floors of a scenario, next to the fixed baselines (why EDP gains are bounded).

Latency floor: per iteration, the longer of the critical path through the layer graph (every job on its fastest
chiplet type, no chiplet shared) and the total work on the fastest types spread over all chiplets. Energy floor:
MAC + vector + buffer energy on each job's cheapest type, plus DRAM traffic with every layer's weights read once
per iteration, the KV cache, the block input and output, and that traffic's NoP hops from the nearest average
DRAM distance. The floors cannot hold together (weight reuse needs micro-batches of a layer on one chiplet,
parallelism needs them spread), so their product is a loose bound on EDP.

    python bench/compass_bounds.py [--model gpt-3-6.7b] [--serving chunked] [--lengths azure-conv]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ailfm.mapping.evaluator import Evaluator
from ailfm.mapping.hardware import load_hardware
from ailfm.mapping.models import load_model
from ailfm.mapping.search.baselines import baseline_mappings
from ailfm.mapping.workload import build_jobs, layer_graph, load_lengths, make_workload


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gpt-3-6.7b")
    parser.add_argument("--serving", default="chunked")
    parser.add_argument("--lengths", default="azure-conv")
    parser.add_argument("--hardware", default="he-36")
    args = parser.parse_args()
    hw = load_hardware(args.hardware)
    wl = make_workload(load_model(args.model), args.serving, load_lengths(args.lengths), seed=0,
                       beyond_context=True)  # GPT-3: 2048 positions, Azure requests up to 7052 tokens
    ev = Evaluator(wl, hw)
    ops = build_jobs(wl)
    graph = layer_graph(wl)
    n_it, n_mb, n_l = ops.shape
    compute = ev.compute_time_s.min(axis=1).reshape(n_it, n_mb, n_l)
    latency_floor = 0.0
    for i in range(n_it):
        finish = np.zeros((n_mb, n_l))
        for layer, producers in enumerate(graph.predecessors):
            ready = finish[:, list(producers)].max(axis=1) if producers else 0.0
            finish[:, layer] = ready + compute[i, :, layer]
        latency_floor += max(finish.max(), compute[i].sum() / hw.n_chiplets)
    t = wl.tensor_parallel
    dram = (ops.weight_bytes.max(axis=1).sum() + ops.kv_read_bytes.sum() + ops.kv_write_bytes.sum()
            + ops.input_read_bytes.sum() + ops.output_bytes[:, :, -t:].sum())
    energy_floor = (ev.compute_energy_pJ.min(axis=1).sum() + dram * 8 * hw.dram_pJ_per_bit
                    + dram * 8 * hw.nop_pJ_per_bit_hop * hw.dram_direction_shares[2].min()) * 1e-12
    print(f"{args.model} {args.serving} {args.lengths} on {hw.name}: latency floor {latency_floor * 1e3:.2f} ms, "
          f"energy floor {energy_floor:.3f} J, EDP bound {latency_floor * energy_floor:.4g} J s")
    for name, mapping in baseline_mappings(ev).items():
        d = ev.details(mapping)
        parts = ", ".join(f"{k} {v:.3f}" for k, v in d.energy_by_part_J.items())
        print(f"  {name:22s} {d.evaluation.latency_s[0] * 1e3:8.2f} ms {d.evaluation.energy_J[0]:.3f} J "
              f"EDP {d.evaluation.edp[0]:.4g} ({parts})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
