"""ZigZag (zigzag-dse; L. Mei et al., "ZigZag: enlarging joint architecture-mapping design space exploration for DNN
accelerators", IEEE Trans. Computers 2021) as an optional per-chiplet cost backend, with an on-disk cache.

A chiplet type is described to ZigZag as the public design its dataflow stands for (hardware.DESIGN_DEFAULTS), not
as a translation of our loop nest: ZigZag's temporal mapper (LOMA) chooses the loop order and blocking itself.

* ``os``, Tesla-FSD-NPU-like: a 32-bit partial-sum register per PE (``register_bytes``), one SRAM for inputs,
  weights and outputs with a read port per operand (inputs ``input_port_Bpc``, weights ``weight_port_Bpc``,
  outputs / partial sums ``output_port_Bpc``), filled from DRAM through one write port of the DRAM bandwidth
  shared by all operands (the chiplet has one DRAM interface; with a fill port per operand ZigZag loads inputs
  and weights in parallel at start-up, each at the full DRAM bandwidth, and reported latencies below the time its
  own DRAM bytes need), DRAM behind it; between the SRAM and the array a staging memory per input operand
  holding two array tiles (the NPU's data and weight buffers that feed the array; ZigZag's own Tesla-NPU-like
  example, zigzag/inputs/hardware/tesla_npu_like.yaml, has a 1 KB SRAM per operand there);
* ``ws``, TPU-v1-like: a weight register per PE fed by a weight FIFO four array tiles deep straight from DRAM, an
  accumulator memory for the 32-bit partial sums (``accumulator_KiB``; ZigZag writes the outputs from there to
  DRAM, TPU v1 passes them through the unified buffer first), a buffer for the inputs and, between it and the
  array, the systolic data setup (Jouppi et al. 2017, Fig. 1) as a staging memory of two array tiles. The FIFO and
  the buffer are separate memories, each with its own write port from the one DRAM port; ZigZag (3.9.1,
  ``CostModelEvaluation.calc_onloading_combined``) overlaps the start-up loads of such a half-shared link, so on
  ``ws`` the first tiles of inputs and weights load as if DRAM had twice its bandwidth (steady-state transfers
  are combined on the DRAM port and are not affected). No ZigZag description of two memories avoids it.

Why the staging memories matter: ZigZag (3.9.1, ``CostModelEvaluation.calc_loading_single_port_period_count_1``)
lets the start-up load of an operand overlap computation only down to the content of that operand's lowest memory
level, which must arrive before the array starts. With the 2 MiB buffer as the lowest level of the inputs, a GEMM
whose operands fit on chip was charged its whole load before any computation (PV 1024 x 1024 x 128 on ``os``:
262 k cycles, 131 k of them loading); with a staging tile below the buffer ZigZag streams it (164 k), as the
double-buffered designs do.

Array shape, capacities, port widths, clock and DRAM bandwidth are the chiplet's, so both models share every
per-level constant. Energy is ZigZag's MAC energy plus the bytes ZigZag moves at each level priced at our per-byte
energies (cost.py), so energy differences are differences of access counts. Other dataflows raise ConfigError.

:class:`ZigZagCostModel` is a ``cost.GemmCostModel``: ``ailfm map search --cost zigzag`` prices every distinct
(GEMM shape, chiplet type) with ZigZag once, caches the result on disk keyed by the shape and a hash of the
description (with the zigzag-dse version and search settings), warms unseen shapes in a process pool with a
progress bar and writes the cache atomically. Install with ``pip install 'ailfm[zigzag]'``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import random
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import yaml

from ailfm.errors import ConfigError, FormatError, ToolError
from ailfm.files import read_json, write_atomic
from ailfm.mapping.cost import GemmCost, MAC_pJ, REGISTER_pJ_PER_BYTE, sram_pJ_per_byte
from ailfm.mapping.hardware import ChipletType
from ailfm.pools import process_pool

SUPPORTED = ("os", "ws")
WEIGHT_FIFO_TILES = 4  # TPU v1's weight FIFO is four tiles deep (Jouppi et al. 2017)
LEVELS = ("register", "accumulator", "buffer", "dram")
STAGING_TILES = 2  # array tiles per operand in the staging memories between the buffer and the array
# ZigZag levels reported as another level: the small memories next to the array count with the PE registers
REPORTED_AS = {"weight_fifo": "register", "input_staging": "register", "weight_staging": "register"}
SALSA_SKIP = 1.02  # SALSA runs only when LOMA is more than 2 % above the latency or the DRAM-traffic floor


def _port(name: str, kind: str, bits: float, allocation: list[str]) -> dict:
    bits = max(int(bits), 1)
    return {"name": name, "type": kind, "bandwidth_min": bits, "bandwidth_max": bits, "allocation": allocation}


def _memory(size_bits: float, pJ_per_byte: float, width_bits: float, operands: list[str], ports: list[dict],
            served: list[str]) -> dict:
    cost = float(pJ_per_byte * width_bits / 8)
    return {"size": int(size_bits), "r_cost": cost, "w_cost": cost, "area": 0, "latency": 1, "operands": operands,
            "ports": ports, "served_dimensions": served}


def _staging(operand: str, rows: int, cols: int, bits: float) -> dict:
    """A double-buffered array tile of one operand between the buffer and the array (STAGING_TILES)."""
    return _memory(8 * STAGING_TILES * rows * cols, sram_pJ_per_byte(0), bits, [operand],
                   [_port("r_port_1", "read", bits, [f"{operand}, tl"]),
                    _port("w_port_1", "write", bits, [f"{operand}, fh"])], ["D1", "D2"])


def accelerator_description(chiplet: ChipletType, dram_bytes_per_cycle: float, dram_pJ_per_byte: float) -> dict:
    """ZigZag accelerator (a YAML-ready dict; lowest memory level first) of the public design behind ``chiplet``."""
    if chiplet.dataflow not in SUPPORTED:
        raise ConfigError(f"chiplet_types.{chiplet.name}.dataflow",
                          f"the ZigZag backend describes {', '.join(SUPPORTED)}, got {chiplet.dataflow!r}")
    rows, cols = chiplet.array_shape
    psum_bits = 8 * chiplet.partial_sum_bytes
    e_buffer = sram_pJ_per_byte(chiplet.buffer_bytes)
    in_bits, w_bits, out_bits = (8 * chiplet.input_port_Bpc, 8 * chiplet.weight_port_Bpc,
                                 8 * chiplet.output_port_Bpc)
    dram_bits = 8 * dram_bytes_per_cycle
    if chiplet.dataflow == "os":
        memories = {
            "register": _memory(8 * chiplet.register_bytes, REGISTER_pJ_PER_BYTE, psum_bits, ["O"],
                                [_port("r_port_1", "read", psum_bits, ["O, tl"]),
                                 _port("r_port_2", "read", psum_bits, ["O, th"]),
                                 _port("w_port_1", "write", psum_bits, ["O, fh"]),
                                 _port("w_port_2", "write", psum_bits, ["O, fl"])], []),
            "input_staging": _staging("I1", rows, cols, in_bits),
            "weight_staging": _staging("I2", rows, cols, w_bits),
            "buffer": _memory(8 * chiplet.buffer_bytes, e_buffer, in_bits, ["I1", "I2", "O"],
                              [_port("r_port_1", "read", in_bits, ["I1, tl"]),
                               _port("r_port_2", "read", w_bits, ["I2, tl"]),
                               _port("r_port_3", "read", out_bits, ["O, th", "O, tl"]),
                               # one write port from DRAM for every operand: the chiplet has one DRAM interface
                               _port("w_port_1", "write", dram_bits, ["I1, fh", "I2, fh", "O, fh"]),
                               _port("w_port_2", "write", out_bits, ["O, fl"])], ["D1", "D2"]),
        }
    else:
        memories = {
            "register": _memory(8 * chiplet.register_bytes, REGISTER_pJ_PER_BYTE, 8, ["I2"],
                                [_port("r_port_1", "read", 8, ["I2, tl"]),
                                 _port("w_port_1", "write", 8, ["I2, fh"])], []),
            "weight_fifo": _memory(8 * WEIGHT_FIFO_TILES * rows * cols, sram_pJ_per_byte(0), w_bits, ["I2"],
                                   [_port("r_port_1", "read", w_bits, ["I2, tl"]),
                                    _port("w_port_1", "write", dram_bits, ["I2, fh"])], ["D1", "D2"]),
            "input_staging": _staging("I1", rows, cols, in_bits),
            "accumulator": _memory(8 * chiplet.accumulator_bytes, sram_pJ_per_byte(chiplet.accumulator_bytes),
                                   out_bits, ["O"],
                                   [_port("r_port_1", "read", out_bits, ["O, tl", "O, th"]),
                                    _port("w_port_1", "write", out_bits, ["O, fh", "O, fl"])], ["D1", "D2"]),
            "buffer": _memory(8 * chiplet.buffer_bytes, e_buffer, in_bits, ["I1"],
                              [_port("r_port_1", "read", in_bits, ["I1, tl"]),
                               _port("w_port_1", "write", dram_bits, ["I1, fh"])], ["D1", "D2"]),
        }
    memories["dram"] = _memory(2 ** 44, dram_pJ_per_byte, dram_bits, ["I1", "I2", "O"],
                               [_port("rw_port_1", "read_write", dram_bits,
                                      ["I1, tl", "I2, tl", "O, fl", "O, tl", "I1, fh", "I2, fh", "O, fh", "O, th"])],
                               ["D1", "D2"])
    return {"name": f"ailfm_{chiplet.dataflow}_{chiplet.name}", "memories": memories,
            "operational_array": {"input_precision": [8, 8], "unit_energy": float(MAC_pJ), "unit_area": 1,
                                  "dimensions": ["D1", "D2"], "sizes": [rows, cols]}}


def mapping_description(chiplet: ChipletType) -> list[dict]:
    """ZigZag mapping: the dataflow's spatial unrolling (os: M x N, ws: K x N); temporal order left to LOMA."""
    rows, cols = chiplet.array_shape
    on_rows = {"os": "D0", "ws": "D1"}[chiplet.dataflow]
    entry = {"spatial_mapping": {"D1": [f"{on_rows}, {rows}"], "D2": [f"D2, {cols}"]},
             "memory_operand_links": {"O": "O", "W": "I2", "I": "I1"}}
    return [{"name": name, **entry} for name in ("default", "Gemm")]  # ZigZag requires a default entry


def gemm_workload(m: int, k: int, n: int, partial_sum_bytes: int = 4) -> list[dict]:
    """One GEMM O[M][N] += I[M][K] W[K][N]: 8-bit operands and result, partial sums of ``partial_sum_bytes``."""
    return [{"id": 0, "name": "gemm", "operator_type": "Gemm", "equation": "O[d0][d2]+=I[d0][d1]*W[d1][d2]",
             "loop_dims": ["D0", "D1", "D2"], "loop_sizes": [int(m), int(k), int(n)],
             "operand_precision": {"I": 8, "W": 8, "O": 8 * partial_sum_bytes, "O_final": 8},
             "operand_source": {"I": 0, "W": 0}}]


def zigzag_version() -> str:
    try:
        return metadata.version("zigzag-dse")
    except metadata.PackageNotFoundError as exc:
        raise ToolError("the ZigZag backend needs zigzag-dse: pip install 'ailfm[zigzag]'") from exc


def run_zigzag(m: int, k: int, n: int, accelerator: dict, mapping: list[dict], partial_sum_bytes: int = 4,
               lpf_limit: int = 6) -> dict:
    """ZigZag's best mapping of one GEMM, the lower energy-delay product of its two temporal mappers: LOMA
    (exhaustive over loop orders of at most ``lpf_limit`` merged factors, EDP-optimal, as Compass calls ZigZag)
    and, unless LOMA already sits at the latency and DRAM floors, SALSA (simulated annealing over all prime
    factors; the API's energy criterion). Returns cycles and bytes moved at each memory level (plain floats)."""
    loma = _run_engine(m, k, n, accelerator, mapping, partial_sum_bytes, lpf_limit, "loma")
    dram_bytes_per_cycle = accelerator["memories"]["dram"]["ports"][0]["bandwidth_max"] / 8
    bound = max(loma["ideal_cycles"], (m * k + k * n + m * n) / dram_bytes_per_cycle)
    if loma["cycles"] <= SALSA_SKIP * bound and loma["dram_bytes"] <= SALSA_SKIP * (m * k + k * n + m * n):
        return loma  # at both floors: annealing cannot do better
    salsa = _run_engine(m, k, n, accelerator, mapping, partial_sum_bytes, lpf_limit, "salsa")
    return min((loma, salsa), key=lambda r: r["cycles"] * r["zigzag_energy_pJ"])


def _run_engine(m: int, k: int, n: int, accelerator: dict, mapping: list[dict], partial_sum_bytes: int,
                lpf_limit: int, engine: str) -> dict:
    try:
        from zigzag.api import get_hardware_performance_zigzag
    except ImportError as exc:  # optional extra
        raise ToolError("the ZigZag backend needs zigzag-dse: pip install 'ailfm[zigzag]'") from exc
    logging.disable(logging.WARNING)  # zigzag logs every stage at INFO and warns on every reduced unrolling
    random.seed(0)  # SALSA anneals with the global generators: same shape, same result
    np.random.seed(0)  # noqa: NPY002 (ZigZag draws from the legacy global generator)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "accelerator.yaml").write_text(yaml.safe_dump(accelerator, sort_keys=False))
        (folder / "mapping.yaml").write_text(yaml.safe_dump(mapping, sort_keys=False))
        _, _, cmes = get_hardware_performance_zigzag(
            gemm_workload(m, k, n, partial_sum_bytes), str(folder / "accelerator.yaml"),
            str(folder / "mapping.yaml"), temporal_mapping_search_engine=engine, opt="EDP",
            dump_folder=str(folder / "out"), lpf_limit=lpf_limit, loma_show_progress_bar=False)
    cme = cmes[0][1][0][0]  # the GEMM layer's evaluation inside the summed result
    from zigzag.hardware.architecture.memory_port import DataDirection
    from zigzag.mapping.data_movement import DataMoveAttr

    moved = dict.fromkeys(LEVELS, 0.0)
    for layer_op, per_level in cme.mapping.unit_mem_data_movement.items():
        mem_op = cme.memory_operand_links.layer_to_mem_op(layer_op)
        names = [level.name for level in cme.mem_hierarchy_dict[mem_op]]
        for lvl, movement in enumerate(per_level):
            amount = movement.get_attribute(DataMoveAttr.DATA_TRANS_AMOUNT_PER_PERIOD)
            precision = movement.get_attribute(DataMoveAttr.DATA_PRECISION)
            periods = movement.get_attribute(DataMoveAttr.DATA_TRANS_PERIOD_COUNT)
            units = cme.mapping.spatial_mapping.unit_count[layer_op][lvl + 1]
            level = REPORTED_AS.get(names[lvl], names[lvl])
            moved[level] += sum(amount.get(d) * precision.get(d) * periods.get(d) for d in DataDirection) * units / 8
    return {"engine": engine, "cycles": float(cme.latency_total2), "ideal_cycles": float(cme.ideal_cycle),
            "zigzag_energy_pJ": float(cme.energy_total),
            **{f"{level}_bytes": float(v) for level, v in moved.items()}, "mac_pJ": float(cme.mac_energy)}


@dataclass(frozen=True)
class ZigZagJob:
    """What one cache entry needs (picklable for the process pool)."""

    mkn: tuple[int, int, int]
    accelerator: dict
    mapping: list
    partial_sum_bytes: int
    lpf_limit: int

    def __call__(self) -> dict:
        return run_zigzag(*self.mkn, self.accelerator, self.mapping, self.partial_sum_bytes, self.lpf_limit)


def _run_job(job: ZigZagJob) -> tuple[tuple[int, int, int], dict]:
    return job.mkn, job()


class ZigZagCache:
    """ZigZag results per (GEMM shape, chiplet description) in ``folder``: one JSON file per description hash."""

    def __init__(self, folder: str | Path, workers: int = 1, lpf_limit: int = 6, progress: bool = True):
        self.folder = Path(folder)
        self.workers = max(1, workers)
        self.lpf_limit = lpf_limit
        self.progress = progress
        self.warm_seconds = 0.0
        self.runs = 0

    def key(self, accelerator: dict, mapping: list, partial_sum_bytes: int) -> str:
        text = json.dumps({"accelerator": accelerator, "mapping": mapping, "psum": partial_sum_bytes,
                           "lpf_limit": self.lpf_limit, "zigzag": zigzag_version(), "opt": "EDP"},
                          sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def _path(self, key: str) -> Path:
        return self.folder / f"zigzag-{key}.json"

    def load(self, key: str) -> dict[str, dict]:
        path = self._path(key)
        if not path.exists():
            return {}
        document = read_json(path, "ZigZag cache entry")
        if not isinstance(document, dict) or not isinstance(document.get("results"), dict):
            raise FormatError(path, None, "not a ZigZag cache entry of ailfm (no results); delete it to recompute")
        return document["results"]

    def store(self, key: str, accelerator: dict, results: dict[str, dict]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"zigzag_version": zigzag_version(), "lpf_limit": self.lpf_limit,
                           "accelerator": accelerator, "results": results}, indent=0, sort_keys=True)
        write_atomic(self._path(key), text.encode())

    def results(self, shapes: np.ndarray, accelerator: dict, mapping: list, partial_sum_bytes: int = 4,
                label: str = "ZigZag") -> list[dict]:
        """Results for every row (M, K, N) of ``shapes``; unseen shapes run in the pool and are cached as they
        finish (a long warm-up resumes where it stopped)."""
        from tqdm import tqdm

        key = self.key(accelerator, mapping, partial_sum_bytes)
        cached = self.load(key)
        wanted = [tuple(int(v) for v in row) for row in np.asarray(shapes).reshape(-1, 3)]
        missing = sorted({s for s in wanted if ",".join(map(str, s)) not in cached})
        if missing:
            t0 = time.perf_counter()
            jobs = [ZigZagJob(s, accelerator, mapping, partial_sum_bytes, self.lpf_limit) for s in missing]
            bar = tqdm(total=len(jobs), desc=f"{label} ({len(cached)} cached)", disable=not self.progress)
            done = map(_run_job, jobs) if self.workers == 1 else None
            with contextlib.ExitStack() as stack:
                stack.callback(bar.close)
                if self.workers > 1:
                    done = stack.enter_context(process_pool(self.workers)).map(_run_job, jobs)
                for i, (shape, result) in enumerate(done, 1):
                    cached[",".join(map(str, shape))] = result
                    bar.update()
                    if i % 8 == 0 or i == len(jobs):
                        self.store(key, accelerator, cached)
            self.runs += len(jobs)
            self.warm_seconds += time.perf_counter() - t0
        return [cached[",".join(map(str, s))] for s in wanted]


class ZigZagCostModel:
    """A ``cost.GemmCostModel`` backed by ZigZag: cycles include ZigZag's stalls with DRAM at
    ``dram_bytes_per_cycle`` (the evaluator still bounds each job by the shared DRAM and NoP)."""

    def __init__(self, cache: ZigZagCache, dram_bytes_per_cycle: float, dram_pJ_per_byte: float):
        self.cache = cache
        self.dram_bytes_per_cycle = dram_bytes_per_cycle
        self.dram_pJ_per_byte = dram_pJ_per_byte

    def __call__(self, mkn: np.ndarray, chiplet: ChipletType) -> GemmCost:
        accelerator = accelerator_description(chiplet, self.dram_bytes_per_cycle, self.dram_pJ_per_byte)
        return gemm_cost_of(self.cache.results(mkn, accelerator, mapping_description(chiplet),
                                               chiplet.partial_sum_bytes, label=f"ZigZag {chiplet.name}"))


def gemm_cost_of(rows: list[dict]) -> GemmCost:
    """ZigZag's results (``ZigZagCache.results``) as a ``cost.GemmCost``: its cycles and bytes per memory level."""

    def column(name: str) -> np.ndarray:
        return np.array([r[name] for r in rows], float)

    ones = np.ones(len(rows))
    return GemmCost(column("cycles"), column("dram_bytes"), column("buffer_bytes"), column("accumulator_bytes"),
                    column("register_bytes"), ones, ones)
