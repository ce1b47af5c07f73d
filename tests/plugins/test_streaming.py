"""Streaming, checkpointed, resumable runs (``plugins/run/outputs.py``) and the loop's numerical guards.

An interrupted run is simulated in-process: the run folder raises right after a checkpoint, or right after writing a
chunk whose checkpoint never came (what kill -9 leaves on disk in either case); ``--resume`` must then give the same
bytes as an uninterrupted run. The real kill -9 at random points of a long run is ``bench/simulate_memory.py``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from ailfm.cli import main
from ailfm.errors import ConfigError, FormatError
from ailfm.plugins.epoch.cosim import NumericalError
from ailfm.plugins.run.config import RunConfig
from ailfm.plugins.run.outputs import OUTPUTS, RunFolder
from ailfm.plugins.run.runner import simulate_into, simulation

RESULT_FILES = ("timeline.parquet", "epochs.parquet", "cores.parquet", "summary.json")
CHUNK = 30


class Stopped(Exception):
    """Stands for the process dying."""


def _interrupting(monkeypatch, method: str, after: int) -> None:
    """Make ``RunFolder.<method>`` die after its ``after``-th call has done its work."""
    original, calls = getattr(RunFolder, method), []

    def dying(self, *args):
        original(self, *args)
        calls.append(1)
        if len(calls) == after:
            raise Stopped

    monkeypatch.setattr(RunFolder, method, dying)


def _config(governor: str, thermal: str) -> RunConfig:
    return RunConfig(governor=governor, thermal=thermal, grid_cells=8, duration_s=0.16, lengths="fixed:4,2")


@pytest.mark.parametrize("governor, thermal, method", [("ail", "fast", "checkpoint"), ("pcgov", "grid", "write")])
def test_resumed_run_gives_the_same_bytes(tmp_path, monkeypatch, governor, thermal, method):
    """ail carries a feature average and the shield's thermal twin, pcgov its memory-core set; the fast model is
    advanced by the compiled epoch, the grid model through the seams."""
    config = _config(governor, thermal)
    simulate_into(config, tmp_path / "whole", chunk_epochs=CHUNK)
    with monkeypatch.context() as patch:
        _interrupting(patch, method, after=3)
        with pytest.raises(Stopped):
            simulate_into(config, tmp_path / "cut", chunk_epochs=CHUNK)
    assert (tmp_path / "cut" / "checkpoint.npz").exists() and not (tmp_path / "cut" / "summary.json").exists()
    with pytest.raises(ConfigError, match="add --resume"):
        simulate_into(config, tmp_path / "cut", chunk_epochs=CHUNK)
    simulate_into(config, tmp_path / "cut", chunk_epochs=CHUNK, resume=True)
    for name in RESULT_FILES:
        assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "cut" / name).read_bytes(), name
    assert not (tmp_path / "cut" / "checkpoint.npz").exists() and not (tmp_path / "cut" / ".partial").exists()
    timing = json.loads((tmp_path / "cut" / "timing.json").read_text())
    assert set(timing) == {"governor_us_per_decision", "sim_speed_x_realtime", "compile_s"}
    assert not set(timing) & set(json.loads((tmp_path / "cut" / "summary.json").read_text()))


@pytest.fixture
def interrupted(tmp_path, monkeypatch):
    """A run folder with a checkpoint, as a killed run leaves it."""
    with monkeypatch.context() as patch:
        _interrupting(patch, "checkpoint", after=1)
        with pytest.raises(Stopped):
            simulate_into(_config("performance", "fast"), tmp_path / "run", chunk_epochs=CHUNK)
    return tmp_path / "run"


def test_a_checkpoint_of_another_configuration_is_refused(interrupted):
    with pytest.raises(ConfigError, match=r"governor: 'performance' -> 'ondemand'"):
        simulate_into(_config("ondemand", "fast"), interrupted, chunk_epochs=CHUNK, resume=True)
    with pytest.raises(ConfigError, match=r"checkpoint_every: 30 -> 40"):
        simulate_into(_config("performance", "fast"), interrupted, chunk_epochs=40, resume=True)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "pickle", "foreign arrays"])
def test_a_damaged_or_crafted_checkpoint_is_one_clean_error(interrupted, damage):
    path = interrupted / "checkpoint.npz"
    if damage == "garbage":
        path.write_bytes(b"not a checkpoint")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:300])
    elif damage == "pickle":  # an object array can only be read by unpickling: refused, never run
        np.savez(path, **{"folder.meta": np.array([{"version": 1}], dtype=object)})
    else:  # well-formed, the right description, arrays that do not fit the run
        with np.load(path) as npz:
            state = {k: npz[k] for k in npz.files}
        state["engine.kernel"] = np.zeros((1, 99), dtype=np.int64)
        np.savez(path, **state)
    with pytest.raises(FormatError, match="checkpoint.npz"):
        simulate_into(_config("performance", "fast"), interrupted, chunk_epochs=CHUNK, resume=True)


def test_simulate_refuses_a_folder_in_use(tmp_path, capsys):
    from ailfm.files import run_lock

    out = tmp_path / "busy"
    out.mkdir()
    with run_lock(out):
        assert main(["simulate", "--out", str(out), "--duration", "0.003", "--grid-cells", "8", "--quiet"]) == 2
    assert "in use" in capsys.readouterr().err
    assert not any((out / name).exists() for name in OUTPUTS)


@pytest.mark.parametrize("thermal", ["fast", "grid"])
def test_runaway_stops_the_run_naming_epoch_and_core(thermal):
    """Leakage growing 50 % per kelvin (a system file can be valid and still run away): the run stops with the
    epoch and the core instead of going on to inf and NaN (the grid model is stepped through the thermal seam, which
    would refuse the power without saying when)."""
    sim = simulation(_config("performance", thermal))
    sim.power.constants[7] = 0.5  # leakage_beta_per_K
    with pytest.raises(NumericalError, match=r"epoch \d+ \(t = .* s\), core \d+: (temperature|power) "):
        sim.run(0.5)


def test_compare_resumes_by_reusing_finished_runs(tmp_path, capsys):
    out = tmp_path / "cmp"
    argv = ["compare", "--governors", "performance,ondemand", "--jobs", "1", "--out", str(out), "--duration", "0.005",
            "--grid-cells", "8", "--quiet"]
    assert main(argv) == 0
    first = (out / "comparison.csv").read_bytes()
    runs = sorted((out / "runs").iterdir())
    assert [r.name for r in runs] == ["00-performance-seed0", "01-ondemand-seed0"]
    stamps = [(r / "timeline.parquet").stat().st_mtime_ns for r in runs]
    (runs[1] / "checkpoint.npz").write_bytes(b"")  # as if the second run had been killed
    assert main(argv) == 2
    assert "add --resume" in capsys.readouterr().err
    (runs[1] / "checkpoint.npz").unlink()
    assert main([*argv, "--resume"]) == 0
    assert (out / "comparison.csv").read_bytes() == first  # read back from the runs' files
    assert "sim_speed_x_realtime" not in first.decode() and "sim_speed_x_realtime" in (out / "timing.csv").read_text()
    assert [(r / "timeline.parquet").stat().st_mtime_ns for r in runs] == stamps


def test_a_full_disk_keeps_the_checkpoint_and_no_half_result(tmp_path, monkeypatch):
    import ailfm.files

    config, write = _config("performance", "fast"), ailfm.files.write_atomic

    def full_disk(path, data):
        if path.name == "summary.json":
            raise OSError(28, "No space left on device", str(path))
        write(path, data)

    with monkeypatch.context() as patch:
        patch.setattr(ailfm.files, "write_atomic", full_disk)  # summary.json goes through write_json_atomic
        with pytest.raises(ConfigError, match="No space left on device; the last checkpoint is kept"):
            simulate_into(config, tmp_path / "full", chunk_epochs=CHUNK)
    assert not (tmp_path / "full" / "summary.json").exists()
    assert not list((tmp_path / "full").glob(".*.tmp"))
    simulate_into(config, tmp_path / "full", chunk_epochs=CHUNK, resume=True)
    simulate_into(config, tmp_path / "whole", chunk_epochs=CHUNK)
    for name in RESULT_FILES:
        assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "full" / name).read_bytes(), name
