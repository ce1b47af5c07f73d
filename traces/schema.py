"""The trace format: one row per (instance, request, phase, step, kernel), columns in a fixed order."""

from __future__ import annotations

import pandas as pd

from ailfm.traces.decompose import KernelType

PHASES = ("prefill", "decode")

#: Trace columns in order, with their dtype. ``*_per_thread`` columns are the busiest thread's share
#: (ceil(rows/T) of the rows); threads ``0 .. active_threads-1`` work, the rest wait at the barrier.
TRACE_COLUMNS: dict[str, str] = {
    "instance": "int32",          # inference instance, 0..W-1
    "request": "int32",           # request id, in arrival order over the whole scenario
    "arrival_s": "float64",       # when the request arrives (it may not start earlier)
    "phase": "category",          # prefill or decode
    "step": "int32",              # 0 for prefill, k for the k-th decode step
    "layer": "int32",             # transformer layer, -1 outside the layers
    "op": "category",             # kernel instance name: q_proj, softmax, lm_head...
    "kernel": "category",         # kernel type (a row of the characterisation table)
    "work_units": "float64",      # FLOPs (gemm, gemv, attention products) or elements (element-wise kernels)
    "flops": "float64",           # arithmetic operations of the whole kernel
    "bytes": "float64",           # bytes read + written by the whole kernel
    "threads": "int32",           # T of the instance
    "active_threads": "int32",    # threads with at least one row
    "instructions_per_thread": "float64",
    "llc_accesses_per_thread": "float64",
    "dram_misses_per_thread": "float64",
    "working_set_bytes_per_thread": "float64",  # bytes the busiest thread touches (its cache footprint)
    "base_cpi": "float64",        # core-bound CPI of the kernel type at the reference frequency
    "activity": "float64",        # switching-activity factor of the kernel type
    "tokens": "int32",            # output tokens completed by this kernel (1 on the pass's last kernel)
}


def trace_dtypes() -> dict[str, object]:
    """Column dtypes of a trace frame; ``phase`` and ``kernel`` are categoricals over their fixed value sets."""
    dtypes: dict[str, object] = dict(TRACE_COLUMNS)
    dtypes["phase"] = pd.CategoricalDtype(PHASES)
    dtypes["kernel"] = pd.CategoricalDtype([k.value for k in KernelType])
    return dtypes
