"""Memory controllers at the die edge: one ``SimpleMemory`` channel per channel of ``EdgeMemoryParams`` (gem5 only).

Each channel has a fixed latency and bandwidth (from an ailfm system: ``memory.latency_ns``,
``memory.bandwidth_GBps_per_controller``, ``system_params.memory_params_of``), so gem5's DRAM side is parameterised
exactly like the built-in model; addresses interleave over the channels line by line. Each channel gets its own Ruby
directory, which the 3D mesh places at the die edge of layer 0 (``Mesh3D.directory_router``).
"""

from __future__ import annotations

import math

from gem5.components.memory.abstract_memory_system import AbstractMemorySystem
from gem5.utils.override import overrides
from m5.objects import AddrRange, SimpleMemory

from ailfm.gem5_configs.params import EdgeMemoryParams


class EdgeMemory(AbstractMemorySystem):
    """``params.channels`` line-interleaved channels of ``size_bytes`` in total."""

    def __init__(self, params: EdgeMemoryParams, size_bytes: int):
        super().__init__()
        self._line_bytes = params.line_bytes
        self._size = size_bytes
        bandwidth = f"{params.bandwidth_GBps * 1e9}B/s"  # in bytes: gem5 reads "GB/s" as GiB/s
        self.channels = [SimpleMemory(latency=f"{params.latency_ns}ns", latency_var="0ns", bandwidth=bandwidth)
                         for _ in range(params.channels)]

    @overrides(AbstractMemorySystem)
    def incorporate_memory(self, board) -> None:
        pass

    @overrides(AbstractMemorySystem)
    def get_mem_ports(self):
        return [(channel.range, channel.port) for channel in self.channels]

    @overrides(AbstractMemorySystem)
    def get_memory_controllers(self):
        return list(self.channels)

    @overrides(AbstractMemorySystem)
    def get_size(self) -> int:
        return self._size

    @overrides(AbstractMemorySystem)
    def set_memory_range(self, ranges) -> None:
        if len(ranges) != 1 or ranges[0].size() != self._size:
            raise ValueError(f"EdgeMemory needs one range of {self._size} bytes")
        low_bit = int(math.log2(self._line_bytes))
        bits = int(math.log2(len(self.channels)))
        for i, channel in enumerate(self.channels):
            channel.range = AddrRange(start=ranges[0].start, size=ranges[0].size(), intlvHighBit=low_bit + bits - 1,
                                      xorHighBit=0, intlvBits=bits, intlvMatch=i)
