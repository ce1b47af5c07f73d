"""Intra-chiplet cost model: time, energy and buffer spills of an operator on one chiplet type.

A GEMM (M x K times K x N; M = tokens, K = reduction, N = output columns) runs on a rows x cols PE array.
A dataflow unrolls two of the three dimensions spatially and iterates the third in time (the taxonomy of
Chen et al., "Eyeriss", ISCA 2016, and Kwon et al., "MAESTRO", MICRO 2019):

=========  ============  =========  ===========================  ==========================
dataflow   rows x cols   temporal   stationary operand           pipeline fill per pass
=========  ============  =========  ===========================  ==========================
os         M x N         K          outputs                      rows + cols (systolic)
ws         K x N         M          weights                      rows + cols (systolic)
nvdla      K x N         M          weights, reloaded per 16 M   none (broadcast)
eyeriss    K x M         N          inputs                       rows (partial-sum chain)
=========  ============  =========  ===========================  ==========================

array cycles = ceil(D_rows / rows) * ceil(D_cols / cols) * (D_temporal + fill).  Buffer accesses: each operand
is written into the buffer once when it arrives; the stationary operand is read once; a streamed operand is
re-read once per tile of the spatial dimension it does not carry; an output whose reduction dimension K is
spatial is accumulated over the K tiles (one write per K tile, one read per K tile but the first).  Where those
partial sums live depends on the design: ``ws`` keeps them in the unified buffer as 32-bit words (the MAC's
32-bit add; the last K tile writes the 8-bit result), ``nvdla`` in its dedicated accumulator (CACC) and
``eyeriss`` in the PE scratchpads, both counted as one byte per access as before.  The ``os`` and ``ws``
buffers' array-side port moves rows + cols bytes per cycle (the operand bytes an output-stationary array
consumes per cycle), so their GEMMs take max(array cycles, array-side buffer bytes / (rows + cols)) cycles.  The
``ws`` partial sums and the port are what ZigZag charges for the same chiplet (zigzag_check.py; docs/compass.md):
with them our weight-stationary latency on large-M GEMMs agrees with ZigZag's instead of being 2-4x below it.
``nvdla`` and ``eyeriss`` (not cross-checked) keep an unlimited port.
Spills: when neither input operand fits in half the buffer, the larger operand is re-streamed from DRAM once
per half-buffer chunk of the smaller one (first-order blocking; Hong & Kung 1981 give the asymptotics).
Element-wise operators run on a vector unit with one lane per array column.

Energy constants (45 nm, 8-bit integer datapath; M. Horowitz, "Computing's energy problem (and what we can do
about it)", ISSCC 2014, Fig. 1.1.9): 8-bit multiply 0.2 pJ + 32-bit add 0.1 pJ per MAC; FP16 multiply 1.1 pJ +
add 0.4 pJ per vector operation; SRAM 10 pJ (8 KiB), 20 pJ (32 KiB) and 100 pJ (1 MiB) per 64-bit access,
fitted by a power law in the capacity through the 8 KiB and 1 MiB points (the 32 KiB point is within 8 %).
Static power is not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ailfm.mapping.hardware import ChipletType
from ailfm.mapping.workload import JobOperators

MAC_pJ = 0.2 + 0.1
VECTOR_OP_pJ = 1.1 + 0.4
SRAM_REF_BYTES = 8 * 1024
SRAM_REF_pJ_PER_BYTE = 10.0 / 8
SRAM_EXPONENT = np.log(100.0 / 10.0) / np.log(1024 / 8)  # 0.4746, from the 8 KiB and 1 MiB points
NVDLA_STRIPE_ROWS = 16  # NVDLA reloads weights into the MAC cells per stripe of input rows (nvdla.org hw docs)

PARTIAL_SUM_BYTES = 4  # 32-bit accumulation, as in MAC_pJ's 32-bit add

M, K, N = 0, 1, 2
# dataflow -> (row dim, col dim, temporal dim, systolic fill, weight reload stripe, bytes per partial-sum access,
#              buffer port limited to rows + cols bytes per cycle)
DATAFLOW_UNROLLING = {
    "os": (M, N, K, "rows+cols", 0, 0, True),
    "ws": (K, N, M, "rows+cols", 0, PARTIAL_SUM_BYTES, True),
    "nvdla": (K, N, M, "none", NVDLA_STRIPE_ROWS, 1, False),
    "eyeriss": (K, M, N, "rows", 0, 1, False),
}


def sram_pJ_per_byte(capacity_bytes: float) -> float:
    """Energy per byte of one buffer access (Horowitz 2014 power-law fit; capacities below 8 KiB use 8 KiB)."""
    return SRAM_REF_pJ_PER_BYTE * (max(capacity_bytes, SRAM_REF_BYTES) / SRAM_REF_BYTES) ** SRAM_EXPONENT


def gemm_cost(mkn: np.ndarray, chiplet: ChipletType) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cycles, buffer bytes accessed and DRAM spill bytes of GEMMs (rows of ``mkn`` = M, K, N; 1-byte elements)."""
    rows, cols = chiplet.array_shape
    r, c, t, fill_kind, stripe, psum_bytes, port_limited = DATAFLOW_UNROLLING[chiplet.dataflow]
    dims = np.asarray(mkn, float)
    tiles_r = np.ceil(dims[:, r] / rows)
    tiles_c = np.ceil(dims[:, c] / cols)
    fill = {"rows+cols": rows + cols, "rows": rows, "none": 0}[fill_kind]
    array_cycles = tiles_r * tiles_c * (dims[:, t] + fill)
    tiles = {r: tiles_r, c: tiles_c}
    size_in = dims[:, M] * dims[:, K]
    size_w = dims[:, K] * dims[:, N]
    size_out = dims[:, M] * dims[:, N]

    def reads(size: np.ndarray, operand_dims: tuple[int, int]) -> np.ndarray:
        if set(operand_dims) == {r, c}:
            return size
        spatial = r if r in operand_dims else c
        other = c if spatial == r else r
        return size * tiles[other]

    weight_reads = reads(size_w, (K, N))
    if stripe:
        weight_reads = np.maximum(weight_reads, size_w * np.ceil(dims[:, M] / stripe))
    if K == t:
        output_traffic = size_out
    else:
        k_tiles = tiles[K]
        output_traffic = size_out * np.where(k_tiles > 1, psum_bytes * (2 * k_tiles - 2) + 1, 1)
    array_side = reads(size_in, (M, K)) + weight_reads + output_traffic
    cycles = np.maximum(array_cycles, np.ceil(array_side / (rows + cols))) if port_limited else array_cycles
    buffer = size_in + size_w + size_out + array_side  # + arrival writes (inputs, weights), final output read
    half = chiplet.buffer_bytes / 2
    small = np.minimum(size_in, size_w)
    large = np.maximum(size_in, size_w)
    spill = np.where(small > half, (np.ceil(small / half) - 1) * large, 0.0)
    return cycles, buffer, spill


@dataclass(frozen=True)
class JobCosts:
    """Cost of every job (iteration, micro-batch, layer) on one chiplet type."""

    compute_s: np.ndarray
    mac_pJ: np.ndarray
    vector_pJ: np.ndarray
    buffer_pJ: np.ndarray
    spill_bytes: np.ndarray


def job_costs(ops: JobOperators, chiplet: ChipletType) -> JobCosts:
    """Sum the operators of each job on ``chiplet`` (jobs run their operators one after another)."""
    n_jobs = int(np.prod(ops.shape))
    cycles, buffer, spill = gemm_cost(ops.gemm_mkn, chiplet)
    count = ops.gemm_count
    macs = ops.gemm_mkn.prod(axis=1) * count
    rows, cols = chiplet.array_shape
    vec_ops = ops.elt_elements * ops.elt_ops
    vec_cycles = np.ceil(vec_ops / cols)
    e_sram = sram_pJ_per_byte(chiplet.buffer_bytes)

    def per_job(index: np.ndarray, values: np.ndarray) -> np.ndarray:
        return np.bincount(index, weights=values, minlength=n_jobs).reshape(ops.shape)

    total_cycles = per_job(ops.gemm_job, cycles * count) + per_job(ops.elt_job, vec_cycles)
    buffer_bytes = per_job(ops.gemm_job, buffer * count) + per_job(ops.elt_job, 2 * ops.elt_elements)
    return JobCosts(
        compute_s=total_cycles / (chiplet.frequency_GHz * 1e9),
        mac_pJ=per_job(ops.gemm_job, macs) * MAC_pJ,
        vector_pJ=per_job(ops.elt_job, vec_ops) * VECTOR_OP_pJ,
        buffer_pJ=buffer_bytes * e_sram,
        spill_bytes=per_job(ops.gemm_job, spill * count),
    )
