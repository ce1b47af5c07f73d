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


def test_the_edp_selection_names_a_candidate_that_is_not_a_policy_file(tmp_path, monkeypatch, capsys):
    """``bench/ail_edp_select.py`` refuses a candidate that is not an .onnx file in one line, before any run."""
    import sys

    monkeypatch.syspath_prepend(str(BENCH))  # as when the script runs: it imports its sibling ail_eval
    spec = importlib.util.spec_from_file_location("ail_edp_select", BENCH / "ail_edp_select.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, "argv", ["ail_edp_select.py", "--out", str(tmp_path / "o"), str(tmp_path / "nope.onnx")])
    assert module.main() == 2
    err = capsys.readouterr().err.strip()
    assert err == f"ail_edp_select: error: not an .onnx file: {tmp_path / 'nope.onnx'}"
    assert not (tmp_path / "o").exists()
