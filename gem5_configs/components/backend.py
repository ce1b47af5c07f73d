"""gem5's side of the co-simulation: the stdlib ``Simulator`` runs the loop's windows (gem5 only).

``run_on_simulator(board, queues, body)`` runs ``body(backend)`` (the co-simulation, or the calibration's epochs) in a
worker thread (``windows.LoopThread``) while the main thread runs gem5's ``Simulator``. Each window ends with a
scheduled-tick exit (``m5.scheduleTickExitFromCurrent``, ``ExitEvent.SCHEDULED_TICK``), whose generator dumps and
resets the statistics, reads the new part of ``stats.txt`` (a text dump is the one path that includes Ruby's and
Garnet's collated statistics, computed in dump callbacks), hands the counters to the loop and starts the next window
the loop asks for: its traffic queued on the tiles' generators, the level changes it requests sent to the board's
``DVFSHandler`` (``--dvfs domains``), the next exit scheduled. When the loop ends, the generator ends the simulation;
any other exit event is a ``ToolError`` that also ends the loop.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import m5
from gem5.simulate.exit_event import ExitEvent
from gem5.simulate.simulator import Simulator
from m5.SimObject import isSimObjectVector

from ailfm.errors import ToolError
from ailfm.gem5_configs.epoch import EpochCounters, StatPaths, TileQueues, stats_text_path
from ailfm.gem5_configs.windows import LoopThread, Window, WindowedBackend, window_counters


def gem5_version() -> str:
    """The running gem5's version string (``_m5.core``; ``m5.defines`` holds only the build options)."""
    from _m5 import core

    return core.gem5Version


def stat_paths(board) -> StatPaths:
    """Names under which an epoch's statistics appear in ``stats.txt`` (call once the board is wired).

    Statistics groups and ``SimObject.path()`` number the elements of a vector of children differently: the groups
    without padding (``cores7``), paths with zero padding to the vector's width (``cores07``). The generators' and
    caches' statistics belong to groups; Garnet's router and network statistics are legacy ones named after the C++
    object's path.
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
    """The statistics-group name of a SimObject: its path with vector elements numbered as the stats dump does
    (``m5.stats._bindStatHierarchy``: ``{name}{index}``, without the padding ``SimObjectVector`` gives names)."""
    parts = []
    while obj.get_parent() is not None:
        parent, name = obj.get_parent(), obj.get_name()
        parts.append(_unpadded(parent, name, obj))
        obj = parent
    return ".".join(reversed(parts))


def _unpadded(parent, name: str, obj) -> str:
    """``cores07`` -> ``cores7`` when ``obj`` is element 7 of ``parent.cores`` (a vector of more than one)."""
    digits = len(name) - len(name.rstrip("0123456789"))
    for split in range(len(name) - digits, len(name)):  # the longest base first: a base may end in digits
        vector = getattr(parent, name[:split], None)
        if isSimObjectVector(vector) and len(vector) > 1:
            index = next((i for i, element in enumerate(vector) if element is obj), None)
            if index is not None:
                return f"{name[:split]}{index}"
    return name


class Gem5Windows:
    """The main thread's part: starts each window on gem5 and reads its counters at its scheduled exit."""

    def __init__(self, board, queues: TileQueues):
        self.board, self.queues = board, queues
        self.stats_file = stats_text_path(m5.options.outdir, m5.options.stats_file)
        self._paths: StatPaths | None = None  # the board is wired when the Simulator instantiates it
        self._offset = 0
        self._window: Window | None = None
        self._started, self._late = 0.0, 0
        self.count = 0

    def begin(self, window: Window, instantiated: bool = True) -> None:
        """Queue the window's traffic, request its level changes, schedule its end."""
        # a generator that back-pressure held up still has states of the previous window queued: it runs late
        self._late = sum(self.queues.pending(tile, streamed) > 0 for tile in range(len(window.traffic))
                         for streamed in (0, 1))
        self.queues.push(window.traffic)
        for tile, level in window.level_changes.items():
            if instantiated:  # gem5's own path: the domain changes transition_latency from now
                self.board.dvfs_handler.setPerfLevel(tile, level)
            else:  # before the simulation starts, a domain's level is its initial one
                self.board.tile_clk_domains[tile].init_perf_level = level
        m5.scheduleTickExitFromCurrent(window.ticks)
        self._window, self._started = window, time.perf_counter()

    def end(self) -> EpochCounters:
        """Dump and reset the statistics; the window's counters from every dump since the previous window's."""
        if self._paths is None:
            self._paths = stat_paths(self.board)
        m5.stats.dump()
        m5.stats.reset()
        with open(self.stats_file, encoding="utf-8") as handle:
            handle.seek(self._offset)
            text = handle.read()
            self._offset = handle.tell()
        counters = window_counters(text, self._paths)
        self.count += 1
        print(f"gem5 epoch {self.count}: {self._window.ticks / 1e6:g} us simulated in "
              f"{time.perf_counter() - self._started:.1f} s, "
              f"{int(counters.hit_requests.sum() + counters.miss_requests.sum())} requests, {self._late} generators "
              f"late, {len(self._window.level_changes)} level changes", file=sys.stderr, flush=True)
        return counters


def run_on_simulator(board, queues: TileQueues, body: Callable[[WindowedBackend], object],
                     levels_of: Callable | None = None):
    """``body(backend)`` with gem5 behind ``backend``, driven by gem5's stdlib ``Simulator``; returns what ``body``
    returns. ``levels_of``: map the tiles' frequencies to performance levels of the board's domains (``--dvfs
    domains``); without it the domains never change level."""
    gem5 = Gem5Windows(board, queues)
    loop = LoopThread(body, levels_of)

    def windows():
        window = loop.reply(gem5.end())
        while window is not None:
            gem5.begin(window)
            yield False
            window = loop.reply(gem5.end())
        yield True  # the loop has ended (returned or raised): so does the simulation

    def unexpected():
        while True:
            raise ToolError(f"gem5 stopped before the end of the window: {simulator.get_last_exit_event_cause()} "
                            f"(code {simulator.get_last_exit_event_code()})")
            yield  # a generator, as Simulator wants

    simulator = Simulator(board=board, on_exit_event={
        event: windows() if event is ExitEvent.SCHEDULED_TICK else unexpected() for event in ExitEvent})
    first = loop.start()
    if first is not None:
        gem5.begin(first, instantiated=False)
        try:
            simulator.run()
        except BaseException as err:
            loop.abort(err)
            raise
    return loop.result()
