"""Silicon area of the package's dies: the one area model, used by the package cost (money.py) and the package's
thermal floorplan (package.py).

    compute die area = (MACs x MAC area + buffer bits x SRAM bit area / array efficiency) x logic overhead
                       + die-to-die PHYs
    memory interface area = DRAM channels x (DDR PHY + controller)

Sources (45/40 nm class, to match cost.py's energies):
* MAC area 282 um^2 (8-bit multiplier) + 137 um^2 (32-bit adder): M. Horowitz, ISSCC 2014, Fig. 1.1.9;
* SRAM 6T bit cell 0.346 um^2: K. Mistry et al., "A 45nm logic technology ...", IEDM 2007.
Assumed (values in the ranges of chiplet cost studies such as Feng and Ma, "Chiplet Actuary", DAC 2022): SRAM array
efficiency 0.7, logic overhead 1.3 (control, router, vector unit), D2D PHY 0.5 mm^2 each (4 per die), DDR PHY +
controller 8 mm^2 per 64-bit channel.
"""

from __future__ import annotations

from dataclasses import dataclass

from ailfm.mapping.hardware import ChipletType


@dataclass(frozen=True)
class AreaModel:
    mac_area_um2: float = 282.0 + 137.0
    sram_bit_area_um2: float = 0.346
    sram_array_efficiency: float = 0.7
    logic_overhead: float = 1.3
    d2d_phy_mm2: float = 0.5
    d2d_phys_per_die: int = 4
    dram_channel_mm2: float = 8.0

    def chiplet_area_mm2(self, chiplet: ChipletType) -> float:
        core_um2 = chiplet.macs * self.mac_area_um2
        sram_um2 = chiplet.buffer_bytes * 8 * self.sram_bit_area_um2 / self.sram_array_efficiency
        return (core_um2 + sram_um2) * 1e-6 * self.logic_overhead + self.d2d_phys_per_die * self.d2d_phy_mm2
