"""Hardware co-exploration: the cost model, the optuna objective without a study, resumable TPE + LNS."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import optuna
import pytest

from ailfm.mapping.hardware import ChipletType, load_hardware
from ailfm.mapping.money import R_CONVEC_CHOICES_K_PER_W, SPACING_CHOICES_MM, CostModel
from ailfm.mapping.search.hardware import (
    ExploreSettings,
    explore,
    hardware_from_saved,
    hardware_objective,
    hardware_to_dict,
    neighbour,
)
from ailfm.mapping.workload import LengthSource

LENGTHS = LengthSource("tiny", np.array([30, 50, 20, 70]), np.array([3, 9, 4, 6]))
WORKLOAD = {"n_slots": 4, "n_steps": 1, "tensor_parallel": 2}
TINY = ExploreSettings(trials=3, lns_steps=3, total_macs=4 * 256, inner_pop=6, inner_gen=2)


def test_cost_model_is_monotone_and_documented_parts_add_up():
    model = CostModel()
    small, big = ChipletType("a", "os", 1024, 512.0), ChipletType("b", "os", 1024, 4096.0)
    assert model.area.chiplet_area_mm2(big) > model.area.chiplet_area_mm2(small)
    assert model.die_yield(10) > model.die_yield(100) > 0
    assert model.die_cost_usd(100) > 10 * model.die_cost_usd(10) / 10
    parts = model.breakdown(load_hardware("he-36"))
    assert parts["total_usd"] == pytest.approx(parts["compute_dies_usd"] + parts["io_die_usd"] + parts["interposer_usd"]
                                               + parts["substrate_usd"] + parts["assembly_loss_usd"]
                                               + parts["cooling_usd"])
    assert model.cost_usd(load_hardware("he-36")) == pytest.approx(parts["total_usd"] - parts["cooling_usd"])


def test_objective_runs_on_a_fixed_trial(tiny_model):
    trial = optuna.trial.FixedTrial({"chiplets": 4, "dataflow": "ws", "buffer_KiB": 512, "nop_GBps": 64,
                                     "dram_GBps": 64, "micro_batches": 2})
    value = hardware_objective(trial, tiny_model, "orca", LENGTHS, TINY, WORKLOAD, load_hardware("he-36"))
    assert np.isfinite(value)


def test_neighbours_keep_the_compute_budget_and_round_trip():
    hw = load_hardware("he-36")
    rng = np.random.default_rng(0)
    for op in ("type_change", "buffer_adjust", "compute_adjust"):
        for _ in range(5):
            hw = neighbour(hw, op, rng)
    assert hw.total_macs == 36 * 1024
    back = hardware_from_saved(json.loads(json.dumps(hardware_to_dict(hw))))
    assert back.chiplet_type == hw.chiplet_type and back.types == hw.types


def test_explore_resumes(tmp_path, tiny_model):
    he = load_hardware("he-36")
    first = explore(tiny_model, "orca", LENGTHS, he, ExploreSettings(**{**TINY.__dict__, "trials": 2,
                                                                         "lns_steps": 2}), tmp_path, WORKLOAD)
    assert first["heterogeneous_best"]["cost"] <= first["homogeneous_best"]["cost"]
    again = explore(tiny_model, "orca", LENGTHS, he, TINY, tmp_path, WORKLOAD)
    study = optuna.load_study(study_name="homogeneous", storage=f"sqlite:///{tmp_path / 'explore.db'}")
    assert len(study.trials) == 3
    state = json.loads((tmp_path / "lns_state.json").read_text())
    assert state["step"] == 3 and len(state["rows"]) == 3
    assert (tmp_path / "best_hardware.yaml").exists() and again["improvement"] >= 0
    assert load_hardware(tmp_path / "best_hardware.yaml").total_macs == 4 * 256


def test_thermal_exploration_chooses_spacing_and_cooling_and_saves_them(tmp_path, tiny_model):
    he = load_hardware("he-36")
    he = replace(he, package=replace(he.package, grid_cells=8))  # a coarse package grid: quick model builds
    settings = ExploreSettings(**{**TINY.__dict__, "trials": 2, "lns_steps": 4, "thermal": True})
    result = explore(tiny_model, "orca", LENGTHS, he, settings, tmp_path, WORKLOAD)
    assert {"spacing_mm", "r_convec_K_per_W"} <= set(result["homogeneous_best"])
    best = load_hardware(tmp_path / "best_hardware.yaml")
    assert best.package.spacing_mm in SPACING_CHOICES_MM
    assert best.package.r_convec_K_per_W in R_CONVEC_CHOICES_K_PER_W
    state = json.loads((tmp_path / "lns_state.json").read_text())
    assert len(state["weights"]) == 4  # the package move joins the three chiplet moves


def test_package_moves_step_within_the_choices():
    hw = load_hardware("he-36")
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(40):
        hw = neighbour(hw, "package_adjust", rng)
        assert hw.package.spacing_mm in SPACING_CHOICES_MM and hw.package.r_convec_K_per_W in R_CONVEC_CHOICES_K_PER_W
        seen.add((hw.package.spacing_mm, hw.package.r_convec_K_per_W))
    assert len(seen) > 4 and hw.total_macs == 36 * 1024
