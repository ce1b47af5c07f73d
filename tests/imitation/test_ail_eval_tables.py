"""bench/ail_eval.py's paired views: EDP against each safe baseline per scenario, the Oracle's headroom over the
ablation, and the folders that let a subset of seeds or a new policy run beside existing results."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def ail_eval():
    spec = importlib.util.spec_from_file_location("ail_eval", BENCH / "ail_eval.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _frame(edp: dict[str, list[float]], throughput: dict[str, list[float]] | None = None) -> pd.DataFrame:
    rows = []
    for governor, values in edp.items():
        for seed, value in enumerate(values):
            rows.append({"system": "s", "workload": "w", "mix": "code", "seed": seed, "governor": governor,
                         "edp": value, "time_above_tmax_s": 0.0,
                         "throughput": (throughput or {}).get(governor, [1.0] * len(values))[seed]})
    return pd.DataFrame(rows)


def test_edp_ratios_are_paired_per_scenario_and_count_where_the_policy_is_lower(ail_eval):
    # scenario 0: policy 10 vs pcgov 20 (lower); scenario 1: 30 vs 20 (higher). Unpaired means would be equal.
    edp = {"ail-edp": [10.0, 30.0], **{b: [20.0, 20.0] for b in ail_eval.EDP_BASELINES}}
    table = ail_eval.edp_vs_baselines(_frame(edp), ["ail-edp"]).set_index("baseline")
    assert table.loc["pcgov", "ratio_mean"] == pytest.approx((0.5 + 1.5) / 2)
    assert (table.loc["pcgov", "ratio_min"], table.loc["pcgov", "ratio_max"]) == pytest.approx((0.5, 1.5))
    assert table.loc["pcgov", "policy_lower"] == 1 and table.loc["pcgov", "scenarios"] == 2
    assert "| no |" in ail_eval.edp_markdown(table.reset_index())  # not lower on every scenario
    edp["ail-edp"] = [10.0, 19.0]
    assert "| yes |" in ail_eval.edp_markdown(ail_eval.edp_vs_baselines(_frame(edp), ["ail-edp"]))
    only_pcgov = {"ail-edp": [10.0, 30.0], "pcgov": [20.0, 20.0]}  # a folder with one safe baseline, no powersave
    assert "| no |" in ail_eval.edp_markdown(ail_eval.edp_vs_baselines(_frame(only_pcgov), ["ail-edp"]))


def test_the_oracle_headroom_is_relative_to_the_ablation_on_the_same_scenario(ail_eval):
    frame = _frame({g: [1.0, 1.0] for g in ("oracle", "ail", ail_eval.ABLATION_REFERENCE)},
                   {"oracle": [2.2, 3.3], "ail": [2.1, 3.0], ail_eval.ABLATION_REFERENCE: [2.0, 3.0]})
    table = ail_eval.oracle_headroom(frame, ["ail"])
    assert table.oracle_vs_ablation.tolist() == pytest.approx([0.1, 0.1])
    assert table.ail_vs_ablation.tolist() == pytest.approx([0.05, 0.0])


def test_a_seed_subset_and_a_policy_file_get_their_own_folders(ail_eval):
    assert ail_eval.group_folder("oracle", ail_eval.SEEDS, ail_eval.SEEDS) == "oracle"
    assert ail_eval.group_folder("oracle", (1, 2), ail_eval.SEEDS) == "oracle-seed1-2"
    assert ail_eval.group_folder("runs/x/policy.onnx", ail_eval.SEEDS, ail_eval.SEEDS) == "policy"


def test_busy_frequency_reads_the_running_cores_and_their_spread_within_an_epoch(ail_eval, tmp_path):
    """Epoch 0: two running cores at 2 and 4 GHz (spread 1); epoch 1: both at 3 GHz (spread 0); idle and free cores
    are not read."""
    import json

    run = tmp_path / "snuca-64" / "w" / "code" / "g" / "runs" / "00-g-seed0"
    run.mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps({"config": {"system": "snuca-64", "workload": "w", "seed": 0,
                                                             "governor": "g"}}))
    pd.DataFrame({"epoch": [0, 0, 0, 0, 1, 1, 1], "thread": [0, 1, 2, -1, 0, 1, 2],
                  "kernel": ["gemm", "gemm", "idle", "idle", "gemm", "gemm", "idle"],
                  "f_effective_GHz": [2.0, 4.0, 1.0, 1.0, 3.0, 3.0, 1.0]}).to_parquet(run / "timeline.parquet")
    row = ail_eval.busy_frequency(tmp_path).iloc[0]
    assert row.busy_f_GHz == pytest.approx(3.0) and row.busy_f_spread_GHz == pytest.approx(0.5)
    assert row.busy_at_fmax == pytest.approx(0.25) and row.fmax_bound == pytest.approx(4.0 / 3.0 - 1)


def _bench_module(name: str, monkeypatch):
    """A bench script as a module, with bench/ on the path as when it runs (it imports its sibling ail_eval)."""
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def ail_select(monkeypatch):
    return _bench_module("ail_select", monkeypatch)


def test_the_selection_names_a_candidate_that_is_not_a_policy(ail_select, tmp_path, monkeypatch, capsys):
    """``bench/ail_select.py`` refuses a candidate that is neither an .onnx file nor a governor, in one line, before any
    run."""
    import sys

    module = ail_select
    argv = ["ail_select.py", "--out", str(tmp_path / "o"), "ail", str(tmp_path / "nope.onnx")]
    monkeypatch.setattr(sys, "argv", argv)
    assert module.main() == 2
    err = capsys.readouterr().err.strip()
    assert err == f"ail_select: error: not an .onnx file or a governor name: {tmp_path / 'nope.onnx'}"
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("new", "above_s", "chosen"), [(1.024, 0.0, "ail"), (1.026, 0.0, "new.onnx"),
                                                         (1.10, 5e-5, "ail")])
def test_the_throughput_rule_keeps_the_first_candidate_unless_a_safe_one_beats_it_by_the_tie(ail_select, new, above_s,
                                                                                              chosen):
    """A replacement must beat the first-listed candidate by more than 0.5 points of throughput / the ablation's, and
    never go above T_max; requests/s stands in for tokens/s where a model makes no tokens."""
    rows = []
    for seed, workload in enumerate(("llama-2-7b", "vit")):
        tokens = 0 if workload == "vit" else 10
        for governor, ratio, above in (("shielded-performance", 1.0, 0.0), ("ail", 1.02, 0.0), ("new.onnx", new,
                                                                                                  above_s)):
            rows.append({"system": "s", "workload": workload, "seed": seed, "governor": governor, "tokens": tokens,
                         "tokens_per_s": 2.0 * ratio if tokens else 0.0, "requests_per_s": 3.0 * ratio,
                         "time_above_tmax_s": above})
    ratios, lines, choice = ail_select.throughput_choice(pd.DataFrame(rows), ["ail", "new.onnx"])
    assert choice == chosen
    assert ratios["ail"].tolist() == pytest.approx([1.02, 1.02])
    assert lines[2].startswith("| ail | +2.00% (+2.00% to +2.00%) | 2 | 0 |")



def test_the_pcmig_gap_splits_into_the_start_and_the_vf_exactly(monkeypatch):
    """gap = learned start x V/f and moves (PCMig's own start is lowest-latency), per scenario."""
    gap = _bench_module("ail_pcmig_gap", monkeypatch)
    throughput = {("own", "ail"): 3.0, ("own", "pcmig"): 4.0, ("lowest-latency", "ail"): 3.5,
                  ("lowest-latency", "shielded-performance"): 4.0, ("lowest-latency", "pcmig"): 4.0}
    frame = pd.DataFrame([{"workload": "w", "mix": "code", "seed": 0, "start": start, "governor": governor,
                           "throughput": value} for (start, governor), value in throughput.items()])
    row = gap.gap_table(frame).iloc[0]
    assert row["gap"] == pytest.approx(-0.25)
    assert row["learned start"] == pytest.approx(3.0 / 3.5 - 1) and row["V/f and moves"] == pytest.approx(-0.125)
    assert (1 + row["learned start"]) * (1 + row["V/f and moves"]) == pytest.approx(1 + row["gap"])
    assert row["shielded-performance / pcmig, same start"] == 0.0


def test_coverage_regions_follow_load_speed_and_temperature(monkeypatch):
    coverage = _bench_module("ail_coverage", monkeypatch)
    rows = pd.DataFrame({"utilisation": [0.0, 1.0, 1.0, 0.5], "thread_ips_G": [0.0, 0.5, 2.0, 2.0],
                         "temperature": [0.1, 0.9, 0.39, 0.4]})
    assert coverage.regions(rows).tolist() == ["idle thread, cold", "running, < 1 G instr/s",
                                               "running, >= 1 G instr/s, cold", "running, >= 1 G instr/s"]
