"""``RunningGem5``: the ``Gem5Backend`` of a live gem5 process (gem5 only).

Each epoch: queue the tiles' states, ``m5.simulate(epoch_ticks)`` (relative to now), dump and reset gem5's
statistics, and read the new dump back from ``stats.txt``. A text dump is the one path that includes Ruby's and
Garnet's collated statistics (they are computed in dump callbacks), so it is read rather than individual
``resolveStat`` values; only the part appended since the previous epoch is parsed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import m5

from ailfm.errors import ToolError
from ailfm.gem5_configs.epoch import (
    EpochCounters,
    StatPaths,
    TileQueues,
    TileTraffic,
    counters_from_stats,
    last_stats_block,
    parse_stats_block,
    stats_text_path,
)
from ailfm.plugins.engine.gem5 import Gem5Backend

SIMULATE_LIMIT = "simulate() limit reached"  # the exit cause when m5.simulate(ticks) ran its ticks (simulate.cc)


def gem5_version() -> str:
    """The running gem5's version string (``_m5.core``; ``m5.defines`` holds only the build options)."""
    from _m5 import core

    return core.gem5Version


def stat_paths(board) -> StatPaths:
    """Names under which an epoch's statistics appear in ``stats.txt`` (call after ``m5.instantiate()``).

    Statistics groups and ``SimObject.path()`` number the elements of a vector of children differently: the groups
    by ``_bindStatHierarchy`` without padding (``cores7``), paths with zero padding to the vector's width
    (``cores07``). The generators' and caches' statistics belong to groups; Garnet's router and network statistics
    are legacy ones named after the C++ object's path.
    """
    cores = board.get_processor().get_cores()
    hierarchy = board.get_cache_hierarchy()
    return StatPaths(resident_generators=tuple(group_name(core.resident) for core in cores),
                     streamed_generators=tuple(group_name(core.streamed) for core in cores),
                     l2_caches=tuple(group_name(cache) for cache in hierarchy.l2_caches()),
                     banks_per_l2=hierarchy.banks_per_controller(),
                     routers=tuple(router.path() for router in hierarchy.routers()),
                     network=hierarchy.ruby_system.network.path())


def group_name(obj) -> str:
    """The statistics-group name of a SimObject: its path with vector elements numbered as the stats dump does."""
    from m5.SimObject import isSimObjectVector

    parts = []
    while obj.get_parent() is not None:
        parent, name = obj.get_parent(), obj.get_name()
        for key, child in parent._children.items():
            if isSimObjectVector(child) and len(child) > 1:
                name = next((f"{key}{i}" for i, element in enumerate(child) if element is obj), name)
        parts.append(name)
        obj = parent
    return ".".join(reversed(parts))


class RunningGem5(Gem5Backend):
    """gem5 after ``m5.instantiate()``, advanced one epoch per ``run_epoch``."""

    def __init__(self, queues: TileQueues, paths: StatPaths):
        self.queues = queues
        self.paths = paths
        self.stats_file = stats_text_path(m5.options.outdir, m5.options.stats_file)
        self._offset = 0
        self.epochs = 0

    def run_epoch(self, traffic: Sequence[TileTraffic], epoch_ticks: int) -> EpochCounters:
        # a generator that back-pressure held up still has states of the previous epoch queued: it runs late
        late = sum(self.queues.pending(tile, streamed) > 0 for tile in range(len(traffic)) for streamed in (0, 1))
        self.queues.push(traffic)
        start = time.perf_counter()
        event = m5.simulate(epoch_ticks)
        if event.getCause() != SIMULATE_LIMIT:
            raise ToolError(f"gem5 stopped before the end of the epoch: {event.getCause()} (code {event.getCode()})")
        m5.stats.dump()
        m5.stats.reset()
        with open(self.stats_file, encoding="utf-8") as handle:
            handle.seek(self._offset)
            text = handle.read()
            self._offset = handle.tell()
        counters = counters_from_stats(parse_stats_block(last_stats_block(text)), self.paths)
        self.epochs += 1
        print(f"gem5 epoch {self.epochs}: {epoch_ticks / 1e6:g} us simulated in {time.perf_counter() - start:.1f} s, "
              f"{int(counters.hit_requests.sum() + counters.miss_requests.sum())} requests, {late} generators late",
              file=sys.stderr, flush=True)
        return counters
