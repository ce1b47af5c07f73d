"""Where the time of a loaded LLC access goes in gem5: read the loaded epochs of a ``calibrate_nuca.py`` run.

``calibrate_nuca.py`` reports each tile's mean resident-generator latency under load. A traffic generator stamps a
request when it creates it, so that latency includes the time the request waited for the tile's sequencer to accept
it (``retryTicks``: the sequencer holds at most ``max_outstanding_requests``, 16, per tile). This script splits it,
per layer, into that wait and the rest, and prints what the memory system did meanwhile::

    python bench/gem5_load_breakdown.py runs/load/m5out-llc-4/stats.txt --epochs 5

(the last ``--epochs`` dumps are the measured loaded epochs). Printed: the sequencers' mean outstanding requests,
per layer the resident (LLC) latency, its back-pressure wait and the remainder, the streamed (DRAM) latency, the
memory channels' bandwidth utilisation, Garnet's per-vnet wait in the network interfaces (``vqueue``), and the mean
message delay at the L2 controllers grouped by the memory channel their lines map to.
"""

from __future__ import annotations

import argparse
import json
import re

import numpy as np

from ailfm.gem5_configs.epoch import TICKS_PER_S, parse_stats_block
from ailfm.plugins.system.description import load_system

BEGIN = b"---------- Begin Simulation Statistics ----------"
RUBY = "board.cache_hierarchy.ruby_system"


def last_blocks(path: str, count: int) -> list[str]:
    """The last ``count`` statistics dumps of a (large) stats.txt, read from its end."""
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        chunk = 8 << 20
        while True:
            start = max(size - chunk, 0)
            handle.seek(start)
            data = handle.read()
            if data.count(BEGIN) > count or start == 0:
                break
            chunk *= 2
    parts = data.split(BEGIN)[1:]
    return [part.decode() for part in parts[-count:]]


def vector(text: str, name: str) -> np.ndarray:
    """A vector statistic printed as ``name | a | b | ...`` (Garnet's per-vnet values)."""
    match = re.search(rf"^{re.escape(name)}\s+\|(.*?)\(", text, re.MULTILINE)
    if not match:
        return np.array([])
    return np.array([float(v.split()[0]) for v in match.group(1).split("|") if v.strip()])


def breakdown(blocks: list[str], n_tiles: int, channels: int, channel_GBps: float) -> dict:
    stats = [parse_stats_block(block) for block in blocks]

    def total(name: str) -> float:
        return float(sum(s.get(name, 0.0) for s in stats))

    def per_tile(kind: str, stat: str) -> np.ndarray:
        return np.array([total(f"board.processor.cores{t}.{kind}.{stat}") for t in range(n_tiles)])

    ns = 1e9 / TICKS_PER_S
    res_n = per_tile("resident", "totalReads") + per_tile("resident", "totalWrites")
    res_lat = per_tile("resident", "totalReadLatency") + per_tile("resident", "totalWriteLatency")
    res_retry = per_tile("resident", "retryTicks")
    res_packets = per_tile("resident", "numPackets")
    str_n = per_tile("streamed", "totalReads") + per_tile("streamed", "totalWrites")
    str_lat = per_tile("streamed", "totalReadLatency") + per_tile("streamed", "totalWriteLatency")
    seconds = total("simSeconds")
    layers = np.arange(n_tiles) // (n_tiles // 4) if n_tiles % 4 == 0 else np.zeros(n_tiles, int)
    out: dict = {"epochs": len(blocks), "simulated_us": seconds * 1e6,
                 "requests_per_epoch": [int(sum(s.get(f"board.processor.cores{t}.{k}.numPackets", 0.0)
                                                for t in range(n_tiles) for k in ("resident", "streamed")))
                                        for s in stats],
                 "sequencer_outstanding_mean": float(np.mean([s.get(f"{RUBY}.m_outstandReqHistSeqr::mean", np.nan)
                                                              for s in stats]))}
    rows = []
    for layer in np.unique(layers):
        tiles = (layers == layer) & (res_n > 0)
        if not tiles.any():
            continue
        latency = res_lat[tiles].sum() / res_n[tiles].sum() * ns
        wait = res_retry[tiles].sum() / max(res_packets[tiles].sum(), 1) * ns
        streamed = str_lat[tiles].sum() / str_n[tiles].sum() * ns if str_n[tiles].sum() else float("nan")
        rows.append({"layer": int(layer), "resident_ns": latency, "sequencer_wait_ns": wait,
                     "after_accept_ns": latency - wait, "streamed_ns": streamed,
                     "resident_per_s_per_tile": res_n[tiles].sum() / seconds / tiles.sum(),
                     "streamed_per_s_per_tile": str_n[tiles].sum() / seconds / tiles.sum()})
    out["layers"] = rows
    out["memory_utilisation"] = [total(f"board.memory.channels{c}.bwTotal::total") / len(blocks)
                                 / (channel_GBps * 1e9) for c in range(channels)]
    received = [vector(b, f"{RUBY}.network.packets_received") for b in blocks]
    waited = sum(vector(b, f"{RUBY}.network.average_packet_vqueue_latency") * r
                 for b, r in zip(blocks, received, strict=True))
    out["ni_wait_ns_per_vnet"] = list(waited / sum(received) * ns)
    delays = {}
    for k in range(n_tiles):
        name = f"{RUBY}.l2_controllers{k}.delayHistogram"
        samples = total(f"{name}::samples")
        mean = sum(s.get(f"{name}::mean", 0.0) * s.get(f"{name}::samples", 0.0) for s in stats) / max(samples, 1)
        delays.setdefault(k % channels, []).append(mean)
    out["l2_message_delay_cycles_by_channel"] = {c: float(np.mean(v)) for c, v in delays.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stats", help="stats.txt of a calibrate_nuca.py run")
    parser.add_argument("--epochs", type=int, default=5, help="loaded epochs at its end (--load-epochs)")
    parser.add_argument("--system", default="snuca-64")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args()
    system = load_system(args.system)
    result = breakdown(last_blocks(args.stats, args.epochs), system.n_cores, system.memory.controllers,
                       system.memory.bandwidth_GBps_per_controller)
    text = json.dumps(result, indent=2, default=float)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
