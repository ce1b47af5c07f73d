"""Errors survive worker processes, pools die with their parent, Ctrl-C keeps what finished, JSON is strict."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from concurrent.futures import Future
from pathlib import Path

import pytest

from ailfm.cli import main
from ailfm.errors import ConfigError, FormatError, ToolError
from ailfm.files import read_text, write_json_atomic
from ailfm.pools import process_pool


@pytest.mark.parametrize("error", [FormatError("a.flp", 3, "bad width"), FormatError("b.csv", None, "empty"),
                                   ConfigError("thermal.t_max_C", "too hot", path="s.yaml", line=4),
                                   ConfigError("--jobs", "must be >= 1"), ToolError("hotspot failed")])
def test_errors_pickle_as_the_same_one_line(error):
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error) and str(back) == str(error)
    assert vars(back) == vars(error)


def _fail_in_worker(path: str) -> None:
    raise ConfigError("geometry.layers", "must be >= 1, got 0", path=path, line=7)


def test_a_worker_error_reaches_the_parent_as_itself():
    with pytest.raises(ConfigError, match=r"^sys.yaml:7: geometry.layers: must be >= 1, got 0$"):
        with process_pool(1) as pool:
            pool.submit(_fail_in_worker, "sys.yaml").result()


def _state(pid: int) -> str:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return "gone"
    return next(line.split()[1] for line in status.splitlines() if line.startswith("State:"))


def test_pool_workers_exit_when_the_parent_is_killed(tmp_path):
    script = ("import os, sys, time\nfrom ailfm.pools import process_pool\n"
              "with process_pool(2) as pool:\n"
              "    print(*sorted({pool.submit(os.getpid).result() for _ in range(8)}), flush=True)\n"
              "    time.sleep(120)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    workers = [int(pid) for pid in parent.stdout.readline().split()]
    assert workers and all(_state(pid) not in ("gone", "Z") for pid in workers)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_state(pid) not in ("gone", "Z") for pid in workers):
        time.sleep(0.1)
    assert all(_state(pid) in ("gone", "Z") for pid in workers), "workers outlived their killed parent"


class _ReadFuture(Future):
    """A finished future that calls ``after`` once its result has been read."""

    after = None

    def result(self, timeout=None):
        value = super().result(timeout)
        if self.after is not None:
            self.after()
        return value


class _InterruptedExecutor:
    """Runs finish in order; the Ctrl-C comes while the sweep waits for the next run, after ``finished`` were read."""

    def __init__(self, finished: int):
        self.finished, self.futures = finished, []

    def submit(self, fn, config):
        k = len(self.futures)
        future = _ReadFuture() if k < self.finished else Future()
        if k < self.finished:
            future.set_result({"config": {"governor": config.governor}, "summary": {"energy_j": 1.0 + k}})
        if k == self.finished - 1:
            future.after = lambda: self.futures[self.finished].set_exception(KeyboardInterrupt())
        self.futures.append(future)
        return future


def test_ctrl_c_keeps_the_runs_that_finished(tmp_path, monkeypatch, capsys):
    from ailfm.plugins.run import cli, runner

    monkeypatch.setattr(cli, "sweep", lambda configs, **_: runner.sweep(configs, _InterruptedExecutor(2)))
    out = tmp_path / "cmp"
    code = main(["compare", "--governors", "performance,powersave,ondemand", "--out", str(out), "--quiet"])
    assert code == 130
    assert capsys.readouterr().err.strip() == (f"ailfm compare: interrupted: 2 of 3 runs finished; kept in "
                                              f"{out / 'comparison.csv'}")
    kept = (out / "comparison.csv").read_text().splitlines()
    assert kept[0] == "governor,energy_j" and kept[1:] == ["performance,1.0", "powersave,2.0"]


def test_summary_json_is_strict(tmp_path):
    path = tmp_path / "summary.json"
    write_json_atomic(path, {"energy_j": float("inf"), "peak": float("nan"), "runs": [1.5, float("-inf")]})
    assert json.loads(path.read_text(), parse_constant=lambda word: pytest.fail(word)) == {
        "energy_j": None, "peak": None, "runs": [1.5, None]}
    assert not list(tmp_path.glob(".*.tmp")), "the temporary file is renamed away"


def test_text_files_decode_as_utf8_with_the_line_of_a_bad_byte(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_bytes(b"\xef\xbb\xbfa: 1\r\nb: 2\r\nc: \xb0C\r\n")
    with pytest.raises(FormatError, match=r"a.yaml:3: not UTF-8 text: byte 0xb0 at column 4"):
        read_text(path)
    path.write_bytes(b"\xef\xbb\xbfa: 1\r\nb: 2\r\n")
    assert read_text(path) == "a: 1\nb: 2\n"
    with pytest.raises(FormatError, match="byte-order mark"):
        read_text(path, bom=False)
    assert os.access(path, os.R_OK)


def test_a_failed_write_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    """A full disk during the write: the old result stays, no temporary file is left behind."""
    from ailfm import files

    path = tmp_path / "summary.json"
    write_json_atomic(path, {"energy_j": 1.0})

    def full_disk(self, data):
        self.open("wb").write(data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.Path, "write_bytes", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_json_atomic(path, {"energy_j": 2.0, "more": list(range(100))})
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"energy_j": 1.0}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
