"""The co-simulation loop on gem5's stdlib ``Simulator``: the loop runs in a worker thread and hands gem5 its windows
(plain Python; the gem5 side is ``components/backend.py``).

gem5's stdlib drives a simulation from its own loop: ``Simulator.run()`` simulates until an exit event and asks that
event's generator what to do next. The project's co-simulation loop (``CoSimulation.run`` -> ``Gem5Engine.advance``
-> ``Gem5Backend.run_epoch``) instead calls gem5 synchronously, once per thermal sub-step. The two meet here:

* ``LoopThread`` runs the loop in a worker thread against a ``WindowedBackend``, whose ``run_epoch`` hands the window
  (traffic, length, level changes) to the main thread and waits for its counters;
* the main thread, the only one that touches ``m5``, runs ``Simulator``; the generator of its scheduled-tick exits
  reads each window's counters, hands them back (``LoopThread.reply``), receives the next window, queues its traffic,
  requests its level changes and schedules the next exit; when the loop has ended it ends the simulation.

Only one side runs at a time (each waits on a queue while the other works), so the loop sees gem5 exactly as a
synchronous call would. An exception in the loop ends the simulation and ``LoopThread.result`` re-raises it; a failure
on gem5's side (an exit other than the scheduled one) reaches the loop's pending ``run_epoch`` (``LoopThread.abort``),
which ends it, and is then raised by the main thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ailfm.errors import ToolError
from ailfm.gem5_configs.epoch import (
    EpochCounters,
    StatPaths,
    TileTraffic,
    counters_from_stats,
    parse_stats_block,
    stats_blocks,
)
from ailfm.plugins.engine.gem5 import Gem5Backend


@dataclass(frozen=True)
class Window:
    """One gem5 run between two scheduled exits: each tile's traffic, the window's length, and the performance levels
    requested at its start for the tiles whose level changes (tile -> level; empty without DVFS domains)."""

    traffic: list[TileTraffic]
    ticks: int
    level_changes: dict[int, int] = field(default_factory=dict)


class WindowedBackend(Gem5Backend):
    """The loop's side of a gem5 run by the main thread: ``run_epoch`` hands a window over and waits for its counters.

    ``levels_of`` (``--dvfs domains``) maps the tiles' frequencies to gem5 performance levels
    (``clock_domains.perf_levels``); ``set_levels`` then records the level each tile should run at, and the next
    window carries the tiles whose level differs from the one last requested (all tiles start at level 0).
    """

    def __init__(self, windows: queue.Queue, replies: queue.Queue,
                 levels_of: Callable[[np.ndarray], np.ndarray] | None = None):
        self.windows, self.replies, self.levels_of = windows, replies, levels_of
        self._requested: np.ndarray | None = None  # the levels last handed to gem5
        self._wanted: np.ndarray | None = None

    def set_levels(self, f_GHz: np.ndarray) -> None:
        if self.levels_of is not None:
            self._wanted = np.asarray(self.levels_of(f_GHz), dtype=np.int64)

    def run_epoch(self, traffic: Sequence[TileTraffic], epoch_ticks: int) -> EpochCounters:
        self.windows.put(Window(list(traffic), int(epoch_ticks), self._level_changes()))
        reply = self.replies.get()
        if isinstance(reply, BaseException):
            raise reply
        return reply

    def _level_changes(self) -> dict[int, int]:
        if self._wanted is None:
            return {}
        if self._requested is None:
            self._requested = np.zeros_like(self._wanted)
        changed = np.flatnonzero(self._wanted != self._requested)
        self._requested = self._wanted.copy()
        return {int(tile): int(self._wanted[tile]) for tile in changed}


class LoopThread:
    """``body(backend)`` in a worker thread, served window by window by the thread that runs gem5; ``levels_of`` as
    for ``WindowedBackend``.

    ``start`` and ``reply`` return the next window the loop asks for, or None once the loop has ended (returned or
    raised); ``result`` then returns what ``body`` returned or re-raises its exception.
    """

    _ENDED = object()

    def __init__(self, body: Callable[[WindowedBackend], object],
                 levels_of: Callable[[np.ndarray], np.ndarray] | None = None):
        self._windows: queue.Queue = queue.Queue()
        self._replies: queue.Queue = queue.Queue()
        self.backend = WindowedBackend(self._windows, self._replies, levels_of)
        self._result: object = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(body,), name="ailfm-cosimulation", daemon=True)

    def _run(self, body) -> None:
        try:
            self._result = body(self.backend)
        except BaseException as err:  # noqa: BLE001 (handed to the main thread, which re-raises it)
            self._error = err
        finally:
            self._windows.put(self._ENDED)

    def _next(self) -> Window | None:
        window = self._windows.get()
        return None if window is self._ENDED else window

    def start(self) -> Window | None:
        self._thread.start()
        return self._next()

    def reply(self, counters: EpochCounters) -> Window | None:
        self._replies.put(counters)
        return self._next()

    def abort(self, error: BaseException) -> None:
        """gem5 failed: the loop's pending ``run_epoch`` raises ``error``; wait for the loop to end."""
        if self._thread.is_alive():
            self._replies.put(error)
            self._thread.join()

    def result(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result


def window_counters(text: str, paths: StatPaths) -> EpochCounters:
    """A window's counters from every statistics dump gem5 appended during it (``text``).

    A DVFS transition dumps and resets the statistics itself (``DVFSHandler::UpdateEvent::updatePerfLevel``, for
    power estimation), so a window in which levels changed spans several dumps: the counts and summed latencies add
    up; Garnet's mean packet latency is averaged weighted by the routers' flits of each dump.
    """
    blocks = stats_blocks(text)
    if not blocks:
        raise ToolError("gem5 stats.txt holds no statistics dump for the window")
    parts = [counters_from_stats(parse_stats_block(block), paths) for block in blocks]
    if len(parts) == 1:
        return parts[0]
    flits = np.array([p.router_flits.sum() for p in parts])
    latencies = np.array([p.network_latency_ticks for p in parts])
    network = float(np.average(latencies, weights=flits)) if flits.sum() > 0 else float(latencies[-1])
    summed = [sum(getattr(p, name) for p in parts) for name in ("hit_requests", "hit_latency_ticks", "miss_requests",
                                                                "miss_latency_ticks", "bank_accesses", "bank_misses",
                                                                "router_flits")]
    return EpochCounters(*summed, network)
