"""Readers and writers of HotSpot's plain-file formats: .flp .ptrace .ttrace .steady/.init .lcf .config .materials.

Every reader raises ``ailfm.errors.FormatError`` naming the file and line of malformed input; every
writer produces files HotSpot 7.0 reads. Formats are described in docs/thermal-formats.md.
"""

from ailfm.thermal.formats.config import HotSpotConfig, read_config, write_config
from ailfm.thermal.formats.flp import Block, Floorplan, read_flp, write_flp
from ailfm.thermal.formats.grid_steady import (
    append_grid_transient,
    read_grid_steady,
    read_grid_transient,
    write_grid_steady,
)
from ailfm.thermal.formats.lcf import LcfLayer, read_lcf, write_lcf
from ailfm.thermal.formats.materials import Material, read_materials, write_materials
from ailfm.thermal.formats.ptrace import PowerTrace, read_ptrace, write_ptrace
from ailfm.thermal.formats.steady import read_steady, write_steady
from ailfm.thermal.formats.ttrace import TemperatureTrace, read_ttrace, write_ttrace

__all__ = [
    "Block", "Floorplan", "HotSpotConfig", "LcfLayer", "Material", "PowerTrace", "TemperatureTrace",
    "append_grid_transient", "read_config", "read_flp", "read_grid_steady", "read_grid_transient", "read_lcf",
    "read_materials", "read_ptrace", "read_steady", "read_ttrace", "write_config", "write_flp",
    "write_grid_steady", "write_lcf", "write_materials", "write_ptrace", "write_steady", "write_ttrace",
]
