"""Intra-chiplet cost model: a loop nest per GEMM on one chiplet type (time, accesses per memory level, energy).

A GEMM (M x K times K x N; M = tokens, K = reduction, N = output columns; 8-bit operands, 32-bit partial sums) runs
on a rows x cols PE array. The dataflow unrolls two of the three loops spatially and iterates the third in time
(the taxonomy of Chen et al., "Eyeriss", ISCA 2016, and Kwon et al., "MAESTRO", MICRO 2019):

=========  ============  =========  =============================================================
dataflow   rows x cols   temporal   design (hardware.DESIGN_DEFAULTS)
=========  ============  =========  =============================================================
os         M x N         K          Tesla-FSD-NPU-like: partial sums in double-buffered PE registers
ws         K x N         M          TPU-v1-like: weights in PE registers via a FIFO from DRAM, partial
                                    sums in an accumulator memory
nvdla      K x N         M          NVDLA-like: weights in the MAC cells per 16-row stripe, CACC
eyeriss    K x M         N          Eyeriss-like: partial sums in the PE scratchpads
=========  ============  =========  =============================================================

Temporal blocking (DRAM traffic). Each operand moves from DRAM once if it can; otherwise the schedule keeps a
block on chip and re-reads the other operands. Three loop nests are costed and the cheapest kept, each with its
block sizes chosen to minimise DRAM bytes within the capacity:

* output blocks (bm x bn partial sums, ``partial_sum_bytes`` each) held on chip while the reduction streams:
  inputs are re-read once per column block, weights once per row block (DRAM = MK nN + KN nM + MN, the 3-loop
  blocking of Hong & Kung 1981); the partial sums sit in the accumulator memory if the design has one, else in the
  buffer;
* input rows resident (bm x K in the buffer), weights streamed once per row block (MK + KN nM + MN);
* weight columns resident (K x bn in the buffer; designs whose weights pass the buffer), inputs streamed once per
  column block (MK nN + KN + MN).

An operand that fits whole (or with little to spare) is read once; one that barely overflows costs one extra block
of the other operand, not a doubling. Block counts are searched exactly over 1-256 and geometrically above.
The buffer keeps room for double-buffering array tiles of each operand streamed through it (``STREAM_RESERVE_TILES``);
where the reduction is temporal (os) a resident block keeps room for two strips (K x one array tile) of the
streamed operand instead, since each strip serves every tile of the block before the next. Output blocks in the
buffer are the widest whose reduction chunks outlast the partial-sum swap.

Time: the array runs ceil(D_rows / rows) x ceil(D_cols / cols) passes of D_temporal cycles, back to back, so the
systolic fill and drain (rows + cols) is paid once per GEMM; a weight-stationary pass lasts at least the time to
load the next weight tile through the weight port (double-buffered registers). Each buffer port (input, weight,
output / partial sums) moves at most its bytes per cycle: cycles = max(array cycles + fill, port bytes / port
width). DRAM time is added by the evaluator (max of compute, NoP and DRAM per job, with the channels shared).

Accesses per level (bytes): DRAM (above); buffer = arrivals from DRAM + reads into the array (a streamed operand
is re-read once per array tile of the spatial dimension it lacks) + partial sums that spill to the buffer + final
outputs written and read back; accumulator = a read and a write of every partial sum per reduction tile; PE
registers = one access per MAC of the stationary operand (a read and a write of the partial sum for ``os``).

Energy constants (45 nm, 8-bit integer datapath; M. Horowitz, "Computing's energy problem (and what we can do
about it)", ISSCC 2014, Fig. 1.1.9): 8-bit multiply 0.2 pJ + 32-bit add 0.1 pJ per MAC; FP16 multiply 1.1 pJ +
add 0.4 pJ per vector operation; SRAM 10 pJ (8 KiB), 20 pJ (32 KiB) and 100 pJ (1 MiB) per 64-bit access,
fitted by a power law in the capacity through the 8 KiB and 1 MiB points (the 32 KiB point is within 8 %); the
accumulator memory uses the same law at its capacity. PE registers: 0.021 pJ per 16-bit access, the flip-flop
register of ZigZag's TPU-like example accelerator (KU Leuven MICAS, zigzag/inputs/hardware/tpu_like.yaml, MIT).
Static power is not modelled. Element-wise operators run on a vector unit with one lane per array column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ailfm.mapping.hardware import NVDLA_STRIPE_ROWS, ChipletType
from ailfm.mapping.workload import JobOperators

MAC_pJ = 0.2 + 0.1
VECTOR_OP_pJ = 1.1 + 0.4
SRAM_REF_BYTES = 8 * 1024
SRAM_REF_pJ_PER_BYTE = 10.0 / 8
SRAM_EXPONENT = np.log(100.0 / 10.0) / np.log(1024 / 8)  # 0.4746, from the 8 KiB and 1 MiB points
REGISTER_pJ_PER_BYTE = 0.021 / 2
STREAM_RESERVE_TILES = 2  # double-buffered array tiles of each streamed operand kept free in the buffer

M, K, N = 0, 1, 2
# dataflow -> (row loop, column loop, temporal loop, systolic fill)
DATAFLOW_UNROLLING = {
    "os": (M, N, K, "rows+cols"),
    "ws": (K, N, M, "rows+cols"),
    "nvdla": (K, N, M, "none"),
    "eyeriss": (K, M, N, "rows"),
}
IN_RESIDENT, W_RESIDENT, OUTPUT_BLOCKS = 0, 1, 2  # the loop nests of blocking()
# candidate block counts: every count up to 256, then geometric (x 1.1) up to 2^20
BLOCK_COUNTS = np.unique(np.concatenate([np.arange(1, 257), np.round(256 * 1.1 ** np.arange(1, 100))]))


def sram_pJ_per_byte(capacity_bytes: float) -> float:
    """Energy per byte of one buffer access (Horowitz 2014 power-law fit; capacities below 8 KiB use 8 KiB)."""
    return SRAM_REF_pJ_PER_BYTE * (max(capacity_bytes, SRAM_REF_BYTES) / SRAM_REF_BYTES) ** SRAM_EXPONENT


@dataclass(frozen=True)
class GemmCost:
    """Per GEMM (arrays over rows of ``mkn``): cycles without DRAM stalls and bytes accessed per memory level."""

    cycles: np.ndarray
    dram_bytes: np.ndarray
    buffer_bytes: np.ndarray
    accumulator_bytes: np.ndarray
    register_bytes: np.ndarray
    row_blocks: np.ndarray      # chosen blocking: output row blocks (nM) and column blocks (nN)
    column_blocks: np.ndarray

    def energy_pJ(self, chiplet: ChipletType, macs: np.ndarray) -> dict[str, np.ndarray]:
        """MAC and on-chip memory energy of these GEMMs (DRAM energy is the evaluator's)."""
        return {"mac": macs * MAC_pJ,
                "buffer": self.buffer_bytes * sram_pJ_per_byte(chiplet.buffer_bytes),
                "accumulator": self.accumulator_bytes * sram_pJ_per_byte(chiplet.accumulator_bytes),
                "register": self.register_bytes * REGISTER_pJ_PER_BYTE}


def reduction_chunk(bm: np.ndarray, bn: np.ndarray, chiplet: ChipletType) -> np.ndarray:
    """Reduction steps per chunk when a bm x bn block of partial sums sits in the buffer: the rest of the buffer
    double-buffers the chunk's bm rows of inputs and bn columns of weights."""
    free = np.maximum(chiplet.buffer_bytes - chiplet.partial_sum_bytes * bm * bn, 0)
    return np.floor(free / (2 * (bm + bn)))


def blocking(m: np.ndarray, k: np.ndarray, n: np.ndarray, chiplet: ChipletType) -> tuple[np.ndarray, ...]:
    """DRAM bytes, block counts (nM, nN) and loop nest of the cheapest of the three nests."""
    rows, cols = chiplet.array_shape
    p = chiplet.partial_sum_bytes
    tile = STREAM_RESERVE_TILES * rows * cols  # room to double-buffer one streamed operand's array tiles
    w_stream = tile if chiplet.weights_via_buffer else 0.0
    if DATAFLOW_UNROLLING[chiplet.dataflow][2] == K:
        # the reduction is temporal (os): an output tile takes the whole reduction in the PE registers, so the
        # streamed operand's strip (K x one array tile of it) serves every tile of the resident block before the
        # next strip: the resident nests keep two strips (double-buffered), not two tiles
        in_stream, w_res_stream = STREAM_RESERVE_TILES * k * cols, STREAM_RESERVE_TILES * k * rows
    else:
        in_stream, w_res_stream = np.full_like(k, w_stream), np.full_like(k, tile)

    def room(reserve):
        return chiplet.buffer_bytes - np.minimum(reserve, chiplet.buffer_bytes / 2)

    psum_room = chiplet.accumulator_bytes if chiplet.accumulator_bytes > 0 else room(tile + w_stream)
    mk, kn, mn = m * k, k * n, m * n
    # output blocks held while the reduction streams: for each row-block count, the fewest column blocks
    n_m = np.minimum(BLOCK_COUNTS[None, :], m[:, None])
    bm = np.ceil(m[:, None] / n_m)
    bn = np.floor(psum_room / (p * bm))
    if chiplet.accumulator_bytes == 0:
        # partial sums of blocks larger than the array swap with the buffer once per reduction chunk: only blocks
        # whose chunks (reduction_chunk) last at least the swap, or the whole reduction, keep the array busy; the
        # widest such block solves B - p bm bn >= 2 (bm + bn) c for bn (c: that chunk length)
        swap = 2 * rows * cols * p / chiplet.output_port_Bpc
        c = np.minimum(k[:, None], swap)
        bn_chunk = np.floor((chiplet.buffer_bytes - 2 * c * bm) / (p * bm + 2 * c))
        bn = np.minimum(bn, np.maximum(bn_chunk, np.where(bm <= rows, cols, 0)))
    n_n = np.where(bn >= 1, np.ceil(n[:, None] / np.maximum(bn, 1)), np.inf)
    traffic = mk[:, None] * n_n + kn[:, None] * n_m
    best = np.argmin(traffic, axis=1)
    pick = np.arange(len(m))
    out_blocks = (traffic[pick, best], n_m[pick, best], n_n[pick, best])
    # input rows resident: as many rows as fit (and, for an accumulator, as many rows x one array column of sums)
    rows_fit = np.floor(room(in_stream) / k)
    if chiplet.accumulator_bytes > 0:
        rows_fit = np.minimum(rows_fit, np.floor(chiplet.accumulator_bytes / (p * cols)))
    n_m_in = np.where(rows_fit >= 1, np.ceil(m / np.maximum(rows_fit, 1)), np.inf)
    in_resident = mk + kn * n_m_in
    # weight columns resident
    cols_fit = np.floor(room(w_res_stream) / k) if chiplet.weights_via_buffer else np.zeros_like(k)
    n_n_w = np.where(cols_fit >= 1, np.ceil(n / np.maximum(cols_fit, 1)), np.inf)
    w_resident = mk * n_n_w + kn
    # ties go to the resident nests (no partial sums leave the array)
    options = np.stack([in_resident, w_resident, out_blocks[0]])
    choice = np.argmin(options, axis=0)
    n_m_best = np.choose(choice, [n_m_in, np.ones_like(m), out_blocks[1]])
    n_n_best = np.choose(choice, [np.ones_like(m), n_n_w, out_blocks[2]])
    return options[choice, pick] + mn, n_m_best, n_n_best, choice


def gemm_cost(mkn: np.ndarray, chiplet: ChipletType) -> GemmCost:
    """The loop-nest cost of GEMMs (rows of ``mkn`` = M, K, N) on one chiplet type."""
    rows, cols = chiplet.array_shape
    r, c, t, fill_kind = DATAFLOW_UNROLLING[chiplet.dataflow]
    dims = np.asarray(mkn, float).reshape(-1, 3)
    m, k, n = dims[:, M], dims[:, K], dims[:, N]
    p = chiplet.partial_sum_bytes
    tiles = {r: np.ceil(dims[:, r] / rows), c: np.ceil(dims[:, c] / cols)}
    passes = tiles[r] * tiles[c]
    fill = {"rows+cols": rows + cols, "rows": rows, "none": 0}[fill_kind]
    dram, n_m, n_n, schedule = blocking(m, k, n, chiplet)
    macs = m * k * n

    def reread(size: np.ndarray, operand: tuple[int, int]) -> np.ndarray:
        """Reads of an operand into the array: once per array tile of the spatial loop it lacks."""
        missing = [d for d in (r, c) if d not in operand]
        return size * (tiles[missing[0]] if missing else 1.0)

    input_reads = reread(m * k, (M, K))
    weight_reads = reread(k * n, (K, N))
    out_bytes = m * n
    accumulator = np.zeros_like(m)
    psum_spill = np.zeros_like(m)
    if chiplet.dataflow == "os":
        # outputs accumulate in the PE registers over the whole reduction, unless an output block larger than the
        # array holds its partial sums in the buffer between reduction chunks
        block_tiles = np.ceil(np.ceil(m / n_m) / rows) * np.ceil(np.ceil(n / n_n) / cols)
        chunk = reduction_chunk(np.ceil(m / n_m), np.ceil(n / n_n), chiplet)
        chunks = np.where((schedule == OUTPUT_BLOCKS) & (block_tiles > 1), np.ceil(k / np.maximum(chunk, 1)), 1.0)
        psum_spill = 2 * p * m * n * (chunks - 1)
        array_cycles = passes * k
        output_port = out_bytes + psum_spill
        registers = 2 * p * macs
    else:
        # the reduction is spatial: partial sums of every reduction tile go to the accumulator (or scratchpads)
        k_tiles = tiles[K]
        if chiplet.accumulator_bytes > 0:
            accumulator = 2 * p * m * n * k_tiles
        stationary = {"ws": k * n, "nvdla": k * n, "eyeriss": m * k}[chiplet.dataflow]
        if chiplet.dataflow == "nvdla":
            weight_reads = np.maximum(weight_reads, k * n * np.ceil(m / NVDLA_STRIPE_ROWS))
        if chiplet.dataflow == "eyeriss":
            array_cycles = passes * n
            registers = (2 + 2 * p) * macs
            output_port = p * m * n * k_tiles
        else:
            # a pass streams one row block through a weight tile; the next tile loads meanwhile
            load = rows * cols / chiplet.weight_port_Bpc
            bm = np.ceil(m / n_m)
            full, rest = np.floor(m / bm), m - np.floor(m / bm) * bm
            per_tile = full * np.maximum(bm, load) + np.where(rest > 0, np.maximum(rest, load), 0)
            array_cycles = tiles[K] * tiles[N] * per_tile
            weight_reads = np.maximum(weight_reads, stationary * n_m)
            registers = macs + weight_reads
            output_port = p * m * n * k_tiles
    port_cycles = np.maximum.reduce([input_reads / chiplet.input_port_Bpc, weight_reads / chiplet.weight_port_Bpc,
                                     output_port / chiplet.output_port_Bpc])
    cycles = np.maximum(array_cycles + fill, np.ceil(port_cycles))
    arrivals = dram - out_bytes - (0 if chiplet.weights_via_buffer else k * n * n_m)
    buffer = arrivals + input_reads + (weight_reads if chiplet.weights_via_buffer else 0) + psum_spill + 2 * out_bytes
    return GemmCost(cycles, dram, buffer, accumulator, registers, n_m, n_n)


@dataclass(frozen=True)
class JobCosts:
    """Cost of every job (iteration, micro-batch, layer) on one chiplet type."""

    compute_s: np.ndarray
    mac_pJ: np.ndarray
    vector_pJ: np.ndarray
    buffer_pJ: np.ndarray  # buffer, accumulator and PE registers
    spill_bytes: np.ndarray


GemmCostModel = Callable[[np.ndarray, ChipletType], GemmCost]


def job_costs(ops: JobOperators, chiplet: ChipletType, cost_model: GemmCostModel = gemm_cost) -> JobCosts:
    """Sum the operators of each job on ``chiplet`` (jobs run their operators one after another). ``cost_model``
    prices each distinct GEMM shape once: the analytic loop nest (default) or ZigZag (zigzag_backend)."""
    n_jobs = int(np.prod(ops.shape))
    shapes, inverse = np.unique(np.asarray(ops.gemm_mkn, np.int64).reshape(-1, 3), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    gemm = cost_model(shapes, chiplet)
    count = ops.gemm_count
    macs = ops.gemm_mkn.prod(axis=1) * count
    rows, cols = chiplet.array_shape
    vec_ops = ops.elt_elements * ops.elt_ops
    vec_cycles = np.ceil(vec_ops / cols)
    on_chip = gemm.energy_pJ(chiplet, np.zeros(len(shapes)))
    memory_pJ = on_chip["buffer"] + on_chip["accumulator"] + on_chip["register"]
    compulsory = shapes[:, M] * shapes[:, K] + shapes[:, K] * shapes[:, N] + shapes[:, M] * shapes[:, N]

    def per_job(index: np.ndarray, values: np.ndarray) -> np.ndarray:
        return np.bincount(index, weights=values, minlength=n_jobs).reshape(ops.shape)

    total_cycles = per_job(ops.gemm_job, gemm.cycles[inverse] * count) + per_job(ops.elt_job, vec_cycles)
    vector_memory_pJ = 2 * ops.elt_elements * sram_pJ_per_byte(chiplet.buffer_bytes)
    return JobCosts(
        compute_s=total_cycles / (chiplet.frequency_GHz * 1e9),
        mac_pJ=per_job(ops.gemm_job, macs) * MAC_pJ,
        vector_pJ=per_job(ops.elt_job, vec_ops) * VECTOR_OP_pJ,
        buffer_pJ=per_job(ops.gemm_job, memory_pJ[inverse] * count) + per_job(ops.elt_job, vector_memory_pJ),
        spill_bytes=per_job(ops.gemm_job, np.maximum(gemm.dram_bytes - compulsory, 0)[inverse] * count),
    )
