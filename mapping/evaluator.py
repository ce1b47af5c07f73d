"""The evaluation engine: latency and energy of mappings, vectorised over a population of genomes.

Per job (iteration i, micro-batch b, layer l) on its chiplet c:

* compute time and MAC/vector/buffer energy from the chiplet's dataflow (cost.py);
* data-access flags (Compass's memory model): a producer's output stays on chip only while its chiplet has
  run nothing else since, so a consumer reads it over the NoP (or locally) if the producer's chiplet runs its
  next job no earlier than the consumer in program order, and from DRAM otherwise; a producer writes its
  output to DRAM when any consumer needs it from DRAM (and always for the output of the mapped blocks);
  weights are re-read from DRAM unless the chiplet's previous job was the same layer (consecutive micro-batches
  reuse them); the KV cache is always read from and written to DRAM; buffer spills go to DRAM;
* NoP: unicast XY routes; a job's NoP time is the largest load on one link divided by the link bandwidth (the
  loads of one job's transfers: everything it receives from producers and DRAM, everything it writes to DRAM);
  under XY routing that maximum sits on one of the destination's four inbound links (or the writer's four
  outbound links), which makes it exact and cheap. NoP energy = bytes x hops x energy per bit per hop;
* DRAM: traffic striped over all channels; time = bytes / total DRAM bandwidth; energy = bytes x pJ/bit;
* job latency = max(compute, NoP, DRAM) (communication overlaps compute, as in Compass);
* list scheduling in program order: start = max(chiplet free, producers finished); an iteration's latency is
  the last finish, but never less than its total DRAM traffic over the total DRAM bandwidth, nor than the bytes
  of its busiest mesh link over the link bandwidth (bounds Compass lacks: concurrent jobs share the DRAM
  channels and the links; a job's own NoP time above sees only its own transfers). Link loads come from every
  transfer's XY route and from the DRAM traffic striped over the DRAM routers.

A scenario's latency and energy are sums over its iterations; EDP = latency x energy. This module imports
neither pymoo nor optuna.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ailfm.mapping.cost import GemmCostModel, gemm_cost, job_costs
from ailfm.mapping.encoding import Encoding, Mapping
from ailfm.mapping.hardware import Hardware
from ailfm.mapping.workload import STAGES, ServingWorkload, build_jobs, layer_graph

ENERGY_PARTS = ("mac", "vector", "buffer", "nop", "dram")


@dataclass(frozen=True)
class Evaluation:
    """Scores of a population: per genome latency (s), energy (J) and EDP (J s); per-iteration values too."""

    latency_s: np.ndarray
    energy_J: np.ndarray
    iteration_latency_s: np.ndarray  # (P, I)
    iteration_energy_J: np.ndarray   # (P, I)

    @property
    def edp(self) -> np.ndarray:
        return self.latency_s * self.energy_J


@dataclass(frozen=True)
class Details:
    """Breakdowns of one mapping: energy by part, by chiplet, by layer (J); busy time per chiplet and the schedule."""

    evaluation: Evaluation
    energy_by_part_J: dict[str, float]
    energy_by_chiplet_J: np.ndarray
    energy_by_layer_J: np.ndarray
    busy_by_chiplet_s: np.ndarray
    start_s: np.ndarray    # (I, B, L)
    finish_s: np.ndarray   # (I, B, L)
    chiplet: np.ndarray    # (B, L)
    time_by_bound_s: dict[str, float]  # summed job latency attributed to its bound: compute / nop / dram
    link_bytes: np.ndarray  # (I, links of Hardware.links) bytes each mesh link carries per iteration


@dataclass(frozen=True)
class JobTable:
    """What the list schedule and a power model need of every job, for rows = (iteration, genome) stacked
    iteration-major (row = iteration x genomes + genome); jobs are (micro-batch, layer) flattened."""

    n_genomes: int
    order: np.ndarray         # (R, J) program order
    chip: np.ndarray          # (R, J) chiplet of each job; n_chiplets (a virtual chiplet) for empty jobs
    predecessors: np.ndarray  # (J, K) producers of each job, padded with J (a sentinel that finished at 0)
    compute_s: np.ndarray     # (R, J)
    nop_s: np.ndarray         # (R, J) the job's own NoP time
    dram_s: np.ndarray        # (R, J) the job's own DRAM time
    energy_pJ: dict[str, np.ndarray]  # ENERGY_PARTS -> (R, J)
    floor_s: np.ndarray       # (R,) iteration latency floor: DRAM traffic / DRAM bandwidth, busiest link / link bw
    link_bytes: np.ndarray    # (R, links)

    @property
    def latency_s(self) -> np.ndarray:
        """(R, J) job latency: compute and communication overlap."""
        return np.maximum(self.compute_s, np.maximum(self.nop_s, self.dram_s))

    @property
    def n_iterations(self) -> int:
        return self.order.shape[0] // self.n_genomes


@njit(cache=True)
def list_schedule(order: np.ndarray, chip: np.ndarray, pred: np.ndarray, latency: np.ndarray,
                  n_chiplets: int) -> np.ndarray:
    """Finish time of every job (rows, jobs + 1; the last column is the producer sentinel, always 0): jobs start
    in program order ``order`` at max(their chiplet free, their producers finished). Compiled: the loop over
    jobs is sequential, the rows (iteration x genome) are independent."""
    rows, n_jobs = order.shape
    finish = np.zeros((rows, n_jobs + 1))
    free = np.zeros(n_chiplets + 1)
    for r in range(rows):
        free[:] = 0.0
        for k in range(n_jobs):
            j = order[r, k]
            c = chip[r, j]
            ready = 0.0
            for p in pred[j]:
                ready = max(ready, finish[r, p])
            end = max(free[c], ready) + latency[r, j]
            finish[r, j] = end
            free[c] = end
    return finish


@njit(cache=True)
def link_loads(src: np.ndarray, dst: np.ndarray, forwarded: np.ndarray, route: np.ndarray, route_hops: np.ndarray,
               reads: np.ndarray, writes: np.ndarray, dram_in: np.ndarray, dram_out: np.ndarray) -> np.ndarray:
    """(rows, links) bytes per link: every transfer (src, dst, bytes) added to the links of its route, each
    chiplet's DRAM reads / writes spread over the links by their DRAM shares. Compiled loops (no BLAS threads:
    a shared machine)."""
    rows, n_edges = src.shape
    n_links = dram_in.shape[1]
    out = np.zeros((rows, n_links))
    for r in range(rows):
        for e in range(n_edges):
            amount = forwarded[r, e]
            if amount > 0.0:
                a, b = src[r, e], dst[r, e]
                for h in range(route_hops[a, b]):
                    out[r, route[a, b, h]] += amount
        for c in range(reads.shape[1]):
            if reads[r, c] > 0.0 or writes[r, c] > 0.0:
                for k in range(n_links):
                    out[r, k] += reads[r, c] * dram_in[c, k] + writes[r, c] * dram_out[c, k]
    return out


class Evaluator:
    """Scores genomes of ``Encoding(B, L, N)`` for one workload on one hardware; ``cost_model`` prices the GEMMs on
    each chiplet type (the analytic loop nest, or ZigZag through zigzag_backend.ZigZagCostModel)."""

    def __init__(self, workload: ServingWorkload, hardware: Hardware, bytes_per_element: int = 1,
                 cost_model: GemmCostModel = gemm_cost):
        self.workload = workload
        self.hardware = hardware
        ops = build_jobs(workload, bytes_per_element)
        graph = layer_graph(workload)
        n_it, n_mb, n_l = ops.shape
        n_ch = hardware.n_chiplets
        self.encoding = Encoding(n_mb, n_l, n_ch)
        self.layer_names = graph.names
        self.stage_of_layer = np.asarray([STAGES[s] for s in graph.stage])
        n_jobs = n_mb * n_l
        self._n_jobs = n_jobs
        costs = [job_costs(ops, t, cost_model) for t in hardware.types]

        def by_type(name: str) -> np.ndarray:  # (I, T, J)
            return np.stack([getattr(c, name).reshape(n_it, n_jobs) for c in costs], axis=1)

        self._compute_s = by_type("compute_s")
        self._mac_pJ = by_type("mac_pJ")
        self._vector_pJ = by_type("vector_pJ")
        self._buffer_pJ = by_type("buffer_pJ")
        self._spill = by_type("spill_bytes")
        flat = {name: getattr(ops, name).reshape(n_it, n_jobs) for name in
                ("weight_bytes", "kv_read_bytes", "kv_write_bytes", "input_read_bytes", "output_bytes")}
        self._weight, self._kv_read = flat["weight_bytes"], flat["kv_read_bytes"]
        self._kv_write, self._input = flat["kv_write_bytes"], flat["input_read_bytes"]
        self._out = flat["output_bytes"]
        self._empty = ops.tokens.reshape(n_it, n_jobs) == 0
        self._layer_of_job = np.tile(np.arange(n_l), n_mb)
        # producers of each job (same micro-batch), padded with the sentinel job index n_jobs
        k_max = max(1, max(len(p) for p in graph.predecessors))
        pred = np.full((n_jobs, k_max), n_jobs, np.int64)
        for b in range(n_mb):
            for l, producers in enumerate(graph.predecessors):
                pred[b * n_l + l, :len(producers)] = [b * n_l + p for p in producers]
        self._pred = pred
        valid = pred < n_jobs
        self._edge_src = pred[valid]                                   # flat producer -> consumer edges
        self._edge_dst = np.broadcast_to(np.arange(n_jobs)[:, None], pred.shape)[valid]
        self._edge_bytes = self._out[:, self._edge_src]                # (I, E)
        self._final = np.tile(graph.last_block_output, n_mb)
        # hardware tables, padded with a virtual chiplet n_ch that holds empty jobs
        hops = np.zeros((n_ch + 1, n_ch + 1))
        hops[:n_ch, :n_ch] = hardware.hops
        self._hops = hops
        src, dst = np.meshgrid(np.arange(n_ch), np.arange(n_ch), indexing="ij")
        direction = np.full((n_ch + 1, n_ch + 1), 4, np.int64)  # inbound link W, E, N, S of dst; 4 = none
        onehot = hardware.direction_onehot(src, dst)
        direction[:n_ch, :n_ch] = np.where(onehot.any(axis=2), onehot.argmax(axis=2), 4)
        self._direction = direction
        d_in, d_out, d_hops = hardware.dram_direction_shares
        self._dram_in = np.vstack([d_in, np.zeros(4)])
        self._dram_out = np.vstack([d_out, np.zeros(4)])
        self._dram_hops = np.append(d_hops, 0.0)
        n_links = len(hardware.links)
        max_hops = max(1, int(hardware.hops.max()))
        self._route = np.zeros((n_ch + 1, n_ch + 1, max_hops), np.int64)   # links of the XY route, padded
        self._route_hops = np.zeros((n_ch + 1, n_ch + 1), np.int64)
        route_links = hardware.route_links()
        for a in range(n_ch):
            for b in range(n_ch):
                on_route = np.flatnonzero(route_links[a, b])
                self._route[a, b, :len(on_route)] = on_route
                self._route_hops[a, b] = len(on_route)
        dram_in_links, dram_out_links = hardware.dram_link_shares
        self._dram_in_links = np.vstack([dram_in_links, np.zeros(n_links)])
        self._dram_out_links = np.vstack([dram_out_links, np.zeros(n_links)])
        self._type_of_chip = np.append(np.asarray(hardware.chiplet_type), 0)
        self._link_Bps = hardware.nop_link_GBps * 1e9
        self._dram_Bps = hardware.dram_GBps * 1e9
        self._nop_pJ_per_byte_hop = 8 * hardware.nop_pJ_per_bit_hop
        self._dram_pJ_per_byte = 8 * hardware.dram_pJ_per_bit

    # ------------------------------------------------------------------------------------------ public
    def evaluate(self, genomes: np.ndarray) -> Evaluation:
        """Scores of (P, n_genes) integer genomes."""
        return self._run(np.atleast_2d(np.asarray(genomes, np.int64)), details=False)

    def evaluate_mapping(self, mapping: Mapping) -> Evaluation:
        return self.evaluate(self.encoding.encode(mapping)[None, :])

    def details(self, mapping: Mapping) -> Details:
        """Breakdowns and the schedule of one mapping."""
        return self._run(self.encoding.encode(mapping)[None, :], details=True)

    @property
    def compute_time_s(self) -> np.ndarray:
        """(iterations, chiplet types, jobs) compute time of every job on every chiplet type (a copy)."""
        return self._compute_s.copy()

    @property
    def compute_energy_pJ(self) -> np.ndarray:
        """(iterations, chiplet types, jobs) MAC + vector + buffer energy of every job on every chiplet type."""
        return self._mac_pJ + self._vector_pJ + self._buffer_pJ

    def compute_lower_bound_s(self) -> float:
        """No mapping is faster: per iteration, the longest job on its fastest chiplet type and the total work
        on the fastest types spread over all chiplets."""
        fastest = self._compute_s[:, np.unique(self._type_of_chip[:-1]), :].min(axis=1)  # (I, J)
        per_it = np.maximum(fastest.max(axis=1), fastest.sum(axis=1) / self.hardware.n_chiplets)
        return float(per_it.sum())

    # ------------------------------------------------------------------------------------------ core
    def _link_bytes(self, chip_r, src, dst, forwarded, dram_read, dram_write) -> np.ndarray:
        """(rows, links) bytes every mesh link carries in an iteration: producer -> consumer transfers on their
        XY routes, DRAM reads and writes striped over the DRAM routers and XY-routed."""
        rows = chip_r.shape[0]
        n_c = self.hardware.n_chiplets + 1
        by_chip = (np.arange(rows)[:, None] * n_c + chip_r).ravel()
        reads = np.bincount(by_chip, dram_read.ravel(), minlength=rows * n_c).reshape(rows, n_c)
        writes = np.bincount(by_chip, dram_write.ravel(), minlength=rows * n_c).reshape(rows, n_c)
        return link_loads(src, dst, forwarded, self._route, self._route_hops, reads, writes, self._dram_in_links,
                          self._dram_out_links)

    def jobs(self, genomes: np.ndarray) -> JobTable:
        """Every job's costs under the data-access flags of (P, n_genes) genomes, before scheduling."""
        enc = self.encoding
        genomes = np.atleast_2d(np.asarray(genomes, np.int64))
        n_pop = genomes.shape[0]
        n_it = self._compute_s.shape[0]
        n_jobs, n_ch = self._n_jobs, self.hardware.n_chiplets
        bits, chips = enc.split(genomes)
        if (chips < 0).any() or (chips >= n_ch).any() or not np.isin(bits, (0, 1)).all():
            raise ValueError("genome outside the encoding's bounds")
        seg = np.concatenate([np.zeros((n_pop, 1), np.int64), np.cumsum(bits, axis=1)], axis=1)
        key = seg[:, self._layer_of_job] * n_jobs + np.arange(n_jobs)
        order = np.argsort(key, axis=1, kind="stable")
        pos = np.empty_like(order)
        np.put_along_axis(pos, order, np.arange(n_jobs)[None, :].repeat(n_pop, 0), axis=1)
        chip = chips.reshape(n_pop, n_jobs)

        # stack iterations along the population axis: rows = (iteration, genome)
        rows = n_it * n_pop
        empty = np.repeat(self._empty, n_pop, axis=0)                      # (R, J)
        chip_r = np.where(empty, n_ch, np.tile(chip, (n_it, 1)))            # virtual chiplet for empty jobs
        pos_r = np.tile(pos, (n_it, 1))
        order_r = np.tile(order, (n_it, 1))
        it_of_row = np.repeat(np.arange(n_it), n_pop)
        r_idx = np.arange(rows)[:, None]

        # next / previous job on the same chiplet in program order
        by_chip = np.argsort(chip_r * n_jobs + pos_r, axis=1, kind="stable")
        c_sorted = np.take_along_axis(chip_r, by_chip, axis=1)
        p_sorted = np.take_along_axis(pos_r, by_chip, axis=1)
        same = c_sorted[:, 1:] == c_sorted[:, :-1]
        next_pos = np.full((rows, n_jobs + 1), n_jobs + 1, np.int64)
        next_pos[r_idx, by_chip[:, :-1]] = np.where(same, p_sorted[:, 1:], n_jobs + 1)
        prev_job = np.full((rows, n_jobs), -1, np.int64)
        prev_job[r_idx, by_chip[:, 1:]] = np.where(same, by_chip[:, :-1], -1)
        load_weights = (prev_job < 0) | (self._layer_of_job[np.maximum(prev_job, 0)] != self._layer_of_job[None, :])

        # producer -> consumer edges (flat); per-job sums by bincount over (row, job[, link])
        e_src, e_dst = self._edge_src, self._edge_dst
        on_chip = next_pos[:, e_src] >= pos_r[:, e_dst]                     # (R, E)
        src = chip_r[:, e_src]
        dst = chip_r[:, e_dst]
        edge_bytes = self._edge_bytes[it_of_row]                            # (R, E)
        forwarded = np.where(on_chip & (src != dst), edge_bytes, 0.0)
        row_base = (np.arange(rows) * n_jobs)[:, None]
        from_dram = np.bincount((row_base + e_dst).ravel(), np.where(on_chip, 0.0, edge_bytes).ravel(),
                                minlength=rows * n_jobs).reshape(rows, n_jobs)
        evicted = np.bincount((row_base + e_src).ravel(), (~on_chip & (edge_bytes > 0)).ravel(),
                              minlength=rows * n_jobs).reshape(rows, n_jobs)
        write_out = ((evicted > 0) | self._final[None, :]) & ~empty

        # traffic and energy per job
        ctype = self._type_of_chip[chip_r]
        def table(t: np.ndarray) -> np.ndarray:
            return t[it_of_row[:, None], ctype, np.arange(n_jobs)[None, :]]
        compute_s = table(self._compute_s)
        dram_read = (self._weight[it_of_row] * load_weights + self._kv_read[it_of_row] + self._input[it_of_row]
                     + from_dram + table(self._spill))
        dram_write = self._kv_write[it_of_row] + self._out[it_of_row] * write_out
        dram_bytes = dram_read + dram_write
        link = ((row_base + e_dst) * 5 + self._direction[src, dst]).ravel()
        inbound = np.bincount(link, forwarded.ravel(), minlength=rows * n_jobs * 5).reshape(rows, n_jobs, 5)[..., :4]
        inbound = inbound + dram_read[..., None] * self._dram_in[chip_r]
        outbound = dram_write[..., None] * self._dram_out[chip_r]
        nop_s = np.maximum(inbound.max(axis=2), outbound.max(axis=2)) / self._link_Bps
        dram_s = dram_bytes / self._dram_Bps
        hop_bytes = np.bincount((row_base + e_dst).ravel(), (forwarded * self._hops[src, dst]).ravel(),
                                minlength=rows * n_jobs).reshape(rows, n_jobs) + dram_bytes * self._dram_hops[chip_r]
        parts = {
            "mac": table(self._mac_pJ), "vector": table(self._vector_pJ), "buffer": table(self._buffer_pJ),
            "nop": hop_bytes * self._nop_pJ_per_byte_hop, "dram": dram_bytes * self._dram_pJ_per_byte,
        }
        link_bytes = self._link_bytes(chip_r, src, dst, forwarded, dram_read, dram_write)
        link_s = link_bytes.max(axis=1, initial=0.0) / self._link_Bps  # a 1 x 1 mesh has no links
        floor_s = np.maximum(dram_bytes.sum(axis=1) / self._dram_Bps, link_s)
        return JobTable(n_pop, order_r, chip_r, self._pred, compute_s, nop_s, dram_s, parts, floor_s, link_bytes)

    def schedule(self, jobs: JobTable) -> Evaluation:
        """Latency and energy of the jobs' list schedule."""
        return self._schedule(jobs)[0]

    def _schedule(self, jobs: JobTable) -> tuple[Evaluation, np.ndarray]:
        n_pop, n_it = jobs.n_genomes, jobs.n_iterations
        finish = list_schedule(jobs.order, jobs.chip, jobs.predecessors, jobs.latency_s, self.hardware.n_chiplets)
        it_latency = np.maximum(finish.max(axis=1), jobs.floor_s).reshape(n_it, n_pop).T
        it_energy = (sum(jobs.energy_pJ.values()).sum(axis=1) * 1e-12).reshape(n_it, n_pop).T
        return Evaluation(it_latency.sum(axis=1), it_energy.sum(axis=1), it_latency, it_energy), finish

    def _run(self, genomes: np.ndarray, details: bool):
        jobs = self.jobs(genomes)
        evaluation, finish = self._schedule(jobs)
        if not details:
            return evaluation
        n_it = jobs.n_iterations
        n_jobs, n_ch = self._n_jobs, self.hardware.n_chiplets
        latency = jobs.latency_s
        energy_pJ = sum(jobs.energy_pJ.values())
        n_mb, n_l = self.encoding.n_micro_batches, self.encoding.n_layers
        chip_r, rows = jobs.chip, jobs.chip.shape[0]
        real = chip_r.ravel() < n_ch
        e_flat = energy_pJ.ravel()[real] * 1e-12
        bound = np.argmax(np.stack([jobs.compute_s, jobs.nop_s, jobs.dram_s]), axis=0)
        return Details(
            evaluation=evaluation,
            energy_by_part_J={name: float(v.sum() * 1e-12) for name, v in jobs.energy_pJ.items()},
            energy_by_chiplet_J=np.bincount(chip_r.ravel()[real], e_flat, minlength=n_ch)[:n_ch],
            energy_by_layer_J=np.bincount(np.tile(self._layer_of_job, rows)[real], e_flat, minlength=n_l),
            busy_by_chiplet_s=np.bincount(chip_r.ravel()[real], latency.ravel()[real], minlength=n_ch)[:n_ch],
            start_s=(finish[:, :n_jobs] - latency).reshape(n_it, n_mb, n_l),
            finish_s=finish[:, :n_jobs].reshape(n_it, n_mb, n_l),
            chiplet=self.encoding.split(np.atleast_2d(genomes))[1].reshape(n_mb, n_l),
            time_by_bound_s={name: float(latency[bound == k].sum()) for k, name in
                             enumerate(("compute", "nop", "dram"))},
            link_bytes=jobs.link_bytes,
        )
