"""The gem5 components' parameters as plain numbers: no ailfm description needed, importable anywhere (no ``m5``).

A gem5 config of your own builds a ``SnucaCacheParams`` and a ``Mesh3D`` (``topologies.mesh3d.mesh3d``) and hands
them to ``components.snuca_hierarchy.SnucaCacheHierarchy`` (``examples/user_config.py`` does exactly that);
``system_params`` derives the same values from an ailfm system description, which is what ``run_ailfm.py`` does.
Every value is checked here, once, so a bad one is a ``ConfigError`` naming the parameter before gem5 builds anything.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ailfm.errors import ConfigError

#: Ruby's controller sets (``NetDest``) hold at most this many controllers of one type unless gem5 is built with a
#: larger ``NUMBER_BITS_PER_SET`` (gem5 v24 default 64, ``src/mem/ruby/Kconfig``); more is fatal at start-up.
RUBY_SET_BITS = 64


def _positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(name, f"must be a positive integer, got {value!r}")


def _power_of_two(name: str, value: int, why: str) -> None:
    if value & (value - 1):
        raise ConfigError(name, f"{value} is not a power of two ({why})")


def _positive_number(name: str, value, *, zero: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not zero):
        raise ConfigError(name, f"must be a finite number {'>=' if zero else '>'} 0, got {value!r}")


@dataclass(frozen=True)
class SnucaCacheParams:
    """The S-NUCA hierarchy of ``tiles`` tiles (MESI_Two_Level): a private L1 (I and D) per tile and
    ``banks_per_tile`` LLC banks per tile, statically line-interleaved over all banks.

    Sizes are in bytes; ``bank_latency_cycles`` is a bank's response latency (MESI_Two_Level's
    ``l2_response_latency``). 8-way L1s and 16-way banks by default, as in the stdlib examples [inferred: the
    project's system YAML has no associativities].
    """

    tiles: int
    l1i_bytes: int
    l1d_bytes: int
    bank_bytes: int
    banks_per_tile: int = 1
    bank_latency_cycles: int = 1
    line_bytes: int = 64
    l1_assoc: int = 8
    l2_assoc: int = 16

    def __post_init__(self):
        for field in dataclasses.fields(self):
            if field.name != "bank_latency_cycles":
                _positive_int(field.name, getattr(self, field.name))
        if isinstance(self.bank_latency_cycles, bool) or not isinstance(self.bank_latency_cycles, int) \
                or self.bank_latency_cycles < 0:
            raise ConfigError("bank_latency_cycles", f"must be an integer >= 0, got {self.bank_latency_cycles!r}")
        _power_of_two("banks_per_tile", self.n_banks, "MESI_Two_Level selects an LLC bank by address bits: "
                      f"{self.tiles} tiles x {self.banks_per_tile} banks")
        _power_of_two("line_bytes", self.line_bytes, "a cache line")

    @property
    def n_banks(self) -> int:
        return self.tiles * self.banks_per_tile

    def for_ruby(self, max_controllers: int = RUBY_SET_BITS) -> tuple[SnucaCacheParams, int]:
        """The hierarchy Ruby builds, and how many of these banks each of its L2 controllers holds.

        A Ruby build holds at most ``max_controllers`` controllers of one type (``RUBY_SET_BITS``). With more banks
        than that, each tile's banks become one L2 controller of their total size: the same capacity, bank latency
        and tile, still statically line-interleaved over the tiles (line ``a`` lives on tile ``a mod tiles`` instead
        of ``(a mod n_banks) // banks_per_tile``); the bank-level parallelism within a tile is what is lost.
        Per-bank counters are then split evenly over the tile's banks for the power model.
        """
        if self.tiles > max_controllers:
            raise ConfigError("tiles", f"{self.tiles} tiles: this gem5 build holds at most {max_controllers} L1 "
                              "controllers (rebuild gem5 with a larger NUMBER_BITS_PER_SET)")
        if self.n_banks <= max_controllers:
            return self, 1
        return dataclasses.replace(self, banks_per_tile=1, bank_bytes=self.bank_bytes * self.banks_per_tile), \
            self.banks_per_tile


@dataclass(frozen=True)
class EdgeMemoryParams:
    """``channels`` memory channels, line-interleaved, each a fixed ``latency_ns`` and ``bandwidth_GBps`` (1e9
    bytes/s) per channel, with its directory at the die edge (``Mesh3D.directory_router``)."""

    channels: int
    latency_ns: float
    bandwidth_GBps: float
    line_bytes: int = 64

    def __post_init__(self):
        _positive_int("channels", self.channels)
        _power_of_two("channels", self.channels, "gem5 interleaves a power-of-two number of channels")
        _positive_number("latency_ns", self.latency_ns, zero=True)
        _positive_number("bandwidth_GBps", self.bandwidth_GBps)
        _positive_int("line_bytes", self.line_bytes)
        _power_of_two("line_bytes", self.line_bytes, "a cache line")
