"""Monetary cost of a multi-chiplet package (Gemini-style: compute dies + an IO die + package and assembly).

cost = (sum of die costs + substrate cost) / assembly yield, with per die
    die cost = wafer price / (dies per wafer x die yield)
    dies per wafer = pi (d/2)^2 / A - pi d / sqrt(2 A)          (Hennessy & Patterson, "Computer Architecture:
                                                                  A Quantitative Approach", 6th ed., Sec. 1.6)
    die yield = (1 + A D0 / alpha)^(-alpha)                     (negative-binomial yield model, C. H. Stapper,
                                                                  IBM J. Res. Dev. 1983)
    compute die area = (MACs x MAC area + buffer bits x SRAM bit area / array efficiency) x logic overhead
                       + 4 die-to-die PHYs
    IO die area = DRAM channels x DDR PHY + controller area
    substrate = package-area factor x total die area x price per mm^2; assembly yield = bond yield ^ dies

Sources of the constants (all at the 45/40 nm class, to match cost.py's energies):
* MAC area 282 um^2 (8-bit multiplier) + 137 um^2 (32-bit adder): M. Horowitz, ISSCC 2014, Fig. 1.1.9;
* SRAM 6T bit cell 0.346 um^2: K. Mistry et al., "A 45nm logic technology ...", IEDM 2007;
* wafer price USD 2,274 per 300 mm wafer at 40 nm: S. M. Khan and A. Mann, "AI Chips: What They Are and Why
  They Matter", CSET 2020, foundry sale price by node;
Assumed (no single source; values in the ranges used by chiplet cost studies such as Feng and Ma, "Chiplet
Actuary", DAC 2022, which structure the package cost the same way): defect density 0.1 per cm^2 for a mature
node, clustering alpha 3, SRAM array efficiency 0.7, logic overhead 1.3 (control, router, vector unit),
D2D PHY 0.5 mm^2 each, DDR PHY + controller 8 mm^2 per 64-bit channel, package area 2x the silicon, organic
substrate USD 0.005 per mm^2, bond yield 0.99 per die.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ailfm.mapping.hardware import ChipletType, Hardware


@dataclass(frozen=True)
class CostModel:
    wafer_price_usd: float = 2274.0
    wafer_diameter_mm: float = 300.0
    defect_density_per_cm2: float = 0.1
    clustering_alpha: float = 3.0
    mac_area_um2: float = 282.0 + 137.0
    sram_bit_area_um2: float = 0.346
    sram_array_efficiency: float = 0.7
    logic_overhead: float = 1.3
    d2d_phy_mm2: float = 0.5
    d2d_phys_per_die: int = 4
    dram_channel_mm2: float = 8.0
    package_area_factor: float = 2.0
    substrate_usd_per_mm2: float = 0.005
    bond_yield: float = 0.99

    def chiplet_area_mm2(self, chiplet: ChipletType) -> float:
        core_um2 = chiplet.macs * self.mac_area_um2
        sram_um2 = chiplet.buffer_bytes * 8 * self.sram_bit_area_um2 / self.sram_array_efficiency
        return (core_um2 + sram_um2) * 1e-6 * self.logic_overhead + self.d2d_phys_per_die * self.d2d_phy_mm2

    def die_yield(self, area_mm2: float) -> float:
        return (1 + area_mm2 * 1e-2 * self.defect_density_per_cm2 / self.clustering_alpha) ** -self.clustering_alpha

    def dies_per_wafer(self, area_mm2: float) -> float:
        d = self.wafer_diameter_mm
        return max(np.pi * (d / 2) ** 2 / area_mm2 - np.pi * d / np.sqrt(2 * area_mm2), 1.0)

    def die_cost_usd(self, area_mm2: float) -> float:
        return self.wafer_price_usd / (self.dies_per_wafer(area_mm2) * self.die_yield(area_mm2))

    def breakdown(self, hw: Hardware) -> dict[str, float]:
        """USD by part and the total, plus silicon area."""
        areas = [self.chiplet_area_mm2(hw.types[k]) for k in hw.chiplet_type]
        io_area = hw.dram_channels * self.dram_channel_mm2
        compute = sum(self.die_cost_usd(a) for a in areas)
        io = self.die_cost_usd(io_area)
        silicon_mm2 = sum(areas) + io_area
        substrate = self.package_area_factor * silicon_mm2 * self.substrate_usd_per_mm2
        assembly_yield = self.bond_yield ** (len(areas) + 1)
        total = (compute + io + substrate) / assembly_yield
        parts = {"compute_dies_usd": compute, "io_die_usd": io, "substrate_usd": substrate,
                 "assembly_loss_usd": total - (compute + io + substrate), "total_usd": total,
                 "silicon_mm2": silicon_mm2}
        return {k: float(v) for k, v in parts.items()}

    def cost_usd(self, hw: Hardware) -> float:
        return self.breakdown(hw)["total_usd"]
