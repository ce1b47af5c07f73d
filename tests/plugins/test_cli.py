"""``ailfm simulate`` and ``ailfm compare`` end to end (short runs), including a sweep on a real Dask LocalCluster."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ailfm.cli import main
from ailfm.plugins.epoch.cosim import RESULT_KEYS, TIMING_KEYS

SHORT = ["--duration", "0.01", "--lengths", "fixed:4,2", "--grid-cells", "8", "--quiet"]


def _strict(token):
    raise ValueError(f"{token} is not strict JSON")


def test_simulate_writes_summary_and_timeline(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["simulate", "--governor", "ondemand", "--out", str(out), *SHORT]) == 0
    summary = json.loads((out / "summary.json").read_text(), parse_constant=_strict)
    assert set(RESULT_KEYS) <= set(summary) and summary["config"]["governor"] == "ondemand"
    assert summary["request_latency_mean_s"] is None  # no request finished in 10 ms: undefined, not NaN
    assert set(json.loads((out / "timing.json").read_text())) == set(TIMING_KEYS)  # wall clock, apart
    timeline = pd.read_parquet(out / "timeline.parquet")
    assert len(timeline) == 10 * 64
    assert {"epoch", "core", "thread", "kernel", "f_GHz", "voltage_V", "power_W", "temperature_C",
            "instructions"} <= set(timeline.columns)
    assert "tokens_per_s" in capsys.readouterr().out


def test_compare_on_a_dask_local_cluster(tmp_path, capsys):
    from distributed import LocalCluster

    out = tmp_path / "cmp"
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        code = main(["compare", "--governors", "performance,powersave", "--dask", cluster.scheduler_address,
                     "--out", str(out), *SHORT])
    assert code == 0
    table = pd.read_csv(out / "comparison.csv")
    assert list(table["governor"]) == ["performance", "powersave"]
    assert table.loc[1, "energy_j"] < table.loc[0, "energy_j"]
    assert np.allclose(table["requests_per_j"], table["requests_finished"] / table["energy_j"])
    for name in ("temperature_timeline.png", "frequency_timeline.png", "layer_heatmaps.png", "metrics.png"):
        assert (out / name).stat().st_size > 0
    printed = capsys.readouterr().out
    assert "performance" in printed and "powersave" in printed


@pytest.mark.parametrize("argv, message", [
    (["simulate", "--governor", "nope"], "unknown governor 'nope'; known:"),
    (["simulate", "--system", "snuca-1024"], "unknown system 'snuca-1024'"),
    (["simulate", "--workload", "missing.parquet"], "no such trace file"),
    (["simulate", "--duration", "-1"], "duration"),
    (["compare", "--governors", "performance,nope"], "unknown governor 'nope'"),
])
def test_bad_options_are_named(tmp_path, capsys, argv, message):
    try:
        code = main([*argv, "--out", str(tmp_path / "x"), "--quiet"])
    except SystemExit as usage:  # argparse refuses out-of-range numbers before the command runs
        code = usage.code
    assert code == 2
    assert message in capsys.readouterr().err


def test_per_joule_beside_throughput():
    from ailfm.plugins.run.runner import per_joule

    row = per_joule({"tokens": 6, "requests_finished": 3, "energy_j": 2.0, "makespan_s": 0.5})
    assert row == {"tokens_per_j": 3.0, "requests_per_s": 6.0, "requests_per_j": 1.5}
    assert per_joule({"tokens": 6, "energy_j": 0.0}) == {}  # nothing to divide by (a summary may lack values)
