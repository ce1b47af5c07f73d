"""Validation of the chiplet cost model (cost.py) against ZigZag, run here, on LLM GEMM and attention shapes.

Both sides describe the same chiplets with the same per-level constants: a 32 x 32 array, a 2 MiB buffer, 1 GHz,
the hardware.DESIGN_DEFAULTS registers, accumulator and port widths, DRAM at ``--dram-bytes-per-cycle`` (8, about a
36th of the presets' 256 GB/s), and cost.py's per-byte energies. ZigZag sees each chiplet as its public design
(zigzag_backend.py: Tesla-FSD-NPU-like ``os``, TPU-v1-like ``ws`` with per-PE weight registers, a weight FIFO from
DRAM and an accumulator memory) and picks its own loop order and blocking (the better of LOMA and SALSA); our side
is the analytic loop nest. NVDLA and Eyeriss are not compared (see docs/compass.md).

Shapes: per-chiplet tiles (tensor parallel 8) of the QKV, output (Llama only), FFN up/gate and FFN down
projections and one head's (or one GQA group's) QK^T and PV, for models inside and beyond the presets
(Llama-3-8B, GPT-3 13B, Qwen2-7B, Phi-3-mini, Gemma-2B, Mixtral-8x7B expert FFNs), at decode (M = 1-8), mid
(M = 28-256) and prefill (M >= 512).
The model was developed looking only at the ``tune`` shapes (Llama-3-8B and the two shapes of the issue); the
``held-out`` shapes were seen once the first model was done. The ``fresh`` shapes (FRESH_MODELS: seven more models,
odd tensor-parallel splits, multi-query attention) were chosen and kept back (``--splits tune,held-out``) until the
model and the ZigZag descriptions were final. Latency = max(cycles, DRAM bytes / DRAM bandwidth) on our side,
ZigZag's total latency on its side. Errors are |ours / ZigZag - 1| per shape, mean and max per (dataflow, regime) group.

ZigZag runs are cached in ``--cache`` (one JSON per chiplet description, written atomically), so the bench resumes.
Writes ``shapes.csv``, ``groups.csv`` and ``groups.md`` to ``--out``. Needs ``pip install 'ailfm[zigzag]'``.

    python bench/compass_zigzag.py [--out bench/results/compass/zigzag] [--workers 1] [--hardware he-36]
                                   [--splits tune,held-out,fresh]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ailfm.mapping.cost import gemm_cost
from ailfm.mapping.hardware import ChipletType, load_hardware
from ailfm.mapping.zigzag_backend import (
    SUPPORTED,
    ZigZagCache,
    accelerator_description,
    gemm_cost_of,
    mapping_description,
)

# name: (d_model, d_ffn, n_heads, n_kv_heads, d_head, gated); public config.json / papers
MODELS = {
    "llama3-8b": (4096, 14336, 32, 8, 128, True),     # meta-llama/Meta-Llama-3-8B
    "gpt3-13b": (5120, 20480, 40, 40, 128, False),    # Brown et al. 2020, Table 2.1
    "qwen2-7b": (3584, 18944, 28, 4, 128, True),      # Qwen/Qwen2-7B
    "phi3-mini": (3072, 8192, 32, 32, 96, True),      # microsoft/Phi-3-mini-4k-instruct
    "gemma-2b": (2048, 16384, 8, 1, 256, True),       # google/gemma-2b (multi-query)
    "mixtral-8x7b": (4096, 14336, 32, 8, 128, True),  # mistralai/Mixtral-8x7B-v0.1 (one expert's FFN)
}
TENSOR_PARALLEL = 8
# Fresh shapes, fixed before any result on them was seen and kept back until the model was final: models and sizes
# beyond the shapes above, with odd tensor-parallel splits (heads, FFN and output columns split unevenly; the largest
# share sets the time), multi-query attention and d_ff not a power of two.
# name: (d_model, d_ffn, n_heads, n_kv_heads, d_head, gated, tensor parallel, (decode, mid, prefill) tokens, context)
FRESH_MODELS = {
    "falcon-7b": (4544, 18176, 71, 1, 64, False, 4, (2, 48, 768), 1100),       # tiiuae/falcon-7b (multi-query)
    "opt-6.7b": (4096, 16384, 32, 32, 128, False, 2, (1, 96, 640), 1900),      # facebook/opt-6.7b
    "llama2-13b": (5120, 13824, 40, 40, 128, True, 6, (6, 200, 1536), 600),    # meta-llama/Llama-2-13b-hf
    "yi-34b": (7168, 20480, 56, 8, 128, True, 8, (3, 160, 1024), 2500),        # 01-ai/Yi-34B (GQA 7:1)
    "stablelm-3b": (2560, 6912, 32, 32, 80, True, 3, (5, 24, 2560), 3100),     # stabilityai/stablelm-3b-4e1t
    "mistral-7b": (4096, 14336, 32, 8, 128, True, 4, (7, 112, 4096), 4096),    # mistralai/Mistral-7B-v0.1 (window)
    "deepseek-7b": (4096, 11008, 32, 32, 128, True, 8, (8, 32, 512), 800),     # deepseek-ai/deepseek-llm-7b-base
}
TUNE_MODELS = ("llama3-8b",)
TUNE_SHAPES = {(2048, 14336, 4096), (64, 18944, 3584)}  # the two examples
CONTEXT = {1: 1500, 4: 3000, 8: 700, 64: 1024, 128: 2048, 256: 256, 512: 512, 1024: 1024, 2048: 2048}


def regime(m: int) -> str:
    return "decode" if m <= 8 else ("mid" if m < 512 else "prefill")


def shapes() -> pd.DataFrame:
    """The validation shapes: (model, kind, M, K, N, split)."""
    rows = []

    def add(model, kind, m, k, n):
        split = "tune" if model in TUNE_MODELS or (m, k, n) in TUNE_SHAPES else "held-out"
        rows.append({"model": model, "kind": kind, "M": m, "K": k, "N": n, "split": split})

    tokens = {"llama3-8b": (1, 64, 2048), "gpt3-13b": (8, 256, 512), "qwen2-7b": (4, 64, 1024),
              "phi3-mini": (1, 128, 2048), "gemma-2b": (8, 128, 512), "mixtral-8x7b": (4, 256, 1024)}
    for model, (d, ffn, heads, kv, dh, gated) in MODELS.items():
        tp = TENSOR_PARALLEL
        for m in tokens[model]:
            if model != "mixtral-8x7b":
                add(model, "qkv", m, d, (heads + 2 * kv) * dh // tp)
            if model in TUNE_MODELS:
                add(model, "out", m, heads * dh, d // tp)
            add(model, "ffn_up", m, d, (2 if gated else 1) * ffn // tp)
            add(model, "ffn_down", m, ffn, d // tp)
            if model == "mixtral-8x7b":
                continue
            group = heads // kv  # GQA: a KV head's query heads share its K and V
            context = CONTEXT[m] if m <= 8 else m
            q_rows = m * group if m <= 8 else m
            add(model, "qk^T" if group == 1 else "qk^T (GQA group)", q_rows, dh, context)
            add(model, "pv" if group == 1 else "pv (GQA group)", q_rows, context, dh)
    add("llama3-8b", "ffn_down (no TP)", 2048, 14336, 4096)
    add("qwen2-7b", "ffn_down (no TP)", 64, 18944, 3584)
    rows += fresh_shapes()
    table = pd.DataFrame(rows).drop_duplicates(subset=["M", "K", "N"]).reset_index(drop=True)
    table["regime"] = [regime(m) for m in table.M]
    return table


def fresh_shapes() -> list[dict]:
    """Per fresh model: decode QKV and QK^T, mid FFN up/gate and PV, prefill QKV, FFN down and PV (one chiplet's share;
    a decode QK^T stacks the query heads that share a KV head on the chiplet)."""
    rows = []
    for model, (d, ffn, heads, kv, dh, gated, tp, (m_dec, m_mid, m_pre), context) in FRESH_MODELS.items():
        heads_here, kv_here = -(-heads // tp), -(-kv // tp)
        ffn_here, d_here = -(-ffn // tp), -(-d // tp)
        group = heads_here // kv_here
        for kind, m, k, n in (("qkv", m_dec, d, (heads_here + 2 * kv_here) * dh),
                              ("qk^T" if group == 1 else "qk^T (GQA group)", m_dec * group, dh, context),
                              ("ffn_up", m_mid, d, (2 if gated else 1) * ffn_here),
                              ("pv", m_mid, m_mid, dh),
                              ("qkv", m_pre, d, (heads_here + 2 * kv_here) * dh),
                              ("ffn_down", m_pre, ffn_here, d_here),
                              ("pv", m_pre, min(m_pre, context), dh)):
            rows.append({"model": model, "kind": kind, "M": m, "K": k, "N": n, "split": "fresh"})
    return rows


def compare(table: pd.DataFrame, chiplet: ChipletType, cache: ZigZagCache, dram_Bpc: float,
            dram_pJ_per_byte: float) -> pd.DataFrame:
    """Both models on every shape for one chiplet."""
    mkn = table[["M", "K", "N"]].to_numpy(np.int64)
    accelerator = accelerator_description(chiplet, dram_Bpc, dram_pJ_per_byte)
    rows = cache.results(mkn, accelerator, mapping_description(chiplet), chiplet.partial_sum_bytes,
                         label=f"ZigZag {chiplet.dataflow}")
    sides = {"ours": gemm_cost(mkn, chiplet), "zigzag": gemm_cost_of(rows)}
    macs = mkn.prod(axis=1).astype(float)
    out = table.copy()
    out["dataflow"] = chiplet.dataflow if chiplet.name == chiplet.dataflow else f"{chiplet.name} ({chiplet.dataflow})"
    out["ours_cycles"] = np.maximum(sides["ours"].cycles, sides["ours"].dram_bytes / dram_Bpc)
    out["zigzag_cycles"] = sides["zigzag"].cycles
    out["zigzag_engine"] = [r["engine"] for r in rows]
    for side, cost in sides.items():
        for level in ("dram", "buffer", "accumulator", "register"):
            out[f"{side}_{level}_bytes"] = getattr(cost, f"{level}_bytes")
        # MAC energy plus each level's bytes at the model's per-byte prices (so only access counts differ)
        out[f"{side}_energy_pJ"] = (sum(cost.energy_pJ(chiplet, macs).values())
                                    + cost.dram_bytes * dram_pJ_per_byte)
    for metric, col in (("latency", "cycles"), ("dram", "dram_bytes"), ("buffer", "buffer_bytes"),
                        ("energy", "energy_pJ")):
        out[f"err_{metric}"] = out[f"ours_{col}"] / out[f"zigzag_{col}"] - 1
    return out


def groups(results: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (split, dataflow, reg), g in results.groupby(["split", "dataflow", "regime"], sort=False):
        row = {"split": split, "dataflow": dataflow, "regime": reg, "shapes": len(g)}
        for metric in ("latency", "dram", "buffer", "energy"):
            err = g[f"err_{metric}"].abs()
            row[f"{metric}_mean"], row[f"{metric}_max"] = err.mean(), err.max()
        rows.append(row)
    return pd.DataFrame(rows)


def markdown(summary: pd.DataFrame) -> str:
    lines = ["| shapes | dataflow / regime | n | latency mean (max) | DRAM bytes mean (max) | "
             "buffer accesses mean (max) | energy mean (max) |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in summary.itertuples():
        cells = [f"{getattr(r, m + '_mean'):.1%} ({getattr(r, m + '_max'):.1%})"
                 for m in ("latency", "dram", "buffer", "energy")]
        lines.append(f"| {r.split} | {r.dataflow} {r.regime} | {r.shapes} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/results/compass/zigzag")
    parser.add_argument("--cache", default=None, help="ZigZag cache folder (default: OUT/cache)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--dram-bytes-per-cycle", type=float, default=8.0)
    parser.add_argument("--dram-pJ-per-bit", type=float, default=20.0)
    parser.add_argument("--hardware", default="he-36",
                        help="preset or YAML whose os / ws chiplet types are compared (calibrate your own designs)")
    parser.add_argument("--splits", default="tune,held-out,fresh",
                        help="comma-separated shape splits to compare (keep the fresh shapes back while tuning)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = ZigZagCache(args.cache or out / "cache", workers=args.workers, progress=not args.no_progress)
    table = shapes()
    splits = args.splits.split(",")
    unknown = sorted(set(splits) - set(table.split))
    if unknown:
        parser.error(f"--splits: unknown split(s) {', '.join(unknown)}; known: tune, held-out, fresh")
    table = table[table.split.isin(splits)].reset_index(drop=True)
    chiplets = [t for t in load_hardware(args.hardware).types if t.dataflow in SUPPORTED]
    results = pd.concat([compare(table, chiplet, cache, args.dram_bytes_per_cycle, 8 * args.dram_pJ_per_bit)
                         for chiplet in chiplets], ignore_index=True)
    results.to_csv(out / "shapes.csv", index=False, float_format="%.6g")
    summary = pd.concat([groups(results), groups(results.assign(split="all"))], ignore_index=True)
    summary.to_csv(out / "groups.csv", index=False, float_format="%.6g")
    text = markdown(summary)
    (out / "groups.md").write_text(text)
    print(f"{len(table)} shapes x {len(chiplets)} chiplet types; ZigZag runs this time: {cache.runs} "
          f"({cache.warm_seconds:.0f} s)")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
