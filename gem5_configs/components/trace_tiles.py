"""Trace-driven tiles: two ``PyTrafficGen``s per core, fed lazily from the epoch loop's queues (gem5 only).

A tile's *resident* generator replays its thread's LLC-resident data, its *streamed* generator the data that comes
from DRAM (``ailfm.gem5_configs.epoch.thread_states``); both send through the tile's L1 sequencer, so their requests
meet the tile's private cache, the S-NUCA banks, the NoC and DRAM. Each generator iterates an endless Python
generator over its queue (``TileQueues.stream``): ``PyTrafficGen`` pulls the next state only when the current one's
duration expires (``pygen.cc``), so the epoch loop can queue a new epoch's states between ``m5.simulate`` calls.
Migration is nothing more than queueing the moved thread's states on its new tile.
"""

from __future__ import annotations

from collections.abc import Iterator

from gem5.components.processors.abstract_generator import AbstractGenerator
from gem5.components.processors.abstract_generator_core import AbstractGeneratorCore
from gem5.utils.override import overrides
from m5.objects import PyTrafficGen

from ailfm.gem5_configs.epoch import GeneratorState, TileQueues

#: A generator that sends nothing for ``progress_check`` is fatal in gem5 (``BaseTrafficGen::noProgress``; default
#: 1 ms). A tile without a thread, or whose thread sends one request per epoch, is legitimately quiet for a whole
#: epoch, so the limit is far above any control epoch; Ruby's own deadlock detector still guards the memory system.
QUIET_TILE_LIMIT = "10s"


def gem5_states(tgen, states: Iterator[GeneratorState]):
    """Our states as ``PyTrafficGen`` generator objects (``createLinear`` / ``createIdle``), lazily."""
    for state in states:
        if state.kind == "linear":
            # LinearGen issues addresses up to and including end_addr; the data limit stops it after one sweep
            yield tgen.createLinear(state.duration_ticks, state.min_addr, state.max_addr - state.block_bytes,
                                    state.block_bytes, state.period_ticks,
                                    state.max_period_ticks or state.period_ticks, state.read_percent,
                                    state.max_addr - state.min_addr)
        else:
            yield tgen.createIdle(state.duration_ticks)


class TraceTileCore(AbstractGeneratorCore):
    """One tile's core: the resident and streamed generators of whichever thread the loop places here."""

    def __init__(self, tile: int, queues: TileQueues):
        super().__init__()
        self.resident = PyTrafficGen(progress_check=QUIET_TILE_LIMIT)
        self.streamed = PyTrafficGen(progress_check=QUIET_TILE_LIMIT)
        self._tile = tile
        self._queues = queues

    @overrides(AbstractGeneratorCore)
    def connect_dcache(self, port) -> None:
        self.resident.port = port  # a vector port: each assignment adds a connection
        self.streamed.port = port

    @overrides(AbstractGeneratorCore)
    def start_traffic(self) -> None:
        self.resident.start(gem5_states(self.resident, self._queues.stream(self._tile)))
        self.streamed.start(gem5_states(self.streamed, self._queues.stream(self._tile, streamed=True)))


class TraceTileProcessor(AbstractGenerator):
    """All tiles' cores; traffic starts after instantiation and never ends (the queues idle when empty)."""

    def __init__(self, n_tiles: int, queues: TileQueues):
        super().__init__(cores=[TraceTileCore(tile, queues) for tile in range(n_tiles)])
        self._queues = queues  # a plain attribute: SimObjects take only parameters and children as public names

    @overrides(AbstractGenerator)
    def start_traffic(self) -> None:
        for core in self.get_cores():
            core.start_traffic()
