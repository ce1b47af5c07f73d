"""Monetary cost of a multi-chiplet package (Gemini-style: compute dies + an IO die + carrier, package and assembly)
and of its cooling.

package cost = (sum of die costs + interposer + substrate) / assembly yield, plus (``cooling=True``) the cooling,
with per die
    die cost = wafer price / (dies per wafer x die yield)
    dies per wafer = pi (d/2)^2 / A - pi d / sqrt(2 A)          (Hennessy & Patterson, "Computer Architecture:
                                                                  A Quantitative Approach", 6th ed., Sec. 1.6)
    die yield = (1 + A D0 / alpha)^(-alpha)                     (negative-binomial yield model, C. H. Stapper,
                                                                  IBM J. Res. Dev. 1983)
    die areas: area.py (the one area model: compute dies; the IO die holds the DRAM channels' PHYs + controllers)
    interposer (carrier: interposer) = a die of the carrier's footprint (package.py's layout, which grows with the
                                       chiplet spacing) on a 65 nm-class wafer
    substrate = max(package-area factor x total die area, carrier footprint) x price per mm^2
                (fan-out and routing take twice the silicon until spaced-out dies need more)
    assembly yield = bond yield ^ dies
    cooling = sink_ref_usd x (sink_ref_K_per_W / r_convec)^sink_cost_exponent

Sources of the constants (45/40 nm class, to match cost.py's energies):
* wafer price USD 2,274 per 300 mm wafer at 40 nm, USD 1,937 at 65 nm (the interposer): S. M. Khan and A. Mann, "AI
  Chips: What They Are and Why They Matter", CSET 2020, foundry sale price by node;
Assumed (no single source; values in the ranges used by chiplet cost studies such as Feng and Ma, "Chiplet
Actuary", DAC 2022, which structure the package cost the same way): defect density 0.1 per cm^2 for a mature
node, 0.05 for a passive interposer (no transistors, coarse metal), clustering alpha 3, package area 2x the silicon,
organic substrate USD 0.005 per mm^2, bond yield 0.99 per die.
Cooling (assumed, no single source): a power law through the price classes of coolers, about USD 15 for a 0.4 K/W
stock air cooler, 35 for 0.2 K/W tower air, 75 for 0.1 K/W (HotSpot's default r_convec: a large finned sink with a
fan), 180 for 0.05 K/W liquid cold plates: USD 75 x (0.1 / r_convec)^1.3. ``SPACING_CHOICES_MM`` and
``R_CONVEC_CHOICES_K_PER_W`` are the values the hardware search may give ``Hardware.package``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ailfm.mapping.area import AreaModel
from ailfm.mapping.hardware import Hardware
from ailfm.mapping.package import chiplet_areas_mm2, package_layout

#: package choices the co-exploration varies (``dataclasses.replace(hw.package, spacing_mm=..., r_convec_K_per_W=...)``)
SPACING_CHOICES_MM = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
R_CONVEC_CHOICES_K_PER_W = (0.4, 0.2, 0.1, 0.05)


@dataclass(frozen=True)
class CostModel:
    area: AreaModel = AreaModel()
    wafer_price_usd: float = 2274.0
    interposer_wafer_price_usd: float = 1937.0
    wafer_diameter_mm: float = 300.0
    defect_density_per_cm2: float = 0.1
    interposer_defect_density_per_cm2: float = 0.05
    clustering_alpha: float = 3.0
    package_area_factor: float = 2.0
    substrate_usd_per_mm2: float = 0.005
    bond_yield: float = 0.99
    sink_ref_usd: float = 75.0
    sink_ref_K_per_W: float = 0.1
    sink_cost_exponent: float = 1.3

    def die_yield(self, area_mm2: float, defect_density_per_cm2: float | None = None) -> float:
        d0 = self.defect_density_per_cm2 if defect_density_per_cm2 is None else defect_density_per_cm2
        return (1 + area_mm2 * 1e-2 * d0 / self.clustering_alpha) ** -self.clustering_alpha

    def dies_per_wafer(self, area_mm2: float) -> float:
        d = self.wafer_diameter_mm
        return max(np.pi * (d / 2) ** 2 / area_mm2 - np.pi * d / np.sqrt(2 * area_mm2), 1.0)

    def die_cost_usd(self, area_mm2: float) -> float:
        return self.wafer_price_usd / (self.dies_per_wafer(area_mm2) * self.die_yield(area_mm2))

    def interposer_cost_usd(self, area_mm2: float) -> float:
        good = self.dies_per_wafer(area_mm2) * self.die_yield(area_mm2, self.interposer_defect_density_per_cm2)
        return self.interposer_wafer_price_usd / good

    def cooling_cost_usd(self, r_convec_K_per_W: float) -> float:
        """The heat sink (and fan or cold plate) that reaches ``r_convec`` (module docstring: an assumed curve)."""
        return self.sink_ref_usd * (self.sink_ref_K_per_W / r_convec_K_per_W) ** self.sink_cost_exponent

    def breakdown(self, hw: Hardware) -> dict[str, float]:
        """USD by part and the total, plus silicon and carrier areas."""
        areas = chiplet_areas_mm2(hw, self.area)
        io_area = hw.dram_channels * self.area.dram_channel_mm2
        compute = sum(self.die_cost_usd(a) for a in areas)
        io = self.die_cost_usd(io_area)
        silicon_mm2 = float(areas.sum()) + io_area
        footprint_mm2 = package_layout(hw, self.area).footprint_mm2
        interposer = self.interposer_cost_usd(footprint_mm2) if hw.package.carrier == "interposer" else 0.0
        substrate = max(self.package_area_factor * silicon_mm2, footprint_mm2) * self.substrate_usd_per_mm2
        assembly_yield = self.bond_yield ** (len(areas) + 1)
        package = (compute + io + interposer + substrate) / assembly_yield
        cooling = self.cooling_cost_usd(hw.package.r_convec_K_per_W)
        parts = {"compute_dies_usd": compute, "io_die_usd": io, "interposer_usd": interposer,
                 "substrate_usd": substrate, "assembly_loss_usd": package - (compute + io + interposer + substrate),
                 "package_usd": package, "cooling_usd": cooling, "total_usd": package + cooling,
                 "silicon_mm2": silicon_mm2, "carrier_mm2": footprint_mm2}
        return {k: float(v) for k, v in parts.items()}

    def cost_usd(self, hw: Hardware, *, cooling: bool = False) -> float:
        """The package's cost (Gemini's monetary cost: dies, carrier, assembly); with ``cooling`` also its heat sink,
        for a search that chooses ``r_convec`` (with the cooling fixed it is a cost every design shares)."""
        return self.breakdown(hw)["total_usd" if cooling else "package_usd"]
