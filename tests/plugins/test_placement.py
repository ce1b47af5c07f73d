"""Named initial placements: every governor can start from the same cores (``--placement``), in both engines."""

from __future__ import annotations

import numpy as np
import pytest

from ailfm.cli import build_parser
from ailfm.errors import ConfigError
from ailfm.gem5_configs.recipe import parse_args, run_config
from ailfm.plugins.epoch.cosim import CoSimulation
from ailfm.plugins.governors.placement import PLACEMENTS, check_placement
from ailfm.plugins.governors.registry import make_governor
from ailfm.plugins.run.config import RunConfig


def _start(system, thermal, workload, governor: str, placement: str) -> CoSimulation:
    sim = CoSimulation.for_workload(system, workload, thermal, make_governor(governor), placement=placement)
    sim.start(0.002)
    return sim


@pytest.mark.parametrize("name", sorted(PLACEMENTS))
def test_a_named_placement_overrides_the_governors_own(system, fast_thermal, tiny_trace_workload, name):
    sims = [_start(system, fast_thermal, tiny_trace_workload, governor, name) for governor in ("performance", "pcmig")]
    placements = [sim.start(0.002).thread_core for sim in sims]
    expected = PLACEMENTS[name](sims[0].context)
    assert len(np.unique(expected)) == tiny_trace_workload.n_threads  # distinct cores, one per thread
    for placement in placements:
        np.testing.assert_array_equal(placement, expected)


def test_the_named_placements_differ_on_the_default_system(system, fast_thermal, tiny_trace_workload):
    """Otherwise a placement-swapped comparison would measure nothing: the three choose different core sets."""
    context = _start(system, fast_thermal, tiny_trace_workload, "performance", "own").context
    core_sets = {name: frozenset(place(context).tolist()) for name, place in PLACEMENTS.items()}
    assert len(set(core_sets.values())) == len(PLACEMENTS)
    # first-unused fills layer 0 (farthest from the sink) first; coolest puts fewer threads there
    on_layer_0 = {name: sum(core < system.geometry.tiles_per_layer for core in cores)
                  for name, cores in core_sets.items()}
    assert on_layer_0["first-unused"] == system.geometry.tiles_per_layer > on_layer_0["coolest"]


@pytest.mark.parametrize(("governor", "own"), [("performance", "first-unused"), ("ondemand", "first-unused"),
                                               ("tsp", "first-unused"), ("pcmig", "lowest-latency"),
                                               ("ail-edp", "coolest"), ("shielded-performance", "coolest")])
def test_own_placements_are_the_documented_ones(system, fast_thermal, tiny_trace_workload, governor, own):
    own_start = _start(system, fast_thermal, tiny_trace_workload, governor, "own")
    named = PLACEMENTS[own](own_start.context)
    np.testing.assert_array_equal(own_start.start(0.002).thread_core, named)


def test_starting_from_ones_own_placement_by_name_changes_nothing(system, fast_thermal, tiny_trace_workload):
    runs = [CoSimulation.for_workload(system, tiny_trace_workload, fast_thermal, make_governor("pcmig"),
                                      placement=placement).run(0.03) for placement in ("own", "lowest-latency")]
    for key, values in runs[0].per_core.items():
        np.testing.assert_array_equal(values, runs[1].per_core[key])


def test_a_different_start_changes_the_run(system, fast_thermal, tiny_trace_workload):
    runs = [CoSimulation.for_workload(system, tiny_trace_workload, fast_thermal, make_governor("performance"),
                                      placement=placement).run(0.03) for placement in ("own", "coolest")]
    assert not np.array_equal(runs[0].per_core["temperature_K"], runs[1].per_core["temperature_K"])


def test_both_engines_read_the_placement_option():
    args = build_parser().parse_args(["compare", "--placement", "coolest", "--out", "o"])
    assert RunConfig.from_args(args, governor="ondemand", seed=0).placement == "coolest"
    gem5_args = parse_args(["--epochs", "2", "--out", "o", "--placement", "coolest"])
    assert run_config(gem5_args, 1e-3).placement == "coolest"
    assert RunConfig().placement == "own"


def test_an_unknown_placement_is_one_line_naming_the_field():
    with pytest.raises(ConfigError, match="placement.*'colest'.*did you mean 'coolest'"):
        RunConfig(placement="colest")
    with pytest.raises(ConfigError, match="placement"):
        check_placement("everywhere")
