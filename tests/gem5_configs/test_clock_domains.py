"""The tiles' gem5 clock domains and the governor's frequencies as their performance levels (without gem5)."""

from __future__ import annotations

import numpy as np

from ailfm.gem5_configs.clock_domains import DVFS_MECHANISMS, DVFS_MODES, perf_levels, tile_domain_specs
from ailfm.plugins.system.description import load_system


def test_one_domain_per_tile_over_the_whole_table_fastest_first():
    system = load_system("snuca-64")
    specs = tile_domain_specs(system)
    assert [s.domain_id for s in specs] == list(range(64))
    first = specs[0]
    assert first.clocks_GHz[0] == 4.0 and first.clocks_GHz[-1] == 1.0 and len(first.clocks_GHz) == 31
    np.testing.assert_allclose(first.voltages_V[0], 1.4)  # V = 0.6 + 0.2 f
    np.testing.assert_allclose(first.voltages_V[-1], 0.8)
    assert all(s.clocks_GHz == first.clocks_GHz and s.voltages_V == first.voltages_V for s in specs)


def test_frequencies_map_to_the_level_of_the_same_clock():
    system = load_system("snuca-64")
    clocks = tile_domain_specs(system)[0].clocks_GHz
    f = np.array([4.0, 1.0, 2.0, 2.37, 0.0, 3.5])  # 2.37 runs at 2.3; a gated tile (0) holds the lowest level
    levels = perf_levels(system, f)
    np.testing.assert_array_equal(levels, [0, 30, 20, 17, 30, 5])
    np.testing.assert_allclose([clocks[level] for level in levels], [4.0, 1.0, 2.0, 2.3, 1.0, 3.5])


def test_every_mode_says_what_it_is():
    assert DVFS_MODES == ("rate", "domains")
    assert "f_max" in DVFS_MECHANISMS["rate"] and "DVFSHandler" in DVFS_MECHANISMS["domains"]
