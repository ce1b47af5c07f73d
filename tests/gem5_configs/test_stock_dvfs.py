"""The stock gem5 DVFS baseline's domains and static levels (without gem5)."""

from __future__ import annotations

import numpy as np
import pytest

from ailfm.errors import ConfigError
from ailfm.gem5_configs.stock_dvfs import StaticDvfs, clock_domain_specs, static_levels_GHz
from ailfm.plugins.system.description import load_system


@pytest.fixture(scope="module")
def system():
    return load_system("snuca-64")


def test_static_levels_parse(system):
    assert np.all(static_levels_GHz(system, "max") == 4.0) and np.all(static_levels_GHz(system, "min") == 1.0)
    np.testing.assert_allclose(static_levels_GHz(system, "2.37"), 2.3)  # snapped down to the grid
    per_tile = ",".join(["1.5", "3.0"] * 32)
    np.testing.assert_allclose(static_levels_GHz(system, per_tile)[:2], [1.5, 3.0])
    for bad in ("fast", "9.0", "1,2,3"):
        with pytest.raises(ConfigError, match="static-f-GHz"):
            static_levels_GHz(system, bad)


def test_one_domain_per_tile_fastest_level_first(system):
    f = static_levels_GHz(system, ",".join(["2.0"] * 63 + ["3.5"]))
    specs = clock_domain_specs(system, f)
    assert [s.domain_id for s in specs] == list(range(64))
    first = specs[0]
    assert first.clocks_GHz[0] == 4.0 and first.clocks_GHz[-1] == 1.0 and len(first.clocks_GHz) == 31
    np.testing.assert_allclose(first.voltages_V[0], 1.4)  # V = 0.6 + 0.2 f
    assert first.f_GHz == 2.0 and first.init_perf_level == 20 and specs[-1].f_GHz == 3.5
    with pytest.raises(ConfigError, match="tile 0"):
        clock_domain_specs(system, np.full(64, 2.05))


def test_static_governor_never_moves(system):
    governor = StaticDvfs(np.full(64, 2.0))
    first, second = governor.decide(None), governor.decide(None)
    assert np.all(first.f_GHz == 2.0) and first.thread_core is None and np.array_equal(first.f_GHz, second.f_GHz)
