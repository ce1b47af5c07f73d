"""Epoch bookkeeping of the gem5 backend, in plain Python (no ``m5``): trace -> generator states, stats -> counters.

gem5 runs the memory system (private L1s, the S-NUCA banks, the 3D-mesh Garnet NoC, the directories and DRAM); the
cores are trace-driven ``PyTrafficGen``s. Each control epoch:

1. the project's interval model (``BuiltinEngine``) says how many LLC accesses and DRAM misses each thread makes in
   the epoch and for how long it is busy, at its tile's frequency (so V/f scales the request rate: compute time
   ``I * CPI / f`` shrinks with f, memory stalls do not);
2. ``thread_states`` turns that into the states of the two generators of the tile the thread is placed on, each
   sending requests at a fixed period spread over the busy time and idling for the rest: the *resident* generator
   re-reads the thread's LLC-resident data cyclically (LLC hits once warm), the *streamed* one sweeps weights / KV
   cache linearly through a region larger than the whole LLC (DRAM misses), in the trace's hit/miss proportion and
   read/write mix;
3. after a migration the new tile first replays the thread's private working set (cold L1: the refill goes to the
   LLC or DRAM as gem5's caches decide);
4. gem5 simulates the epoch; ``counters_from_stats`` reads each generator's request latency (so per tile the LLC
   hit latency and the DRAM miss latency), per-bank LLC accesses and misses and per-router flits from gem5's
   statistics, and the engine uses them for the next epoch (one epoch of lag, like the built-in contention model).

Every state's duration and period is in gem5 ticks (1 ps, gem5's default tick rate).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from ailfm import options
from ailfm.errors import ToolError
from ailfm.plugins.system.description import SystemDescription

TICKS_PER_S = 10**12  # gem5's default global tick frequency (m5.ticks: 1 THz, 1 tick = 1 ps)
#: The resident region spans this many times the private data capacity, so a cyclic sweep over it always misses the
#: private cache (LRU, ``snuca_hierarchy``) and reaches the LLC [inferred: any factor > 1 works for LRU]. Kept small
#: so that the threads' resident data stays in the LLC while their streams pass through it: with 48 threads of
#: Llama-2-7B on snuca-64 a thread re-reads its region every ~25 us, while the streams bring ~4 new lines per 16-way
#: LLC set in that time (measured rates of the interval model; a factor of 4 would need ~19 lines per set).
RESIDENT_OVER_PRIVATE = 2
#: The streamed region spans this many times the whole LLC, so a line is evicted before the sweep returns to it
#: [inferred, same reasoning].
STREAM_OVER_LLC = 2
#: A tile whose queue is empty idles in steps of this many ticks until the next epoch's states arrive (10 ns: the
#: epoch boundary drifts by at most this much, 1e-5 of a 1 ms epoch) [inferred].
IDLE_QUANTUM_TICKS = 10_000


def seconds_to_ticks(seconds: float) -> int:
    return int(round(seconds * TICKS_PER_S))


@dataclass(frozen=True)
class GeneratorState:
    """One ``PyTrafficGen`` state: ``kind`` "linear" (``createLinear``) or "idle" (``createIdle``).

    A linear state sends one ``block_bytes`` request every ``period_ticks`` over ``[min_addr, max_addr)``, with
    ``read_percent`` % reads, for ``duration_ticks``. With ``max_period_ticks`` (0: the same) each gap is drawn
    uniformly from ``[period_ticks, max_period_ticks]`` by gem5 (``LinearGen``), so generators do not stay in step.
    """

    kind: str
    duration_ticks: int
    min_addr: int = 0
    max_addr: int = 0
    block_bytes: int = 64
    period_ticks: int = 0
    read_percent: int = 100
    max_period_ticks: int = 0

    def __post_init__(self):
        # gem5 treats a 0-tick duration as "forever" (BaseTrafficGen::transition), so it is never valid here
        if self.kind not in ("linear", "idle") or self.duration_ticks < 1:
            raise ValueError(f"invalid generator state {self}")
        if self.kind == "linear" and (self.period_ticks < 1 or self.max_addr <= self.min_addr
                                      or 0 < self.max_period_ticks < self.period_ticks):
            raise ValueError(f"invalid linear state {self}")

    @property
    def requests(self) -> int:
        if self.kind != "linear":
            return 0
        return int(2 * self.duration_ticks // (self.period_ticks + (self.max_period_ticks or self.period_ticks)))


@dataclass(frozen=True)
class AddressMap:
    """Each thread owns a resident region and a streamed region; the map is laid out thread after thread."""

    n_threads: int
    line_bytes: int
    resident_bytes: int
    stream_bytes: int

    @classmethod
    def for_system(cls, system: SystemDescription, n_threads: int) -> AddressMap:
        line = system.llc.line_bytes
        llc_bytes = system.n_banks * system.llc.bank_kib * 1024
        llc_share = llc_bytes / max(n_threads, 1)
        resident = min(RESIDENT_OVER_PRIVATE * system.core.private_working_set_bytes, llc_share)
        return cls(n_threads, line, _round_lines(resident, line), _round_lines(STREAM_OVER_LLC * llc_bytes, line))

    @property
    def thread_bytes(self) -> int:
        return self.resident_bytes + self.stream_bytes

    @property
    def total_bytes(self) -> int:
        return self.n_threads * self.thread_bytes

    def memory_bytes(self) -> int:
        """Memory size to configure: the map rounded up to a power of two (gem5 interleaves power-of-two ranges)."""
        return 1 << max(20, math.ceil(math.log2(self.total_bytes)))

    def resident(self, thread: int) -> tuple[int, int]:
        start = thread * self.thread_bytes
        return start, start + self.resident_bytes

    def streamed(self, thread: int) -> tuple[int, int]:
        start = thread * self.thread_bytes + self.resident_bytes
        return start, start + self.stream_bytes


@dataclass
class ThreadCursor:
    """Where each of a thread's two sweeps continues next epoch (byte offsets within its regions)."""

    resident: int = 0
    stream: int = 0


@dataclass(frozen=True)
class TileTraffic:
    """One epoch of one tile: the states of its two generators (resident data and streamed data)."""

    resident: tuple[GeneratorState, ...]
    streamed: tuple[GeneratorState, ...]

    @classmethod
    def idle(cls, epoch_ticks: int) -> TileTraffic:
        return cls((GeneratorState("idle", epoch_ticks),), (GeneratorState("idle", epoch_ticks),))


@dataclass(frozen=True, eq=False)
class StepTraffic:
    """One engine step's memory traffic per thread, at the step's full scale: what gem5 replays of the step.

    Per thread (n_threads): ``tile`` it runs on (-1: not placed), ``llc_accesses`` and ``dram_misses`` it makes,
    ``busy_s`` it issues or stalls, ``read_fraction`` of its requests, and ``refill_bytes``: the part of a
    migration's private-working-set refill that falls in this step. ``Gem5Engine`` builds one per step, and a
    recording (``sampling.py``) keeps them, so a replay sends gem5 exactly what the closed loop sent.
    """

    dt_s: float
    tile: np.ndarray
    llc_accesses: np.ndarray
    dram_misses: np.ndarray
    busy_s: np.ndarray
    read_fraction: np.ndarray
    refill_bytes: np.ndarray

    def tile_traffic(self, amap: AddressMap, cursors: Sequence[ThreadCursor], n_tiles: int,
                     window_s: float) -> list[TileTraffic]:
        """Per tile, the generator states of the thread placed there (idle where none is), for a gem5 window of
        ``window_s``: every count and the busy time scaled by ``window_s / dt_s``, so the window carries the step's
        rates (advances ``cursors``)."""
        share = window_s / self.dt_s
        traffic = [TileTraffic.idle(seconds_to_ticks(window_s)) for _ in range(n_tiles)]
        for thread, tile in enumerate(self.tile):
            if tile < 0:
                continue
            traffic[tile] = thread_states(
                amap, thread, cursors[thread], llc_accesses=self.llc_accesses[thread] * share,
                dram_misses=self.dram_misses[thread] * share, busy_s=self.busy_s[thread] * share, epoch_s=window_s,
                read_fraction=float(self.read_fraction[thread]), refill_bytes=self.refill_bytes[thread] * share)
        return traffic


def measure_step(backend, step: StepTraffic, amap: AddressMap, cursors: Sequence[ThreadCursor], n_tiles: int,
                 window_s: float, lead_in_s: float = 0.0) -> EpochCounters:
    """gem5 (``backend.run_epoch``) on a window of ``window_s`` of ``step`` at its rates; the window's counters.

    With ``lead_in_s`` > 0, gem5 first simulates that long at the same rates (without the step's migration refill,
    which the window replays) and the lead-in's counters are discarded: a warmed window. The lead-in is not epoch
    time: the step's requests and the window are the same with or without it; it costs ``lead_in_s`` more of gem5
    time. A sampled window of a saturated memory system sees queues that have had only the sampled time to fill
    (docs/gem5.md, *Time sampling, validated*); the lead-in lets them reach the load's level before measuring. The
    closed loop (``Gem5Engine``) and the open-loop replays (``sampling.replay``) both measure through this function,
    with a lead-in before each control epoch's first sub-step.
    """
    if lead_in_s > 0:
        lead_in = dataclasses.replace(step, refill_bytes=np.zeros_like(step.refill_bytes))
        backend.run_epoch(lead_in.tile_traffic(amap, cursors, n_tiles, lead_in_s), seconds_to_ticks(lead_in_s))
    return backend.run_epoch(step.tile_traffic(amap, cursors, n_tiles, window_s), seconds_to_ticks(window_s))


def add_lead_in_argument(parser) -> None:
    """``--lead-in-us``, the same option for ``run_ailfm.py`` and ``replay_traffic.py`` (``measure_step``)."""
    parser.add_argument("--lead-in-us", type=options.number(0), default=0.0,
                        help="before each control epoch's first window, simulate this long at that sub-step's rates "
                             "and discard its counters, so a sampled window starts from queues at the load's level "
                             "(a warmed window; not epoch time: gem5 simulates window + lead-in per epoch; default 0)")


def thread_states(amap: AddressMap, thread: int, cursor: ThreadCursor, *, llc_accesses: float,
                  dram_misses: float, busy_s: float, epoch_s: float, read_fraction: float,
                  refill_bytes: float = 0.0) -> TileTraffic:
    """One epoch of a thread's memory traffic as the states of its tile's two generators (advances ``cursor``).

    The resident generator re-reads the thread's LLC-resident data (``llc_accesses - dram_misses`` requests, LLC
    hits once warm); the streamed generator sweeps its streamed region (``dram_misses`` requests, DRAM misses).
    Both spread their requests evenly over ``busy_s`` and idle for the rest of the epoch, so both run concurrently
    and gem5 measures each one's latency on its own.

    Parameters
    ----------
    llc_accesses, dram_misses : what the thread does in the epoch (DRAM misses are LLC accesses that miss).
    busy_s : time the thread issues or stalls (its requests are spread over it); it idles for the rest of the epoch.
    read_fraction : share of reads in [0, 1].
    refill_bytes : private working set to replay first on the resident generator (after a migration; 0 otherwise).
    """
    epoch_ticks = seconds_to_ticks(epoch_s)
    busy_ticks = min(seconds_to_ticks(max(busy_s, 0.0)), epoch_ticks)
    refill = min(int(round(refill_bytes / amap.line_bytes)), amap.resident_bytes // amap.line_bytes)
    misses = int(round(min(max(dram_misses, 0.0), llc_accesses)))
    hits = int(round(max(llc_accesses, 0.0))) - misses
    read_percent = int(round(100 * min(max(read_fraction, 0.0), 1.0)))
    resident: list[GeneratorState] = []
    streamed: list[GeneratorState] = []
    # every state lasts its requests' periods plus one tick (``_sweep``); keep those ticks inside the busy time,
    # or a thread busy for the whole epoch overruns it (up to two states per sweep where the region wraps)
    if busy_ticks > 0 and hits + refill > 0:
        period = max(1, (busy_ticks - 4) // (hits + refill))
        if refill:  # re-read the most recently used private data: the lines just before the resident cursor
            start = (cursor.resident - refill * amap.line_bytes) % amap.resident_bytes
            resident += _sweep(amap.resident(thread), start, refill, amap.line_bytes, period, 100)
        resident += _sweep(amap.resident(thread), cursor.resident, hits, amap.line_bytes, period, read_percent)
        cursor.resident = (cursor.resident + hits * amap.line_bytes) % amap.resident_bytes
    if busy_ticks > 0 and misses > 0:
        period = max(1, (busy_ticks - 2) // misses)
        streamed += _sweep(amap.streamed(thread), cursor.stream, misses, amap.line_bytes, period, read_percent)
        cursor.stream = (cursor.stream + misses * amap.line_bytes) % amap.stream_bytes
    return TileTraffic(_pad(resident, epoch_ticks), _pad(streamed, epoch_ticks))


def _pad(states: list[GeneratorState], epoch_ticks: int) -> tuple[GeneratorState, ...]:
    """Idle after the last request so the states fill the epoch exactly."""
    used = sum(s.duration_ticks for s in states)
    if used < epoch_ticks:
        states.append(GeneratorState("idle", epoch_ticks - used))
    return tuple(states)


def _sweep(region: tuple[int, int], offset: int, lines: int, line_bytes: int, period: int,
           read_percent: int) -> list[GeneratorState]:
    """Linear states over ``lines`` consecutive lines from ``offset`` in ``region``, split where it wraps.

    A state of ``n`` requests lasts ``n`` periods plus one tick: the generator sends its first request one period
    after entering a state and changes state before sending at the transition tick (``BaseTrafficGen::update``).
    """
    start, end = region
    states = []
    while lines > 0:
        room = (end - start - offset) // line_bytes
        n = min(lines, room)
        lo = start + offset
        states.append(GeneratorState("linear", n * period + 1, lo, lo + n * line_bytes, line_bytes, period,
                                     read_percent))
        lines -= n
        offset = 0
    return states


def _round_lines(n_bytes: float, line_bytes: int) -> int:
    return max(line_bytes, int(n_bytes // line_bytes) * line_bytes)


class TileQueues:
    """Queues of generator states, two per tile, drained lazily by the tile's generators (see ``stream``).

    The epoch loop ``push``es an epoch's states for every tile before advancing gem5; each tile's ``PyTrafficGen``
    pulls the next state when the current one's duration expires. An empty queue yields short idle states, so a
    generator never runs dry between epochs.

    ``PyTrafficGen`` reads one state ahead (``pygen.cc`` advances its Python iterator as soon as it takes a state),
    so it asks for the next epoch's first state while the current epoch's last state starts, before the loop can
    push it, and gets an idle quantum instead. To keep every generator on the epoch grid, each queue counts the idle
    time it handed out this way (its *debt*) and takes it back from the trailing idle state of the next push; a
    generator thus starts each epoch at most a couple of quanta late, and never drifts further.
    """

    def __init__(self, n_tiles: int):
        self._queues = [deque() for _ in range(2 * n_tiles)]  # tile t: 2t resident, 2t + 1 streamed
        self._debt_ticks = [0] * (2 * n_tiles)

    def push(self, traffic: Sequence[TileTraffic]) -> None:
        if len(traffic) != len(self._queues) // 2:
            raise ValueError(f"expected traffic for {len(self._queues) // 2} tiles, got {len(traffic)}")
        for tile, t in enumerate(traffic):
            self._extend(2 * tile, t.resident)
            self._extend(2 * tile + 1, t.streamed)

    def _extend(self, index: int, states: Sequence[GeneratorState]) -> None:
        states = list(states)
        debt = self._debt_ticks[index]
        if debt and states and states[-1].kind == "idle":
            paid = min(debt, states[-1].duration_ticks)
            self._debt_ticks[index] -= paid
            if paid == states[-1].duration_ticks:
                states.pop()
            else:
                states[-1] = GeneratorState("idle", states[-1].duration_ticks - paid)
        self._queues[index].extend(states)

    def pending(self, tile: int, streamed: bool = False) -> int:
        return len(self._queues[2 * tile + int(streamed)])

    def stream(self, tile: int, streamed: bool = False) -> Iterator[GeneratorState]:
        """The endless state sequence of one of a tile's generators (what its ``start()`` iterates, converted)."""
        index = 2 * tile + int(streamed)
        queue = self._queues[index]
        while True:
            if queue:
                yield queue.popleft()
            else:
                self._debt_ticks[index] += IDLE_QUANTUM_TICKS
                yield GeneratorState("idle", IDLE_QUANTUM_TICKS)


# ------------------------------------------------------------------------------------------------- kernel rows


def read_fractions(model, kernel_type_names: Sequence[str], prompt_tokens: int = 128) -> np.ndarray:
    """Share of reads in each kernel type's memory traffic, from the project's own kernel decomposition.

    A prefill of ``prompt_tokens`` and a decode step after it are decomposed (``ailfm.traces.pass_kernels``) and
    bytes read / bytes touched summed per kernel type. Encoders have no decode step. A kernel type the model never
    runs gets NaN. The mix is taken at one reference context (128 prompt tokens [inferred]) for the whole run, and a
    thread's mix within an epoch is that of the kernel it ends the epoch in. That is an approximation: for
    Llama-2-7B at 16 / 128 / 2048 tokens the read share of GEMV is 1.00 at all three, of GEMM 0.99 / 0.95 / 0.67 and
    of attention scores 0.94 / 0.67 / 0.11 (measured with this function). A per-kernel-row mix needs the bytes each
    trace row writes, which the trace format does not carry yet.
    """
    from ailfm.traces.decompose import pass_kernels

    tables = [pass_kernels(model, prompt_tokens, 0)]
    if not model.is_encoder:
        tables.append(pass_kernels(model, 1, prompt_tokens))
    read: dict[str, float] = {}
    touched: dict[str, float] = {}
    for table in tables:
        for kind, r, t in zip(table.kinds, table.bytes_read.sum(axis=1), table.bytes_touched.sum(axis=1),
                              strict=True):
            read[kind.value] = read.get(kind.value, 0.0) + float(r)
            touched[kind.value] = touched.get(kind.value, 0.0) + float(t)
    return np.array([read[name] / touched[name] if touched.get(name, 0.0) > 0 else np.nan
                     for name in kernel_type_names])


def kernel_traffic(amap: AddressMap, thread: int, cursor: ThreadCursor, *, instructions, cpi, llc_accesses,
                   dram_misses, read_fraction, f_GHz: float, llc_latency_ns: float, dram_latency_ns: float, mlp: float,
                   active=None, dram: bool = True) -> list[TileTraffic]:
    """A thread's kernel sequence (per-thread counts, one entry per kernel) at a fixed frequency, one
    ``TileTraffic`` per kernel.

    Each kernel lasts ``I * CPI / f + (A * L_llc + D * L_dram) / MLP`` (the built-in interval model, for the busiest
    thread, which the others wait for at the barrier), so a higher ``f_GHz`` shortens the compute part and raises the
    request rate, while memory-bound kernels barely change. A thread that is not ``active`` in a kernel idles through
    it. Replays a thread's trace on its own, without the co-simulation loop (the calibration's loaded run).
    Without ``dram`` every LLC access is sent as a hit on the resident region (same kernel durations, so the same
    LLC access rates, but no DRAM traffic): the LLC-only load of the calibration.
    """
    duration_s = kernel_duration_s(instructions, cpi, llc_accesses, dram_misses, f_GHz, llc_latency_ns,
                                   dram_latency_ns, mlp)
    active = np.ones(len(duration_s), dtype=bool) if active is None else np.asarray(active, dtype=bool)
    read_fraction = np.broadcast_to(np.asarray(read_fraction, dtype=float), duration_s.shape)
    return [thread_states(amap, thread, cursor, llc_accesses=float(llc_accesses[i]) if active[i] else 0.0,
                          dram_misses=float(dram_misses[i]) if active[i] and dram else 0.0,
                          busy_s=float(duration_s[i]) if active[i] else 0.0, epoch_s=float(duration_s[i]),
                          read_fraction=float(read_fraction[i]))
            for i in range(len(duration_s))]


def kernel_duration_s(instructions, cpi, llc_accesses, dram_misses, f_GHz: float, llc_latency_ns: float,
                      dram_latency_ns: float, mlp: float) -> np.ndarray:
    """Per-thread kernel time of the interval model: compute at ``f_GHz`` plus overlapped memory stalls."""
    if f_GHz <= 0:
        raise ValueError("f_GHz must be positive")
    compute = np.asarray(instructions) * np.asarray(cpi) / (f_GHz * 1e9)
    stall = (np.asarray(llc_accesses) * llc_latency_ns + np.asarray(dram_misses) * dram_latency_ns) * 1e-9 / mlp
    return compute + stall


# ------------------------------------------------------------------------------------------------- statistics

_BEGIN = "---------- Begin Simulation Statistics ----------"
_STAT_LINE = re.compile(r"^(\S+)\s+([-+0-9.eE]+|nan|inf|-inf)(\s|$)")


def parse_stats_block(text: str) -> dict[str, float]:
    """Scalar values of one gem5 ``stats.txt`` dump (``name value # description``); vectors as ``name::i``."""
    values = {}
    for line in text.splitlines():
        match = _STAT_LINE.match(line)
        if match:
            values[match.group(1)] = float(match.group(2))
    return values


def stats_text_path(outdir: str | Path, stats_file: str) -> Path:
    """Where gem5 writes its text statistics for ``--stats-file`` (a path or ``text://path?...``), in ``outdir``."""
    url = urlsplit(stats_file)
    if url.scheme not in ("", "text"):
        raise ToolError(f"the epoch loop reads text statistics; gem5 was given --stats-file {stats_file}")
    name = url.netloc + url.path if url.scheme else stats_file
    return Path(outdir) / name  # gem5 creates relative names in its output directory; an absolute one stays


def last_stats_block(text: str) -> str:
    """The newest dump of a ``stats.txt`` that gem5 appends to at every ``m5.stats.dump()``."""
    start = text.rfind(_BEGIN)
    if start < 0:
        raise ToolError("gem5 stats.txt holds no statistics dump")
    return text[start:]


def stats_blocks(text: str) -> list[str]:
    """Every dump in a stretch of ``stats.txt``, oldest first."""
    return [_BEGIN + part for part in text.split(_BEGIN)[1:]]


@dataclass(frozen=True)
class StatPaths:
    """Names under which the epoch's statistics appear in gem5's text dump (``backend.stat_paths``)."""

    resident_generators: tuple[str, ...]  # per tile: the PyTrafficGen of resident data
    streamed_generators: tuple[str, ...]  # per tile: the PyTrafficGen of streamed data
    l2_caches: tuple[str, ...]  # per L2 controller: its RubyCache (``...l2_controllersN.L2cache``)
    routers: tuple[str, ...]  # per router: a GarnetRouter
    network: str  # the GarnetNetwork
    banks_per_l2: int = 1  # the system's banks each L2 controller holds (``mesh3d.ruby_llc``)


@dataclass(frozen=True, eq=False)
class EpochCounters:
    """What gem5 measured in one epoch (since the previous stats reset); requests and summed latencies per tile."""

    hit_requests: np.ndarray  # resident generator
    hit_latency_ticks: np.ndarray
    miss_requests: np.ndarray  # streamed generator
    miss_latency_ticks: np.ndarray
    bank_accesses: np.ndarray
    bank_misses: np.ndarray
    router_flits: np.ndarray
    network_latency_ticks: float  # Garnet's mean packet latency (network + queueing)

    @classmethod
    def total(cls, windows: Sequence[EpochCounters]) -> EpochCounters:
        """Several windows as one: counts and summed latencies add up, so the latencies of the total are the
        request-weighted means over the windows; Garnet's mean packet latency is weighted by the windows' requests."""
        if not windows:
            raise ValueError("no windows to add up")
        requests = np.array([w.hit_requests.sum() + w.miss_requests.sum() for w in windows])
        packet_ticks = [w.network_latency_ticks for w in windows]
        return cls(*(sum(getattr(w, name) for w in windows) for name in (
            "hit_requests", "hit_latency_ticks", "miss_requests", "miss_latency_ticks", "bank_accesses",
            "bank_misses", "router_flits")),
                   float(np.average(packet_ticks, weights=requests)) if requests.sum() > 0 else 0.0)

    def llc_latency_ns(self, fallback_ns: np.ndarray) -> np.ndarray:
        """Mean latency of each tile's resident (LLC) requests; ``fallback_ns`` where it sent none."""
        return _mean_ns(self.hit_latency_ticks, self.hit_requests, fallback_ns)

    def miss_latency_ns(self, fallback_ns: np.ndarray) -> np.ndarray:
        """Mean latency of each tile's streamed (DRAM) requests; ``fallback_ns`` where it sent none."""
        return _mean_ns(self.miss_latency_ticks, self.miss_requests, fallback_ns)

    def dram_extra_ns(self, fallback_ns: float) -> float:
        """Chip-wide mean of what a DRAM miss adds to an LLC access (miss minus hit latency of the same tile)."""
        both = (self.hit_requests > 0) & (self.miss_requests > 0)
        if not both.any():
            return fallback_ns
        extra = self.miss_latency_ns(np.zeros(len(both))) - self.llc_latency_ns(np.zeros(len(both)))
        return float(max(np.average(extra[both], weights=self.miss_requests[both]), 0.0))


def _mean_ns(latency_ticks: np.ndarray, requests: np.ndarray, fallback_ns) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = latency_ticks / requests * (1e9 / TICKS_PER_S)
    return np.where(requests > 0, mean, fallback_ns)


def counters_from_stats(stats: dict[str, float], paths: StatPaths) -> EpochCounters:
    """Collect an epoch's counters from a parsed stats dump; a missing statistic is an error naming it."""

    def get(name: str, default: float | None = None) -> float:
        if name in stats:
            return stats[name]
        if default is not None:
            return default
        raise ToolError(f"gem5 statistic {name!r} is missing from the dump")

    def generator(paths_: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        requests = np.array([get(f"{g}.totalReads") + get(f"{g}.totalWrites") for g in paths_])
        latency = np.array([get(f"{g}.totalReadLatency") + get(f"{g}.totalWriteLatency") for g in paths_])
        return requests, latency

    # the generators' totals always print; gem5 omits nozero cache stats, so those default to 0
    hit_n, hit_lat = generator(paths.resident_generators)
    miss_n, miss_lat = generator(paths.streamed_generators)
    # per bank of the system description: a controller holding several banks splits its counts evenly
    split = paths.banks_per_l2
    hits = np.repeat([get(f"{c}.m_demand_hits", 0.0) / split for c in paths.l2_caches], split)
    misses = np.repeat([get(f"{c}.m_demand_misses", 0.0) / split for c in paths.l2_caches], split)
    flits = np.array([get(f"{r}.crossbar_activity", 0.0) for r in paths.routers])
    packet_latency = get(f"{paths.network}.average_packet_latency", 0.0)
    return EpochCounters(hit_n, hit_lat, miss_n, miss_lat, hits + misses, misses, flits,
                         packet_latency if np.isfinite(packet_latency) else 0.0)
