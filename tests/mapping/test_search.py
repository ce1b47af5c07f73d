"""Mapping search: operators keep genomes valid, seeds reproduce, checkpoints resume, pins hold, executors agree."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ailfm.cli import main
from ailfm.mapping.encoding import Encoding, Pins
from ailfm.mapping.evaluator import Evaluator
from ailfm.mapping.search import operators
from ailfm.mapping.search.annealing import random_search, simulated_annealing
from ailfm.mapping.search.baselines import baseline_mappings, diagnostic_mappings
from ailfm.mapping.search.ga import SearchSettings, run_search
from ailfm.mapping.search.problem import evaluate_population

ENC = Encoding(n_micro_batches=3, n_layers=7, n_chiplets=5)
ALL_OPERATORS = operators.LOCAL_OPERATORS + operators.DISRUPTIVE_OPERATORS + (operators.mutate_segmentation,)


def _valid(genome: np.ndarray, enc: Encoding) -> bool:
    return genome.shape == (enc.n_genes,) and (genome >= 0).all() and (genome <= enc.upper_bounds()).all()


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), progress=st.floats(0, 1))
def test_operators_keep_genomes_valid(seed, progress):
    rng = np.random.default_rng(seed)
    a, b = operators.random_genomes(ENC, 2, rng)
    for op in ALL_OPERATORS:
        assert _valid(op(a, ENC, rng), ENC)
    assert _valid(operators.mutate(a, ENC, rng, progress), ENC)
    child = operators.crossover_segments(a, b, ENC, rng)
    assert _valid(child, ENC)
    assert ((child == a) | (child == b)).all()  # every gene comes from a parent
    assert a.tolist() == operators.random_genomes(ENC, 2, np.random.default_rng(seed))[0].tolist()  # inputs kept


def test_swap_micro_batch_rows_swaps_rows():
    genome = np.concatenate([np.zeros(ENC.n_bits, np.int64), np.repeat([0, 1, 2], ENC.n_layers)])
    rows = set()
    for seed in range(10):
        out = operators.swap_micro_batch_rows(genome, ENC, np.random.default_rng(seed))
        _, chips = ENC.split(out)
        assert sorted(chips[0, :, 0].tolist()) == [0, 1, 2] and (chips[0] == chips[0, :, :1]).all()
        rows.add(tuple(chips[0, :, 0]))
    assert len(rows) > 1


def test_elite_local_search_mating_moves_around_the_elite():
    from pymoo.core.population import Population
    from pymoo.core.problem import Problem
    from pymoo.operators.selection.rnd import RandomSelection

    enc = Encoding(n_micro_batches=4, n_layers=10, n_chiplets=36)
    rng = np.random.default_rng(0)
    X = np.full((20, enc.n_genes), 35, np.int64)
    X[:, :enc.n_bits] = 0
    X[0, enc.n_bits:] = 0                      # the best individual: every job on chiplet 0
    X[1:, enc.n_bits:] = rng.integers(1, 36, size=(19, enc.n_layers * enc.n_micro_batches))
    pop = Population.new("X", X, "F", np.arange(20, dtype=float)[:, None])
    pins = Pins.none(enc)
    problem = Problem(n_var=enc.n_genes, n_obj=1, xl=0, xu=enc.upper_bounds(), vtype=int)

    def offspring(local_share: float) -> np.ndarray:
        mating = operators.EliteLocalSearchMating(
            RandomSelection(), operators.SegmentCrossover(enc, pins), operators.MappingMutation(enc, pins, 10),
            enc, pins, n_gen=10, local_share=local_share, n_elite=1)
        return mating.do(problem, pop, 30, random_state=np.random.default_rng(1)).get("X")[:, enc.n_bits:]

    near_best = (offspring(1.0) == 0).mean(axis=1)
    assert (near_best > 0.5).all()             # every offspring is a small move away from the elite
    assert ((offspring(0.0) == 0).mean(axis=1) > 0.5).sum() < 15  # plain mating: mostly children of the others


@pytest.fixture(scope="module")
def evaluator(tiny, mixed_hw):
    return Evaluator(tiny, mixed_hw)


SMALL = SearchSettings(pop_size=10, n_gen=5, seed=7, checkpoint_every=1)


def test_same_seed_same_search(evaluator):
    first = run_search(evaluator, SMALL)
    again = run_search(evaluator, SMALL)
    other = run_search(evaluator, SearchSettings(pop_size=10, n_gen=5, seed=8))
    assert first.best_genome.tolist() == again.best_genome.tolist()
    assert [r["best_edp"] for r in first.log] == [r["best_edp"] for r in again.log]
    assert [r["mean_edp"] for r in first.log] != [r["mean_edp"] for r in other.log]
    assert len(first.log) == 5 and first.best_edp <= first.log[0]["best_edp"]


def test_resume_after_interrupt_gives_the_same_result(evaluator, tmp_path):
    whole = run_search(evaluator, SMALL)
    ckpt, log = tmp_path / "ckpt.npz", tmp_path / "search.csv"
    part = run_search(evaluator, SMALL, checkpoint=ckpt, log_path=log, stop_after_generations=2)
    assert part.stopped == "interrupted" and part.generations == 2
    with log.open("a") as handle:  # a generation logged after the last checkpoint, as a kill would leave it
        handle.write("3,99,1,1,1,1,1\n")
    resumed = run_search(evaluator, SMALL, checkpoint=ckpt, log_path=log)
    assert resumed.best_genome.tolist() == whole.best_genome.tolist()
    assert [r["best_edp"] for r in resumed.log] == [r["best_edp"] for r in whole.log]
    assert pd.read_csv(log).generation.tolist() == [1, 2, 3, 4, 5]


def test_pins_hold_and_baseline_seeds_bound_the_result(evaluator):
    enc = evaluator.encoding
    fixed = baseline_mappings(evaluator)
    assert set(fixed) == {"gemini_lp", "pipeline", "tensor_parallel", "data_parallel", "tensor_data_parallel"}
    seeds = np.stack([enc.encode(m) for m in fixed.values()])
    mask = np.zeros(enc.n_genes, bool)
    mask[enc.n_bits + 3] = True
    pins = Pins(mask, np.full(enc.n_genes, 4, np.int64))
    pinned_seeds = pins.apply(seeds.copy())
    result = run_search(evaluator, SMALL, pins=pins, seeds=pinned_seeds)
    assert result.best_genome[enc.n_bits + 3] == 4
    assert result.best_edp <= evaluator.evaluate(pinned_seeds).edp.min() * (1 + 1e-12)
    for run in (random_search, simulated_annealing):
        found = run(evaluator, 40, seed=1, pins=pins)
        assert found.best_genome[enc.n_bits + 3] == 4 and found.evaluations <= 40
        assert run(evaluator, 40, seed=1, pins=pins).best_genome.tolist() == found.best_genome.tolist()


def test_budget_early_stop_and_pareto(evaluator):
    budget = run_search(evaluator, SearchSettings(pop_size=10, n_gen=50, max_evaluations=30))
    assert budget.stopped == "evaluation budget" and budget.evaluations <= 40
    flat = run_search(evaluator, SearchSettings(pop_size=10, n_gen=200, patience=3, tolerance=0.99))
    assert flat.stopped.startswith("early stop") and flat.generations == 4
    front = run_search(evaluator, SearchSettings(pop_size=12, n_gen=4, objective="pareto"))
    F = front.pareto_F
    assert len(F) >= 1 and F.shape[1] == 2
    for i in range(len(F)):  # no point of the front dominates another
        assert not ((F <= F[i]).all(axis=1) & (F < F[i]).any(axis=1)).any()


def test_dask_local_cluster_matches_in_process(evaluator):
    distributed = pytest.importorskip("distributed")
    genomes = operators.random_genomes(evaluator.encoding, 12, np.random.default_rng(0))
    want = evaluate_population(evaluator, genomes)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as lc:
        with distributed.Client(lc) as client:
            got = evaluate_population(evaluator, genomes, client.get_executor(), n_chunks=3)
    np.testing.assert_array_equal(got, want)


def test_cli_search_then_evaluate(tmp_path, tiny_config, capsys):
    cfg = tiny_config
    hw = tmp_path / "hw.yaml"
    hw.write_text("mesh: {cols: 2, rows: 2}\nchiplet_types:\n  a: {dataflow: os, macs: 256, buffer_KiB: 64}\n"
                  "  b: {dataflow: ws, macs: 256, buffer_KiB: 64}\nlayout: [[a, b], [b, a]]\n")
    out = tmp_path / "run"
    scenario = ["--model", str(cfg), "--hardware", str(hw), "--serving", "vllm", "--slots", "4",
                "--micro-batches", "2", "--tensor-parallel", "2", "--steps", "1"]
    assert main(["map", "search", *scenario, "--out", str(out), "--pop", "8", "--gen", "2", "--workers", "1",
                 "--no-progress"]) == 0
    for name in ("best_mapping.json", "search.csv", "baselines.csv", "summary.json", "report/convergence.png",
                 "report/gantt.png", "report/pareto.png"):
        assert (out / name).exists(), name
    table = pd.read_csv(out / "baselines.csv")
    assert {"gemini_lp", "pipeline", "tensor_parallel", "data_parallel", "random_search",
            "simulated_annealing", "ga"} <= set(table.method)
    assert set(table.method[table.kind == "diagnostic"]) == {"one_chiplet_per_layer", "gemini_one_type"}
    best_fixed = table.edp_Js[table.kind == "fixed"].min()  # the diagnostics are not the reference
    assert np.allclose(table.edp_vs_best_fixed, table.edp_Js / best_fixed - 1)
    capsys.readouterr()
    assert main(["map", "evaluate", *scenario, "--mapping", str(out / "best_mapping.json"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["edp_Js"] == pytest.approx(table.set_index("method").loc["ga", "edp_Js"], rel=1e-9)
    # the file records its scenario: evaluate alone scores it as searched; another serving is a noted what-if
    assert main(["map", "evaluate", "--mapping", str(out / "best_mapping.json"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["edp_Js"] == summary["edp_Js"]
    assert main(["map", "evaluate", "--mapping", str(out / "best_mapping.json"), "--serving", "orca"]) == 0
    assert "note: serving 'orca' from the command line, not the 'vllm'" in capsys.readouterr().err


def test_cli_search_killed_then_rerun_matches_an_uninterrupted_run(tmp_path, tiny_config):
    import subprocess
    import sys
    import time

    cfg = tiny_config

    def command(out):
        return [sys.executable, "-m", "ailfm.cli", "map", "search", "--model", str(cfg), "--hardware", str(hw),
                "--serving", "orca", "--slots", "8", "--micro-batches", "4", "--tensor-parallel", "2",
                "--steps", "2", "--out", str(out), "--pop", "10", "--gen", "100", "--workers", "1",
                "--checkpoint-every", "2", "--no-progress"]

    hw = tmp_path / "hw.yaml"
    hw.write_text("mesh: {cols: 3, rows: 2}\nchiplet_types:\n  a: {dataflow: os, macs: 256, buffer_KiB: 64}\n"
                  "  b: {dataflow: ws, macs: 256, buffer_KiB: 64}\nlayout: [[a, b, a], [b, a, b]]\n")
    killed = tmp_path / "killed"
    proc = subprocess.Popen(command(killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        log = killed / "search.csv"
        if (killed / "checkpoint.npz").exists() and log.exists() and len(log.read_text().splitlines()) > 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the search ended before it could be killed"
    proc.kill()
    proc.wait()
    assert not (killed / "best_mapping.json").exists()
    subprocess.run([*command(killed), "--resume"], check=True, stdout=subprocess.DEVNULL)
    whole = tmp_path / "whole"
    assert main(command(whole)[3:]) == 0  # the uninterrupted run, in-process
    a = json.loads((killed / "best_mapping.json").read_text())
    b = json.loads((whole / "best_mapping.json").read_text())
    assert a["layer_to_chip"] == b["layer_to_chip"] and a["segmentation"] == b["segmentation"]
    assert pd.read_csv(killed / "search.csv").best_edp.tolist() == pd.read_csv(whole / "search.csv").best_edp.tolist()


def test_diagnostics_use_one_type_and_one_chiplet_per_layer(tiny, mixed_hw):
    ev = Evaluator(tiny, mixed_hw)
    found = diagnostic_mappings(ev)
    kinds = np.asarray(mixed_hw.chiplet_type)[found["gemini_one_type"].layer_to_chip]
    assert len(np.unique(kinds)) == 1
    per_layer = found["one_chiplet_per_layer"].layer_to_chip
    assert (per_layer == per_layer[:1]).all()
