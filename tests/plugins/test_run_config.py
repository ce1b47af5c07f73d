"""One run description: ``ailfm simulate``, the gem5 script and the imitation roll-outs describe a run with the same
``RunConfig``, parsed from the same options and validated once."""

from __future__ import annotations

import dataclasses

import pytest

from ailfm.cli import build_parser
from ailfm.errors import ConfigError
from ailfm.gem5_configs.recipe import parse_args, run_config
from ailfm.plugins.governors.cpufreq import Performance
from ailfm.plugins.imitation.rollout import RolloutScenario, simulation
from ailfm.plugins.run.config import RunConfig
from ailfm.plugins.run.runner import load_workload, thermal_model

SCENARIO = ["--system", "snuca-64-2l", "--workload", "bert-large", "--lengths", "fixed:8,2", "--requests", "2",
            "--instances", "1", "--threads", "4", "--thermal", "grid", "--grid-cells", "8", "--placement", "coolest"]


def test_simulate_and_the_gem5_script_read_the_same_run():
    args = build_parser().parse_args(["simulate", *SCENARIO, "--duration", "0.003", "--seed", "5", "--out", "o"])
    simulate = RunConfig.from_args(args, governor=args.governor, seed=args.seed)
    gem5 = run_config(parse_args([*SCENARIO, "--epochs", "3", "--seed", "5", "--out", "o"]), 1e-3)
    assert gem5 == dataclasses.replace(simulate, duration_s=3 * 1e-3)
    assert (gem5.system, gem5.grid_cells, gem5.threads, gem5.thermal, gem5.placement) == ("snuca-64-2l", 8, 4, "grid",
                                                                                          "coolest")


def test_a_rollout_is_a_run():
    scenario = RolloutScenario(system="snuca-64-2l", workload="bert-large", lengths="fixed:8,2", requests=2,
                               instances=1, threads=4, grid_cells=8, warmup_epochs=5, epochs=2)
    assert isinstance(scenario, RunConfig)
    run = RunConfig(**{f.name: getattr(scenario, f.name) for f in dataclasses.fields(RunConfig)})
    # the roll-out's co-simulation is built from the run's workload and thermal model, as ailfm simulate's
    sim, simulated = simulation(scenario, Performance()), load_workload(run)
    assert sim.placement == "own" and simulation(dataclasses.replace(scenario, placement="coolest"),
                                                 Performance()).placement == "coolest"
    assert sim.thermal is thermal_model(run.system, run.thermal, run.grid_cells)
    assert sim.engine.workload.instructions.tolist() == simulated.instructions.tolist()
    assert sim.engine.workload.request_arrival_s.tolist() == simulated.request_arrival_s.tolist()


@pytest.mark.parametrize(("make", "field"), [
    (lambda: RunConfig(threads=0), "threads"),
    (lambda: RolloutScenario(requests=-1), "requests"),
    (lambda: RolloutScenario(thermal="warm"), "thermal"),
    (lambda: RolloutScenario(epochs=0), "epochs"),
    (lambda: RunConfig(grid_cells=0), "grid-cells"),
])
def test_bad_runs_are_refused_once_on_construction(make, field):
    with pytest.raises(ConfigError) as err:
        make()
    assert err.value.field == field
