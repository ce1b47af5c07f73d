"""Check that Garnet routed packets along the 3D mesh's XYZ routes, from a gem5 ``RubyNetwork`` debug trace.

Produce the trace with a short traced start of any gem5 run on the system, for example::

    gem5.opt -d /tmp/dbg --debug-flags=RubyNetwork --debug-end=1500000 --debug-file=net.txt \\
        gem5_configs/calibrate_nuca.py --system snuca-64 --epoch-us 5 --out /tmp/dbg-cal   # stop it after a few s

then ``python bench/gem5_route_check.py /tmp/dbg/net.txt --system snuca-64``. Every head flit that a router consumes
is logged (``InputUnit.cc``); a packet's routers in time order are its route, compared with ``Mesh3D.route`` (the
emulation of Garnet's weight-based table routing the tests use).
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict

import numpy as np

from ailfm.gem5_configs.system_params import cache_params_of, mesh_of
from ailfm.plugins.system.description import load_system

HEAD_FLIT = re.compile(r"Router\[(\d+)\] Consuming:\S+ Width: \d+ Flit:\[flit:: PacketId=(\d+) Id=0 "
                       r".*?Src Router=(\d+) .*?Dest Router=(\d+) ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trace", help="gem5 debug file written with --debug-flags=RubyNetwork")
    parser.add_argument("--system", default="snuca-64")
    args = parser.parse_args()
    system = load_system(args.system)
    mesh = mesh_of(system)
    if cache_params_of(system).for_ruby()[1] > 1:  # Ruby's merged banks: one L2 controller per tile
        mesh = mesh.with_banks_per_tile(1)
    routers, ends = defaultdict(list), {}
    with open(args.trace, encoding="utf-8") as trace:
        for line in trace:
            match = HEAD_FLIT.search(line)
            if match:
                router, packet, src, dst = map(int, match.groups())
                routers[packet].append(router)
                ends[packet] = (src, dst)
    same = different = 0
    pairs, mixes = set(), set()
    for packet, seen in routers.items():
        src, dst = ends[packet]
        route = [seen[0]] + [b for a, b in zip(seen, seen[1:], strict=False) if a != b]
        if route[-1] != dst:  # still in flight when the trace ended
            continue
        if route == mesh.route(src, dst):
            same += 1
        else:
            different += 1
            print(f"packet {packet}: {src} -> {dst} went {route}, XYZ is {mesh.route(src, dst)}")
        pairs.add((src, dst))
        mixes.add(tuple(int(v) for v in np.abs(mesh.coordinates[src] - mesh.coordinates[dst]) > 0))
    print(f"{same + different} complete routes of {len(routers)} packets, {len(pairs)} source-destination pairs, "
          f"{len(mixes)} of 8 dimension mixes: {same} XYZ, {different} different")


if __name__ == "__main__":
    main()
