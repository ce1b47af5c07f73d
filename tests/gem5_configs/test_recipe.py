"""run_ailfm.py's options, run description and outputs (without gem5), and the real run (skipped without gem5.opt)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from reference_data import REPO

from ailfm.errors import ConfigError
from ailfm.gem5_configs.recipe import (
    check_fits,
    counters_frame,
    parse_args,
    run_config,
    workload_model,
    write_outputs,
)
from ailfm.gem5_configs.sitepaths import add_site_packages
from ailfm.plugins.epoch.cosim import SUMMARY_KEYS, CoSimulation
from ailfm.plugins.governors.registry import make_governor
from ailfm.traces import Scenario, generate_trace, write_trace

RUN_AILFM = REPO / "gem5_configs" / "run_ailfm.py"
SMOKE_SYSTEM = Path(__file__).with_name("gem5-smoke-2x2x2.yaml")  # 8 tiles: a gem5 run in seconds


def test_options_mirror_ailfm_simulate():
    args = parse_args(["--epochs", "20", "--out", "o", "--governor", "ondemand", "--governor-param", "up=0.8",
                       "--governor-param", "path=policies/ail.onnx"])
    assert args.governor_params == {"up": 0.8, "path": "policies/ail.onnx"}
    config = run_config(args, epoch_s=1e-3)
    assert config.duration_s == pytest.approx(0.02) and config.governor == "ondemand"
    assert config.workload == "llama-2-7b" and config.system == "snuca-64"
    domains = parse_args(["--epochs", "3", "--out", "o", "--dvfs", "domains"])
    assert domains.dvfs == "domains" and run_config(domains, 1e-3).governor == "performance"  # performance + DTM
    assert parse_args(["--epochs", "3", "--out", "o"]).dvfs == "rate"
    with pytest.raises(SystemExit):  # argparse: the old name is gone
        parse_args(["--epochs", "3", "--out", "o", "--dvfs", "stock"])
    with pytest.raises(SystemExit):  # argparse: "argument --epochs: expected an integer >= 1, got 0"
        parse_args(["--epochs", "0", "--out", "o"])
    with pytest.raises(ConfigError, match="governor-param"):
        parse_args(["--epochs", "1", "--out", "o", "--governor-param", "novalue"])
    assert parse_args(["--epochs", "1", "--out", "o"]).traffic_jitter == 0.0  # fixed periods unless asked
    for bad in ("-0.1", "1.0"):
        with pytest.raises(ConfigError, match="traffic-jitter"):
            parse_args(["--epochs", "1", "--out", "o", "--traffic-jitter", bad])


def test_smoke_system_loads():
    from ailfm.gem5_configs.system_params import mesh_of
    from ailfm.plugins.system.description import load_system

    smoke = load_system(SMOKE_SYSTEM)
    assert (smoke.n_cores, smoke.n_banks, len(mesh_of(smoke).directory_router)) == (8, 16, 4)


def test_workload_model_from_name_or_trace(tmp_path):
    args = parse_args(["--epochs", "1", "--out", "o", "--workload", "gpt2-xl"])
    assert workload_model(run_config(args, 1e-3)).name == "gpt2-xl"
    trace = generate_trace("gpt2-xl", Scenario(instances=1, threads_per_instance=2, requests=1, lengths="fixed:4,2"))
    path = write_trace(tmp_path / "t.parquet", trace)
    traced = parse_args(["--epochs", "1", "--out", "o", "--workload", str(path)])
    assert workload_model(run_config(traced, 1e-3)).name == "gpt2-xl"
    trace.attrs.clear()
    bare = write_trace(tmp_path / "bare.parquet", trace)
    with pytest.raises(ConfigError, match="does not name its model"):
        workload_model(run_config(parse_args(["--epochs", "1", "--out", "o", "--workload", str(bare)]), 1e-3))


def test_outputs_match_ailfm_simulate(tmp_path, system, thermal, workload, stand_in_engine):
    engine = stand_in_engine(system, workload)
    sim = CoSimulation(system, engine, thermal, make_governor("ondemand"), thread_instance=workload.thread_instance,
                       kernel_type_names=workload.kernel_type_names, request_arrival_s=workload.request_arrival_s)
    result = sim.run(duration_s=3e-3)
    config = run_config(parse_args(["--epochs", "3", "--out", str(tmp_path)]), 1e-3)
    paths = write_outputs(tmp_path, result, config, engine.counters, {"engine": "gem5"})
    summary = json.loads(paths[0].read_text())
    assert set(SUMMARY_KEYS) <= set(summary) and summary["config"]["governor"] == "performance"
    timeline = pd.read_parquet(paths[1])
    assert list(timeline.columns) == list(result.timeline().columns) and len(timeline) == 3 * system.n_cores
    measured = pd.read_parquet(paths[2])
    steps = 3 * system.thermal.substeps  # gem5 runs every engine step
    assert len(measured) == steps * system.n_cores
    last = measured[measured["epoch"] == steps - 1].set_index("tile")
    tiles = engine.thread_core
    np.testing.assert_allclose(last.loc[tiles, "llc_latency_ns"], engine.backend.hit_ns[tiles])
    assert counters_frame([], 1e-3).empty


@pytest.mark.parametrize("script", [RUN_AILFM, REPO / "gem5_configs" / "calibrate_nuca.py"])
def test_gem5_scripts_import_nothing_from_gem5_at_module_level(script):
    spec = importlib.util.spec_from_file_location(f"{script.stem}_module", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # __name__ is not __m5_main__: defines main() and stops
    assert callable(module.main) and "m5" not in sys.modules


def test_site_packages_from_the_environment(tmp_path, monkeypatch):
    extra = tmp_path / "extra"
    extra.mkdir()
    site_dir = tmp_path / "site-packages"
    site_dir.mkdir()
    (site_dir / "editable.pth").write_text(f"{extra}\n")  # what an editable install leaves behind
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("AILFM_SITE_PACKAGES", str(site_dir))
    add_site_packages(tmp_path)
    assert str(site_dir) in sys.path and str(extra) in sys.path


def test_more_threads_than_tiles_is_refused_before_gem5_builds_anything():
    config = run_config(parse_args(["--epochs", "2", "--out", "o", "--system", str(SMOKE_SYSTEM)]), 1e-3)
    with pytest.raises(ConfigError, match="48 threads .* 8 tiles"):
        check_fits(config, 48, 8)
    check_fits(config, 8, 8)
    with pytest.raises(SystemExit):  # argparse: "argument --window-us: expected a number > 0, got 0"
        parse_args(["--epochs", "2", "--out", "o", "--window-us", "0"])


def _gem5_binary() -> str | None:
    return os.environ.get("GEM5") or shutil.which("gem5.opt")


@pytest.mark.skipif(_gem5_binary() is None, reason="gem5.opt is not on PATH and GEM5 is unset")
@pytest.mark.parametrize("jitter", [0.0, 0.9])
def test_real_gem5_run_writes_the_outputs(tmp_path, jitter):
    out = tmp_path / "run"
    command = [_gem5_binary(), "-d", str(tmp_path / "m5out"), str(RUN_AILFM), "--system", str(SMOKE_SYSTEM),
               "--thermal", "fast", "--workload", "gpt2-xl",
               "--governor", "ondemand", "--epochs", "2", "--requests", "1", "--instances", "1", "--threads", "4",
               "--lengths", "fixed:8,2", "--window-us", "50", "--warm-us", "20", "--traffic-jitter", str(jitter),
               "--out", str(out)]
    env = {**os.environ, "AILFM_SITE_PACKAGES": next(str(p) for p in sys.path if p.endswith("site-packages"))}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["engine"] == "gem5" and set(SUMMARY_KEYS) <= set(summary)
    assert summary["gem5_window_s"] == pytest.approx(5e-5) and summary["gem5_version"].startswith("24.")
    assert summary["traffic_jitter"] == jitter
    measured = pd.read_parquet(out / "gem5_epochs.parquet")
    assert (measured["llc_requests"] > 0).any() and (measured["llc_latency_ns"].dropna() > 0).all()


@pytest.mark.skipif(_gem5_binary() is None, reason="gem5.opt is not on PATH and GEM5 is unset")
def test_real_gem5_domains_follow_the_governor(tmp_path):
    """--dvfs domains: the tiles' gem5 clock domains change level with ondemand (needs the DVFS hook)."""
    out, m5out = tmp_path / "run", tmp_path / "m5out"
    command = [_gem5_binary(), "-d", str(m5out), "--debug-flags=DVFS,ClockDomain", "--debug-file=dvfs.trace",
               str(RUN_AILFM), "--system", str(SMOKE_SYSTEM), "--thermal", "fast",
               "--workload", "gpt2-xl", "--governor", "ondemand", "--dvfs", "domains", "--epochs", "2",
               "--requests", "1", "--instances", "1", "--threads", "4", "--lengths", "fixed:8,2", "--window-us", "20",
               "--warm-us", "10", "--out", str(out)]
    env = {**os.environ, "AILFM_SITE_PACKAGES": next(str(p) for p in sys.path if p.endswith("site-packages"))}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    if done.returncode != 0 and "dvfs-python-setter.patch" in done.stderr:
        pytest.skip("this gem5 was built without gem5_configs/hooks/dvfs-python-setter.patch")
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((out / "summary.json").read_text())["dvfs"] == "domains"
    timeline = pd.read_parquet(out / "timeline.parquet")
    assert (timeline["f_effective_GHz"] < 4.0).any()  # ondemand lowered some tile
    # each tile domain's clock period (ticks) in every dump: 250 at 4 GHz; lower levels appear once gem5 applied them
    periods = {float(line.split()[1]) for line in (m5out / "stats.txt").read_text().splitlines()
               if re.match(r"board\.tile_clk_domains\d+\.clock\s", line)}
    assert 250.0 in periods and max(periods) > 250.0
    # gem5's own trace: every level change lands in its domain exactly the transition latency after the request
    latencies = dvfs_transition_ticks((m5out / "dvfs.trace").read_text())
    assert latencies and set(latencies) == {2_000_000}  # snuca-64's dvfs.transition_latency_s = 2 us, in ps


def dvfs_transition_ticks(trace: str) -> list[int]:
    """Ticks from each ``DVFSHandler`` request to its domain's switch, from a ``--debug-flags=DVFS,ClockDomain``
    trace (``dvfs_handler.cc``: "setPerfLevel domain D -> L", "Update for perf event scheduled for T";
    ``clock_domain.cc``: "Switching performance level of domain ... (id: D) from A to L")."""
    requested, scheduled, latencies = None, {}, []
    for line in trace.splitlines():
        tick = line.split(":", 1)[0].strip()
        if match := re.search(r"setPerfLevel domain (\d+) -> (\d+)", line):
            requested = (int(tick), int(match[1]), int(match[2]))
        elif (match := re.search(r"scheduled for (\d+)", line)) and requested:
            scheduled[requested[1]] = (requested[0], int(match[1]), requested[2])
        elif match := re.search(r"\(id: (\d+)\) from\s+\d+ to (\d+)", line):
            start, due, level = scheduled.pop(int(match[1]))
            assert (int(tick), int(match[2])) == (due, level), line
            latencies.append(int(tick) - start)
    return latencies


@pytest.mark.skipif(_gem5_binary() is None, reason="gem5.opt is not on PATH and GEM5 is unset")
def test_real_gem5_shows_a_bad_option_as_one_line(tmp_path):
    """gem5 casts a SystemExit code to int: an error message must be printed, not passed to sys.exit."""
    command = [_gem5_binary(), "-d", str(tmp_path / "m5out"), str(RUN_AILFM), "--system", "no-such-system",
               "--epochs", "1", "--out", str(tmp_path / "run")]
    env = {**os.environ, "AILFM_SITE_PACKAGES": next(str(p) for p in sys.path if p.endswith("site-packages"))}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 1
    assert "run_ailfm.py: error: system: unknown system 'no-such-system'" in done.stderr
    assert "cast_error" not in done.stderr


def test_collect_tabulates_run_summaries(tmp_path, capsys):
    from ailfm.gem5_configs.collect import collect, main

    for name, config, energy in (("ail", {"governor": "ail"}, 1.5),
                                 ("performance", {"governor": "performance", "placement": "coolest"}, 2.0)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "summary.json").write_text(json.dumps(
            {"energy_j": energy, "makespan_s": 0.02, "config": config, "dvfs": "rate"}))
    pd.DataFrame({"epoch": [0, 0], "instructions": [2e9, 1e9]}).to_parquet(tmp_path / "ail" / "timeline.parquet")
    table = collect([tmp_path / "ail", tmp_path / "performance"])
    assert table["governor"].tolist() == ["ail", "performance"] and table["energy_j"].tolist() == [1.5, 2.0]
    assert table["placement"].tolist() == ["own", "coolest"]  # a summary from before --placement: its own
    assert table["g_instructions"].iloc[0] == 3.0 and table["g_instructions_per_j"].iloc[0] == 2.0
    assert np.isnan(table["g_instructions"].iloc[1])  # no timeline
    assert main([str(tmp_path / "ail"), "--csv", str(tmp_path / "t.csv")]) == 0 and (tmp_path / "t.csv").exists()
    assert main([str(tmp_path / "missing")]) == 2 and "summary.json" in capsys.readouterr().err


@pytest.mark.skipif(_gem5_binary() is None, reason="gem5.opt is not on PATH and GEM5 is unset")
def test_real_gem5_calibration_writes_its_table(tmp_path):
    out = tmp_path / "cal"
    command = [_gem5_binary(), "-d", str(tmp_path / "m5out"), str(REPO / "gem5_configs" / "calibrate_nuca.py"),
               "--system", str(SMOKE_SYSTEM), "--epoch-us", "5", "--load-epochs", "1", "--out", str(out)]
    env = {**os.environ, "AILFM_SITE_PACKAGES": next(str(p) for p in sys.path if p.endswith("site-packages"))}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    assert done.returncode == 0, done.stderr[-3000:]
    table = pd.read_csv(out / "calibration.csv")
    assert len(table) == 8 and (table["gem5_idle_ns"] > 0).all()
    summary = json.loads((out / "calibration.json").read_text())
    if not summary["clipped"]:  # least squares over the model's own parameter space cannot do worse than its start
        assert summary["rms_error_ns_after"] <= summary["rms_error_ns_before"] + 1e-9


@pytest.mark.skipif(_gem5_binary() is None, reason="gem5.opt is not on PATH and GEM5 is unset")
def test_real_gem5_llc_only_jittered_load_fits_the_bank_wait(tmp_path):
    """The loaded options on real gem5: idle latencies from a table, LLC-only load, random gaps, the bank fit."""
    from ailfm.plugins.system.description import load_system
    from ailfm.plugins.system.nuca import NucaModel

    smoke = load_system(str(SMOKE_SYSTEM))
    idle_csv = tmp_path / "idle.csv"
    pd.DataFrame({"core": np.arange(smoke.n_cores),
                  "gem5_idle_ns": NucaModel.build(smoke).mean_latency_ns}).to_csv(idle_csv, index=False)
    out = tmp_path / "cal"
    command = [_gem5_binary(), "-d", str(tmp_path / "m5out"), str(REPO / "gem5_configs" / "calibrate_nuca.py"),
               "--system", str(SMOKE_SYSTEM), "--epoch-us", "5", "--load-epochs", "1", "--load-traffic", "llc",
               "--load-jitter", "0.5", "--idle-csv", str(idle_csv), "--out", str(out)]
    env = {**os.environ, "AILFM_SITE_PACKAGES": next(str(p) for p in sys.path if p.endswith("site-packages"))}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "calibration.json").read_text())
    assert summary["load"]["traffic"] == "llc" and summary["load"]["jitter"] == 0.5
    table = pd.read_csv(out / "calibration.csv")
    assert (table["load_accesses_per_s"] > 0).any() and np.allclose(table["gem5_idle_ns"],
                                                                    NucaModel.build(smoke).mean_latency_ns)
    import yaml

    fitted = yaml.safe_load((out / "fitted_noc.yaml").read_text())
    # the fitted YAML turns the bank wait on exactly when gem5 was slower than the model under load
    assert fitted["llc"].get("bank_service_cycles") == summary["bank_service_cycles"]
    assert summary["bank_service_cycles"] is None or summary["bank_service_cycles"] > 0
