"""bench/gem5_table.py without gem5: a stand-in gem5 writes each run's files, and the table, the placement split, the
provenance and the resume come from them."""

from __future__ import annotations

import gzip
import importlib.util
import stat
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

FAKE_GEM5 = """#!/usr/bin/env python3
import json, sys
from pathlib import Path
argv = sys.argv[1:]
m5out, out = Path(argv[argv.index("-d") + 1]), Path(argv[argv.index("--out") + 1])
governor, placement = argv[argv.index("--governor") + 1], argv[argv.index("--placement") + 1]
m5out.mkdir(parents=True); out.mkdir(parents=True)
print("gem5 started Dec  7 2026 12:51:01", flush=True)
print("command line: " + " ".join(argv), flush=True)
(m5out / "config.ini").write_text("[root]\\ntype=Root\\n")
dump = "---------- Begin Simulation Statistics ----------\\nsimSeconds 0.000050 # s\\nhostSeconds 30.0 # s\\nother 1\\n"
(m5out / "stats.txt").write_text(dump * 3)
tokens = {"ail": 380.0, "ondemand": 370.0}.get(governor, 360.0) * (0.9 if placement != "coolest" else 1.0)
json.dump({"tokens_per_s": tokens, "tokens": 6, "requests_finished": 3, "makespan_s": 0.016, "energy_j": 1.8,
           "peak_temp_c": 75.0, "time_above_tmax_s": 0.0, "dtm_events": 0, "migrations": 0, "dvfs": "rate",
           "gem5_wall_s_per_epoch": 30.0, "gem5_version": "24.0.0.1",
           "config": {"governor": governor, "placement": placement}}, open(out / "summary.json", "w"))
with open(Path(sys.argv[0]).with_suffix(".calls"), "a") as calls:
    calls.write(governor + " " + placement + "\\n")
"""


@pytest.fixture(scope="module")
def gem5_table():
    added_bench = str(BENCH) not in sys.path
    if added_bench:
        sys.path.insert(0, str(BENCH))  # as when the script runs: it imports its sibling gem5_sampling
    spec = importlib.util.spec_from_file_location("gem5_table", BENCH / "gem5_table.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gem5_table"] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules["gem5_table"]
    if added_bench:
        sys.path.remove(str(BENCH))


def test_table_split_provenance_and_resume(tmp_path, monkeypatch, gem5_table):
    fake = tmp_path / "gem5.py"
    fake.write_text(FAKE_GEM5)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("GEM5", str(fake))
    out = tmp_path / "table"
    assert gem5_table.main(["--out", str(out), "--jobs", "2", "--build-note", "scons build/X/gem5.opt"]) == 0
    assert len(fake.with_suffix(".calls").read_text().splitlines()) == len(gem5_table.RUNS)
    table = pd.read_csv(out / "comparison.csv")
    assert table["run"].tolist() == [r.name for r in gem5_table.RUNS]
    assert (table["requests_finished"] == 3).all()
    split = (out / "split.md").read_text().splitlines()[-1]
    # ail 380 vs ondemand 370 from the same start; ondemand's own start (first-unused here) gives 0.9 x 370
    assert split == "| +14.1% | +11.1% | +2.7% |"
    provenance = out / "provenance"
    assert gzip.decompress((provenance / "ail.config.ini.gz").read_bytes()) == b"[root]\ntype=Root\n"
    excerpt = (provenance / "ail.stats-excerpt.txt").read_text()
    assert "# last dump (of 3)" in excerpt and "hostSeconds 30.0" in excerpt and "other" not in excerpt
    assert "scons build/X/gem5.opt" in (provenance / "build.txt").read_text()
    first = (out / "table.md").read_bytes()
    assert gem5_table.main(["--out", str(out)]) == 0  # every run reused: no gem5 call, same table
    assert len(fake.with_suffix(".calls").read_text().splitlines()) == len(gem5_table.RUNS)
    assert (out / "table.md").read_bytes() == first
    assert pd.read_csv(provenance / "timing.csv")["wall_s"].notna().all()  # the first call's wall times kept
    (provenance / "timing.csv").unlink()  # runs timed by no call of this folder: the wall comes from their logs
    assert gem5_table.main(["--out", str(out)]) == 0
    log = out / "logs" / "ail.log"
    started = time.mktime(time.strptime("Dec 7 2026 12:51:01", "%b %d %Y %H:%M:%S"))
    wall = pd.read_csv(provenance / "timing.csv").set_index("run")["wall_s"]
    assert wall["ail"] == pytest.approx(log.stat().st_mtime - started)


def test_a_failed_run_names_its_log(tmp_path, monkeypatch, capsys, gem5_table):
    fake = tmp_path / "gem5.sh"
    fake.write_text("#!/bin/sh\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("GEM5", str(fake))
    assert gem5_table.main(["--out", str(tmp_path / "t"), "--jobs", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("gem5_table: error: gem5 run ail failed with status 3; see ") and err.endswith("ail.log")
    assert len(err.splitlines()) == 1


def test_a_subset_of_runs_gives_the_table_of_those_runs(tmp_path, monkeypatch, capsys, gem5_table):
    """A subset is tabled as soon as it is done; the split waits for its three runs; the window options reach gem5."""
    fake = tmp_path / "gem5.py"
    fake.write_text(FAKE_GEM5)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("GEM5", str(fake))
    out = tmp_path / "table"
    assert gem5_table.main(["--out", str(out), "--runs", "ail,pcgov", "--window-us", "50", "--lead-in-us", "100"]) == 0
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["ail", "pcgov"]
    assert pd.read_csv(out / "comparison.csv")["run"].tolist() == ["ail", "pcgov"]
    assert not (out / "split.md").exists()
    assert "not run here: ondemand, conservative, performance, ondemand-own" in capsys.readouterr().out
    assert " --window-us 50 --lead-in-us 100 " in (out / "logs" / "pcgov.log").read_text()
    assert gem5_table.main(["--out", str(out), "--runs", "ondemand,ondemand-own"]) == 0
    assert pd.read_csv(out / "comparison.csv")["run"].tolist() == ["ail", "ondemand", "pcgov", "ondemand-own"]
    assert (out / "split.md").read_text().splitlines()[-1] == "| +14.1% | +11.1% | +2.7% |"
    assert gem5_table.main(["--out", str(out), "--runs", "ail,nope"]) == 2
    assert capsys.readouterr().err.strip() == "gem5_table: error: --runs: unknown run(s) nope"
