"""map search checkpoints are data, bound to their configuration, and a results folder holds one run at a time."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from ailfm.cli import main
from ailfm.errors import ConfigError, FormatError
from ailfm.files import run_lock
from ailfm.mapping.evaluator import Evaluator
from ailfm.mapping.search.ga import SearchSettings, run_search

SMALL = SearchSettings(pop_size=10, n_gen=4, seed=3, checkpoint_every=1)


@pytest.fixture(scope="module")
def evaluator(tiny, mixed_hw):
    return Evaluator(tiny, mixed_hw)


class _Payload:
    """Unpickling this would create a file: the proof that a checkpoint ran code."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_pareto_search_resumes_bit_for_bit(evaluator, tmp_path):
    settings = SearchSettings(pop_size=12, n_gen=4, seed=5, objective="pareto", checkpoint_every=1)
    whole = run_search(evaluator, settings)
    ckpt = tmp_path / "c.npz"
    run_search(evaluator, settings, checkpoint=ckpt, stop_after_generations=2)
    resumed = run_search(evaluator, settings, checkpoint=ckpt)
    np.testing.assert_array_equal(resumed.pareto_F, whole.pareto_F)
    assert [r["mean_edp"] for r in resumed.log] == [r["mean_edp"] for r in whole.log]


def test_a_pickle_in_place_of_the_checkpoint_runs_no_code(evaluator, tmp_path):
    marker = tmp_path / "pwned"
    ckpt = tmp_path / "c.npz"
    ckpt.write_bytes(pickle.dumps(_Payload(str(marker))))
    with pytest.raises(FormatError, match="not a readable map search checkpoint"):
        run_search(evaluator, SMALL, checkpoint=ckpt)
    assert not marker.exists()


def test_a_truncated_checkpoint_is_one_clean_error(evaluator, tmp_path):
    ckpt = tmp_path / "c.npz"
    run_search(evaluator, SMALL, checkpoint=ckpt, stop_after_generations=2)
    ckpt.write_bytes(ckpt.read_bytes()[:300])
    with pytest.raises(FormatError, match="c.npz: not a readable"):
        run_search(evaluator, SMALL, checkpoint=ckpt)


def test_another_configuration_is_refused_naming_the_fields(evaluator, tmp_path):
    ckpt = tmp_path / "c.npz"
    run_search(evaluator, SMALL, checkpoint=ckpt, config={"serving": "orca"})
    with pytest.raises(ConfigError, match=r"n_gen: 4 -> 6.*cannot be extended"):
        run_search(evaluator, SearchSettings(pop_size=10, n_gen=6, seed=3), checkpoint=ckpt)
    with pytest.raises(ConfigError, match=r"seed: 3 -> 4"):
        run_search(evaluator, SearchSettings(pop_size=10, n_gen=4, seed=4), checkpoint=ckpt)
    with pytest.raises(ConfigError, match=r"serving: 'orca' -> 'vllm'"):
        run_search(evaluator, SMALL, checkpoint=ckpt, config={"serving": "vllm"})
    # the checkpoint interval changes no result: same configuration
    assert run_search(evaluator, SearchSettings(pop_size=10, n_gen=4, seed=3, checkpoint_every=5),
                      checkpoint=ckpt, config={"serving": "orca"}).generations == 4


def _scenario(cfg, tmp_path, serving="orca"):
    hw = tmp_path / "hw.yaml"
    hw.write_text("mesh: {cols: 2, rows: 2}\nchiplet_types:\n  a: {dataflow: os, macs: 256, buffer_KiB: 64}\n"
                  "layout: [[a, a], [a, a]]\n")
    return ["map", "search", "--model", str(cfg), "--hardware", str(hw), "--serving", serving, "--slots", "4",
            "--micro-batches", "2", "--tensor-parallel", "2", "--steps", "1", "--pop", "6", "--gen", "2",
            "--workers", "1", "--no-progress"]


def test_cli_refuses_a_used_folder_without_resume_and_another_serving_with_it(tiny_config, tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main([*_scenario(tiny_config, tmp_path), "--out", out]) == 0
    capsys.readouterr()
    assert main([*_scenario(tiny_config, tmp_path, "vllm"), "--out", out]) == 2
    assert "add --resume" in capsys.readouterr().err
    assert main([*_scenario(tiny_config, tmp_path, "vllm"), "--out", out, "--resume"]) == 2
    err = capsys.readouterr().err
    assert "checkpoint.npz: --out: the checkpoint was made with another configuration" in err
    assert "serving: 'orca' -> 'vllm'" in err and "Traceback" not in err
    assert main([*_scenario(tiny_config, tmp_path), "--out", out, "--gen", "4", "--resume"]) == 2
    assert "n_gen: 2 -> 4" in capsys.readouterr().err
    assert main([*_scenario(tiny_config, tmp_path), "--out", out, "--resume"]) == 0


def test_cli_refuses_a_locked_or_unwritable_folder(tiny_config, tmp_path, capsys):
    out = tmp_path / "busy"
    out.mkdir()
    with run_lock(out):
        assert main([*_scenario(tiny_config, tmp_path), "--out", str(out)]) == 2
    assert f"{out} is in use by a running command (pid {os.getpid()})" in capsys.readouterr().err
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    assert main([*_scenario(tiny_config, tmp_path), "--out", str(blocked / "x")]) == 2
    assert f"--out: cannot write to {blocked / 'x'}: Not a directory" in capsys.readouterr().err


def test_ctrl_c_ends_a_pooled_search_cleanly(tiny_config, tmp_path):
    """SIGINT to the whole process group, as a terminal sends it: one line, exit 130, no worker left."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    command = [sys.executable, "-m", "ailfm.cli", *_scenario(tiny_config, tmp_path), "--out", str(out)]
    command[command.index("--gen") + 1] = "1000000"  # never ends before the Ctrl-C
    command[command.index("--workers") + 1] = "2"
    # a shell starts background jobs with SIGINT ignored, and a child inherits that: restore the terminal's default
    proc = subprocess.Popen([*command, "--checkpoint-every", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not (out / "checkpoint.npz").exists():
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read()
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == (f"ailfm map: interrupted: the last checkpoint is kept in "
                                            f"{out / 'checkpoint.npz'}: add --resume to continue")
    assert "Traceback" not in err
    leftover = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert not leftover, f"processes left in the group: {leftover}"
