"""ZigZag cross-check of one chiplet's GEMM cost: our analytic model vs ZigZag (zigzag-dse) on the same chiplet.

The he-36 chiplets (1024 MACs as 32 x 32, 2 MiB buffer, 1 GHz; output- and weight-stationary) run Llama-3-8B
GEMM tiles of the mapping layers (tensor parallel 8): a prefill chunk and a decode micro-batch through the
``out`` projection (K 4096, N 512) and the ``ffn1`` tile (K 4096, N 1792), and one decode request's attention GEMMs
for one head at a 1,500-token context. Operands start and end in DRAM. Needs
``pip install 'ailfm[zigzag]'``. Prints one line per GEMM and dataflow with both models' latency and energy.

    python bench/compass_zigzag.py
"""

from __future__ import annotations

import sys

from ailfm.mapping.hardware import ChipletType
from ailfm.mapping.zigzag_check import cross_check

GEMMS = {"prefill out": (512, 4096, 512), "prefill ffn1": (512, 4096, 1792),
         "decode out": (8, 4096, 512), "decode ffn1": (64, 4096, 1792),
         "decode QK^T, one head": (1, 128, 1500), "decode AV, one head": (1, 1500, 128)}


def main() -> int:
    print("| GEMM (M x K x N) | dataflow | latency ours / ZigZag (us) | MAC (uJ) | buffer ours / ZigZag (uJ) | "
          "DRAM ours / ZigZag (uJ) | total ZigZag / ours |")
    print("|---|---|---|---|---|---|---|")
    for name, mkn in GEMMS.items():
        for dataflow in ("os", "ws"):
            c = cross_check(*mkn, ChipletType(dataflow, dataflow, 1024, 2048))
            o, z = c.ours_energy_pJ, c.zigzag_energy_pJ
            print(f"| {name} ({' x '.join(map(str, mkn))}) | {dataflow} | {c.ours_latency_s * 1e6:.1f} / "
                  f"{c.zigzag_latency_s * 1e6:.1f} | {o['mac'] * 1e-6:.1f} | {o['buffer'] * 1e-6:.1f} / "
                  f"{z['buffer'] * 1e-6:.1f} | {o['dram'] * 1e-6:.1f} / {z['dram'] * 1e-6:.1f} | "
                  f"{c.ratio('total'):.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
