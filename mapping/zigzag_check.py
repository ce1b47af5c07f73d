"""Optional cross-check of one chiplet's GEMM cost against ZigZag (zigzag-dse; L. Mei et al., "ZigZag: enlarging
joint architecture-mapping design space exploration for DNN accelerators", IEEE Trans. Computers 2021).

Our chiplet model (cost.py) is translated into a ZigZag accelerator description written here from our own
constants, not from ZigZag's example files:

* operational array rows x cols (``ChipletType.array_shape``), 8-bit operands, one MAC = 0.3 pJ (cost.MAC_pJ);
* one register word per PE for the stationary operand (outputs for ``os``, weights for ``ws``), free of charge (our
  model folds accumulation into the MAC's 32-bit add);
* the chiplet buffer (``buffer_KiB``) shared by all PEs and all operands at our Horowitz power-law energy per byte
  (cost.sram_pJ_per_byte), with an array-side and a DRAM-side port of rows + cols bytes per cycle each (the port
  of our model; 32-bit partial sums of ``ws`` pass through it, as in ours);
* DRAM behind it at the chiplet's NoP link bandwidth (the most one chiplet can receive) and the hardware's
  pJ/bit x 64 per 64-bit word.

The spatial unrolling is ours (``os``: M on rows, N on columns; ``ws``: K on rows, N on columns); ZigZag's
temporal mapping engine (LOMA) picks the loop order and blocking that minimises latency. :func:`cross_check`
returns both models' latency and energy (MAC, buffer, DRAM); docs/compass.md reports the discrepancy.

Install with ``pip install ailfm[zigzag]``; nothing else in ailfm imports this module.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from ailfm.errors import ConfigError, ToolError
from ailfm.mapping.cost import MAC_pJ, gemm_cost, sram_pJ_per_byte
from ailfm.mapping.hardware import ChipletType

# dataflow -> (operand held in the PE register, ZigZag's name of that operand, loop on rows, loop on columns);
# the GEMM is O[m][n] += I[m][k] * W[k][n] with loops D0 = M, D1 = K, D2 = N
SUPPORTED = {"os": ("O", "O", "D0", "D2"), "ws": ("W", "I2", "D1", "D2")}


@dataclass(frozen=True)
class CrossCheck:
    """Latency (s) and energy (pJ) of one GEMM on one chiplet by our model and by ZigZag."""

    mkn: tuple[int, int, int]
    dataflow: str
    ours_latency_s: float
    zigzag_latency_s: float
    ours_energy_pJ: dict[str, float]    # mac, buffer, dram
    zigzag_energy_pJ: dict[str, float]  # mac, buffer, dram (+ register, always 0 by construction)

    def ratio(self, part: str) -> float:
        """ZigZag / ours for ``latency`` or an energy part (``mac``, ``buffer``, ``dram``, ``total``)."""
        if part == "latency":
            return self.zigzag_latency_s / self.ours_latency_s
        if part == "total":
            return sum(self.zigzag_energy_pJ.values()) / sum(self.ours_energy_pJ.values())
        return self.zigzag_energy_pJ[part] / self.ours_energy_pJ[part]


def accelerator_description(chiplet: ChipletType, link_GBps: float, dram_pJ_per_bit: float) -> dict:
    """ZigZag accelerator (as a YAML-ready dict) equivalent to one chiplet of ours."""
    if chiplet.dataflow not in SUPPORTED:
        raise ConfigError(f"chiplet_types.{chiplet.name}.dataflow",
                          f"the ZigZag cross-check supports {', '.join(SUPPORTED)}, got {chiplet.dataflow!r}")
    rows, cols = chiplet.array_shape
    held, zz_operand, _, _ = SUPPORTED[chiplet.dataflow]
    word_bits = 32 if held == "O" else 8  # a 32-bit partial sum or an 8-bit weight per PE
    reg_bits = rows * cols * word_bits     # ZigZag sizes the lowest level over all the PEs it is unrolled to
    dram_bits = int(link_GBps * 8 / chiplet.frequency_GHz)  # one access per cycle at the link bandwidth

    def port(name: str, kind: str, bits: int, allocation: list[str]) -> dict:
        # ZigZag charges a memory's r_cost / w_cost per access of the port width: fixed-width ports keep the
        # energy per bit equal to ours
        return {"name": name, "type": kind, "bandwidth_min": bits, "bandwidth_max": bits, "allocation": allocation}

    if held == "O":
        reg_ports = [port(f"{kind[0]}_port_{i}", kind, word_bits, [f"O, {direction}"]) for i, (kind, direction) in
                     enumerate((("read", "tl"), ("read", "th"), ("write", "fh"), ("write", "fl")), 1)]
    else:
        reg_ports = [port("r_port_1", "read", word_bits, [f"{zz_operand}, tl"]),
                     port("w_port_1", "write", word_bits, [f"{zz_operand}, fh"])]
    buffer_port_bits = 8 * (rows + cols)  # one 8-bit operand per array row and column per cycle
    buffer_access_pJ = float(sram_pJ_per_byte(chiplet.buffer_bytes)) * buffer_port_bits / 8
    return {
        "name": f"ailfm_{chiplet.name}",
        "memories": {
            "pe_register": {"size": reg_bits, "r_cost": 0.0, "w_cost": 0.0, "area": 0, "latency": 1,
                            "operands": [zz_operand], "ports": reg_ports, "served_dimensions": []},
            "buffer": {"size": int(chiplet.buffer_bytes * 8), "r_cost": buffer_access_pJ, "w_cost": buffer_access_pJ,
                       "area": 0, "latency": 1, "operands": ["I1", "I2", "O"],
                       "ports": [port("rw_port_1", "read_write", buffer_port_bits, ["I1, tl", "I2, tl", "O, tl",
                                                                                  "O, fl"]),
                                 port("rw_port_2", "read_write", buffer_port_bits, ["I1, fh", "I2, fh", "O, fh",
                                                                                      "O, th"])],
                       "served_dimensions": ["D1", "D2"]},
            "dram": {"size": 2 ** 40, "r_cost": dram_pJ_per_bit * dram_bits, "w_cost": dram_pJ_per_bit * dram_bits,
                     "area": 0, "latency": 1, "operands": ["I1", "I2", "O"],
                     "ports": [port("rw_port_1", "read_write", dram_bits,
                                    ["I1, tl", "I2, tl", "O, fl", "O, tl", "I1, fh", "I2, fh", "O, fh", "O, th"])],
                     "served_dimensions": ["D1", "D2"]},
        },
        "operational_array": {"input_precision": [8, 8], "unit_energy": float(MAC_pJ), "unit_area": 1,
                              "dimensions": ["D1", "D2"], "sizes": [rows, cols]},
    }


def mapping_description(chiplet: ChipletType) -> list[dict]:
    """ZigZag mapping: our spatial unrolling of the dataflow, temporal order left to ZigZag."""
    rows, cols = chiplet.array_shape
    _, _, on_rows, on_cols = SUPPORTED[chiplet.dataflow]
    entry = {"spatial_mapping": {"D1": [f"{on_rows}, {rows}"], "D2": [f"{on_cols}, {cols}"]},
             "memory_operand_links": {"O": "O", "W": "I2", "I": "I1"}}
    return [{"name": name, **entry} for name in ("default", "Gemm")]  # ZigZag requires a default entry


def gemm_workload(m: int, k: int, n: int) -> list[dict]:
    """One GEMM, 8-bit operands and result, 32-bit partial sums."""
    return [{"id": 0, "name": "gemm", "operator_type": "Gemm", "equation": "O[d0][d2]+=I[d0][d1]*W[d1][d2]",
             "loop_dims": ["D0", "D1", "D2"], "loop_sizes": [int(m), int(k), int(n)],
             "operand_precision": {"I": 8, "W": 8, "O": 32, "O_final": 8}, "operand_source": {"I": 0, "W": 0}}]


def ours(m: int, k: int, n: int, chiplet: ChipletType, dram_pJ_per_bit: float) -> tuple[float, dict[str, float]]:
    """Our model's latency (compute) and energy of the GEMM when its operands start and end in DRAM."""
    cycles, buffer_bytes, spill = gemm_cost(np.array([[m, k, n]]), chiplet)
    dram_bytes = m * k + k * n + m * n + float(spill[0])
    energy = {"mac": m * k * n * MAC_pJ, "buffer": float(buffer_bytes[0]) * sram_pJ_per_byte(chiplet.buffer_bytes),
              "dram": dram_bytes * 8 * dram_pJ_per_bit}
    return float(cycles[0]) / (chiplet.frequency_GHz * 1e9), energy


def cross_check(m: int, k: int, n: int, chiplet: ChipletType, link_GBps: float = 128.0,
                dram_pJ_per_bit: float = 20.0, lpf_limit: int = 6) -> CrossCheck:
    """Run ZigZag on our chiplet for an M x K x N GEMM and return both models' figures."""
    try:
        from zigzag.api import get_hardware_performance_zigzag
    except ImportError as exc:  # optional extra
        raise ToolError("the ZigZag cross-check needs zigzag-dse: pip install 'ailfm[zigzag]'") from exc
    logging.getLogger("zigzag").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # ZigZag reads the memory hierarchy in file order (lowest level first): keep our key order
        accelerator = accelerator_description(chiplet, link_GBps, dram_pJ_per_bit)
        (folder / "accelerator.yaml").write_text(yaml.safe_dump(accelerator, sort_keys=False))
        (folder / "mapping.yaml").write_text(yaml.safe_dump(mapping_description(chiplet), sort_keys=False))
        _, _, cmes = get_hardware_performance_zigzag(
            gemm_workload(m, k, n), str(folder / "accelerator.yaml"), str(folder / "mapping.yaml"),
            opt="latency", dump_folder=str(folder / "out"), lpf_limit=lpf_limit, loma_show_progress_bar=False)
    cme = cmes[0][1][0][0]  # the GEMM layer's evaluation inside the summed result
    levels = {"pe_register": 0.0, "buffer": 0.0, "dram": 0.0}
    for operand, per_level in cme.mem_energy_breakdown.items():
        names = [level.name for level in cme.mem_hierarchy_dict[cme.memory_operand_links.layer_to_mem_op(operand)]]
        for name, energy in zip(names, per_level, strict=True):
            levels[name] += float(energy)
    latency_s = float(cme.latency_total2) / (chiplet.frequency_GHz * 1e9)
    our_latency_s, our_energy = ours(m, k, n, chiplet, dram_pJ_per_bit)
    return CrossCheck((m, k, n), chiplet.dataflow, our_latency_s, latency_s, our_energy,
                      {"mac": float(cme.mac_energy), "buffer": levels["buffer"], "dram": levels["dram"],
                       "register": levels["pe_register"]})
