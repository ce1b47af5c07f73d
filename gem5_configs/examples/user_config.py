"""A gem5 config of your own that uses the project's 3D-mesh topology and S-NUCA cache hierarchy, and nothing else
of ailfm: gem5's stdlib ``TestBoard``, eight stdlib linear traffic generators, stdlib dual-channel DDR4 and the
stdlib ``Simulator``, with the hierarchy on a 2 x 2 x 2 Garnet mesh (8 tiles, 2 LLC banks each, one directory per
DDR4 channel on the bottom layer).

    gem5.opt -d m5out gem5_configs/examples/user_config.py

Needs a gem5 v24 build with Ruby ``MESI_Two_Level`` (``NULL_MESI_Two_Level``, or the devcontainer's ``ALL``), and
ailfm importable by gem5's Python: a regular install's site-packages on ``PYTHONPATH`` (the Docker image sets it),
or, for an editable install, its site-packages in ``AILFM_SITE_PACKAGES`` (added below with ``site.addsitedir``,
which runs the install's ``.pth`` file); docs/gem5.md, "Making ailfm importable inside gem5".
"""

import os
import site

if os.environ.get("AILFM_SITE_PACKAGES"):
    site.addsitedir(os.environ["AILFM_SITE_PACKAGES"])

from gem5.components.boards.test_board import TestBoard  # noqa: E402
from gem5.components.memory.multi_channel import DualChannelDDR4_2400  # noqa: E402
from gem5.components.processors.linear_generator import LinearGenerator  # noqa: E402
from gem5.simulate.simulator import Simulator  # noqa: E402

from ailfm.gem5_configs.components.snuca_hierarchy import SnucaCacheHierarchy, SnucaCacheParams  # noqa: E402
from ailfm.gem5_configs.topologies.mesh3d import mesh3d  # noqa: E402

mesh = mesh3d(2, 2, 2, directory_tiles=[(0, 0, 0), (1, 1, 0)], banks_per_tile=2, router_latency_cycles=1,
              link_latency_cycles=1, tsv_latency_cycles=1, link_width_bits=128, frequency_GHz=2.0)
cache = SnucaCacheParams(tiles=8, l1i_bytes=16 * 1024, l1d_bytes=32 * 1024, bank_bytes=64 * 1024, banks_per_tile=2,
                         bank_latency_cycles=10)
memory = DualChannelDDR4_2400(size="256MiB")
# each generator streams through its own 1 MiB (more than the whole 1 MiB LLC) for 20 us, 3 reads in 4
generators = LinearGenerator(num_cores=8, duration="20us", rate="2GB/s", max_addr=8 * 2**20, rd_perc=75)
board = TestBoard(clk_freq="2GHz", generator=generators, memory=memory,
                  cache_hierarchy=SnucaCacheHierarchy(cache, mesh))

simulator = Simulator(board=board)
simulator.run()
print(f"user_config: {simulator.get_current_tick()} ticks simulated, exit cause: "
      f"{simulator.get_last_exit_event_cause()}")
