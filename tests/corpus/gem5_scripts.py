"""Corpus cases of the gem5 scripts' options and files, without gem5: ``run_ailfm.py``, ``calibrate_nuca.py`` and
``replay_traffic.py`` check everything before gem5 builds the board (``recipe.prepare_run``,
``calibrate_nuca.prepare``, ``sampling.prepare_replay``), and a case runs that part with the scripts' own error
printing (``sitepaths.one_line_errors``); ``collect`` is plain Python."""

from __future__ import annotations

from corpus.cases import Case

RUN = ("--epochs", "2", "--lengths", "fixed:4,2", "--requests", "1", "--instances", "1", "--threads", "2",
       "--out", "{d}/out")
CALIBRATE = ("--out", "{d}/out")
REPLAY = ("--recording", "{d}/rec.parquet", "--window-us", "50", "--out", "{d}/out/replay.parquet")


def recording_bytes(dvfs: str = "rate") -> bytes:
    """A one-step recording of two threads on snuca-64 (what ``run_ailfm.py --record-traffic`` writes)."""
    import io

    import numpy as np

    from ailfm.gem5_configs.epoch import StepTraffic
    from ailfm.gem5_configs.sampling import TrafficRecorder

    recorder = TrafficRecorder({"config": {"system": "snuca-64"}, "epoch_s": 1e-3, "dvfs": dvfs})
    recorder.epoch_states.append({})  # the interval model's state: a replay does not read it
    recorder.add(StepTraffic(5e-5, np.arange(2), *(np.ones(2) for _ in range(5))), np.full(64, 2.0))
    buffer = io.BytesIO()
    recorder.frame().to_parquet(buffer, index=False)
    return buffer.getvalue()


def plain_parquet_bytes() -> bytes:
    import io

    import pandas as pd

    buffer = io.BytesIO()
    pd.DataFrame({"step": [0]}).to_parquet(buffer, index=False)
    return buffer.getvalue()


def _before_gem5(prepare, script: str):
    """What ``gem5.opt gem5_configs/SCRIPT ARGS`` does before gem5 starts (``prepare``), with its error printing;
    0 when the run could start."""
    from ailfm.gem5_configs.sitepaths import one_line_errors

    def main(argv: list[str]) -> int:
        prepare(argv)
        return 0

    return lambda argv: one_line_errors(main, argv, script)


def run_ailfm_entry(argv: list[str]) -> int:
    from ailfm.gem5_configs.recipe import prepare_run

    return _before_gem5(prepare_run, "run_ailfm.py")(argv)


def calibrate_entry(argv: list[str]) -> int:
    from ailfm.gem5_configs.calibrate_nuca import prepare

    return _before_gem5(prepare, "calibrate_nuca.py")(argv)


def replay_entry(argv: list[str]) -> int:
    from ailfm.gem5_configs.sampling import prepare_replay

    return _before_gem5(prepare_replay, "replay_traffic.py")(argv)


def collect_entry(argv: list[str]) -> int:
    from ailfm.gem5_configs.collect import main

    return main(argv)


ENTRIES = {"run_ailfm.py": run_ailfm_entry, "calibrate_nuca.py": calibrate_entry, "replay_traffic.py": replay_entry,
           "collect": collect_entry}


def gem5_cases() -> list[Case]:
    def run(name, argv, *expect, files=None):
        return Case(f"gem5-run-{name}", files or {}, (*RUN, *argv), expect, entry="run_ailfm.py")

    def calibrate(name, argv, *expect, files=None):
        return Case(f"gem5-calibrate-{name}", files or {}, (*CALIBRATE, *argv), expect, entry="calibrate_nuca.py")

    def collect(name, files, argv, *expect):
        return Case(f"gem5-collect-{name}", files, argv, expect, entry="collect")

    cases = [run(f"{flag[2:]}={value}", (flag, value), flag) for flag, value in [
        ("--epochs", "0"), ("--epochs", "-1"), ("--epochs", "x"), ("--seed", "-1"), ("--warm-us", "-1"),
        ("--warm-us", "nan"), ("--warm-us", "inf"), ("--window-us", "0"), ("--window-us", "nan"),
        ("--dvfs", "turbo"), ("--grid-cells", "5000"), ("--thermal", "hot"), ("--requests", "0"),
        ("--instances", "-1")]]
    cases += [
        run("traffic-jitter-1", ("--traffic-jitter", "1.0"), "traffic-jitter", "[0, 1)"),
        run("traffic-jitter-nan", ("--traffic-jitter", "nan"), "traffic-jitter", "[0, 1)"),
        run("traffic-jitter-word", ("--traffic-jitter", "some"), "--traffic-jitter"),
        run("dvfs-old-name", ("--dvfs", "stock"), "--dvfs", "domains"),
        run("governor-param", ("--governor-param", "novalue"), "governor-param", "KEY=VALUE"),
        run("governor-unknown", ("--governor", "ondemnd"), "governor", "ondemand"),
        run("governor-param-unknown", ("--governor", "ondemand", "--governor-param", "up=0.8"), "governor-param",
            "governor 'ondemand': unknown parameter 'up'"),
        run("governor-param-nan", ("--governor", "ondemand", "--governor-param", "up_threshold=.nan"),
            "governor-param", "finite"),
        run("governor-param-none-taken", ("--governor", "performance", "--governor-param", "x=1"),
            "governor-param", "'performance': takes none"),
        run("governor-onnx-missing", ("--governor", "{d}/p.onnx"), "{d}/p.onnx"),
        run("system-unknown", ("--system", "snuca-65"), "system", "snuca-64"),
        run("system-file", ("--system", "{d}/sys.yaml"), "{d}/sys.yaml:3", "thermal.t_max_C",
            files={"sys.yaml": "base: snuca-64\nthermal:\n  t_max_C: 5000\n"}),
        run("workload-config", ("--workload", "{d}/config.json"), "{d}/config.json:2", "hidden_size",
            files={"config.json": '{\n "hidden_size": 1099511627776\n}\n'}),
        run("workload-unknown", ("--workload", "llama-9"), "llama-9"),
        run("threads-do-not-fit", ("--threads", "100"), "threads", "do not fit"),
        run("lengths", ("--lengths", "fixed:x"), "lengths"),
        run("out-is-a-file", ("--out", "{d}/f/out"), "--out", "cannot write", files={"f": "x"}),
        Case("gem5-run-epochs-missing", {}, ("--out", "{d}/out"), ("--epochs",), entry="run_ailfm.py"),
    ]
    cases += [calibrate(f"{flag[2:]}={value}", (flag, value), flag) for flag, value in [
        ("--epoch-us", "0"), ("--epoch-us", "nan"), ("--epoch-us", "-20"), ("--idle-rate", "0"),
        ("--idle-rate", "inf"), ("--load-f-GHz", "0"), ("--load-f-GHz", "99"), ("--load-epochs", "0"),
        ("--load-epochs", "1.5"), ("--load-jitter", "1.5"), ("--load-jitter", "nan"), ("--warm-us", "-1"),
        ("--load-traffic", "dram")]]
    idle = "core,gem5_idle_ns\n" + "".join(f"{c},{30 + c}\n" for c in range(64))
    cases += [
        calibrate("system-unknown", ("--system", "nosuch"), "system", "nosuch"),
        calibrate("load-workload-unknown", ("--load-workload", "llama-9"), "llama-9"),
        calibrate("load-workload-config", ("--load-workload", "{d}/config.json"), "{d}/config.json:2", "hidden_size",
                  files={"config.json": '{\n "hidden_size": -1\n}\n'}),
        calibrate("idle-csv-missing", ("--idle-csv", "{d}/none.csv"), "--idle-csv", "{d}/none.csv"),
        calibrate("idle-csv-latin-1", ("--idle-csv", "{d}/i.csv"), "--idle-csv", "{d}/i.csv:3", "not UTF-8",
                  files={"i.csv": b"core,gem5_idle_ns\n0,30\n1,3\xb5\n"}),
        calibrate("idle-csv-columns", ("--idle-csv", "{d}/i.csv"), "--idle-csv", "gem5_idle_ns",
                  files={"i.csv": "core,latency\n0,30\n"}),
        calibrate("idle-csv-short", ("--idle-csv", "{d}/i.csv"), "--idle-csv", "64 cores",
                  files={"i.csv": "core,gem5_idle_ns\n0,30\n"}),
        calibrate("idle-csv-word", ("--idle-csv", "{d}/i.csv"), "--idle-csv", "positive",
                  files={"i.csv": idle.replace("0,30\n", "0,fast\n", 1)}),
        calibrate("idle-csv-negative", ("--idle-csv", "{d}/i.csv"), "--idle-csv", "positive",
                  files={"i.csv": idle.replace("0,30\n", "0,-30\n", 1)}),
        calibrate("idle-csv-duplicate-core", ("--idle-csv", "{d}/i.csv"), "--idle-csv", "core 1 appears twice",
                  files={"i.csv": idle + "1,31\n"}),
        calibrate("idle-csv-empty", ("--idle-csv", "{d}/i.csv"), "--idle-csv", "{d}/i.csv", files={"i.csv": ""}),
        Case("gem5-calibrate-out-missing", {}, (), ("--out",), entry="calibrate_nuca.py"),
    ]

    def replay(name, argv, *expect, files=None):
        return Case(f"gem5-replay-{name}", {"rec.parquet": recording_bytes(), **(files or {})}, (*REPLAY, *argv),
                    expect, entry="replay_traffic.py")

    cases += [replay(f"{flag[2:]}={value}", (flag, value), flag) for flag, value in [
        ("--window-us", "0"), ("--window-us", "nan"), ("--window-us", "-50"), ("--epochs", "0")]]
    cases += [
        replay("recording-missing", ("--recording", "{d}/none.parquet"), "{d}/none.parquet", "file not found"),
        replay("recording-not-parquet", (), "{d}/rec.parquet", "not a Parquet file", files={"rec.parquet": "x,y\n"}),
        replay("recording-foreign", (), "{d}/rec.parquet", "not a traffic recording",
               files={"rec.parquet": plain_parquet_bytes()}),
        replay("recording-stock", (), "recording", "--dvfs stock", files={"rec.parquet": recording_bytes("stock")}),
        replay("out-is-a-file", ("--out", "{d}/f/replay.parquet"), "--out", "cannot write", files={"f": "x"}),
        Case("gem5-replay-window-missing", {}, ("--recording", "{d}/r.parquet", "--out", "{d}/o.parquet"),
             ("--window-us",), entry="replay_traffic.py"),
    ]
    summary = '{"energy_j": 1.0, "config": {"governor": "ail"}}\n'
    cases += [
        collect("missing", {}, ("{d}/run",), "{d}/run/summary.json", "not found"),
        collect("truncated", {"run/summary.json": '{\n"energy_j": 1.0,\n"config": {'}, ("{d}/run",),
                "{d}/run/summary.json:3", "invalid JSON"),
        collect("latin-1", {"run/summary.json": b'{"energy_j": 1.0,\n"note": "\xb5"}'}, ("{d}/run",),
                "{d}/run/summary.json:2", "not UTF-8"),
        collect("list", {"run/summary.json": "[1, 2]\n"}, ("{d}/run",), "{d}/run/summary.json", "run summary"),
        collect("nan", {"run/summary.json": '{"energy_j": NaN}\n'}, ("{d}/run",), "{d}/run/summary.json:1", "NaN"),
        collect("energy-word", {"run/summary.json": '{\n"energy_j": "lots"\n}\n', "run/timeline.parquet": b"x"},
                ("{d}/run",), "{d}/run/summary.json:2", "energy_j", "expected a number"),
        collect("timeline-garbage", {"run/summary.json": summary, "run/timeline.parquet": b"PAR1garbage"},
                ("{d}/run",), "{d}/run/timeline.parquet", "timeline"),
        collect("csv-unwritable", {"run/summary.json": summary, "f": "x"}, ("{d}/run", "--csv", "{d}/f/t.csv"),
                "--csv", "{d}/f/t.csv"),
        collect("no-runs", {}, (), "runs"),
    ]
    return cases
