"""A policy that passes the static contract but computes a wrong shape, NaN or inf is stopped on the call that
returns it, with one line naming the file and what it returned (never a heap corruption or cores pinned to f_min)."""

from __future__ import annotations

import numpy as np
import pytest
from corpus.policies import crafted_policy

from ailfm.cli import main
from ailfm.errors import ConfigError
from ailfm.plugins.imitation.contract import load_policy
from ailfm.plugins.imitation.features import N_FEATURES


@pytest.mark.parametrize(("kind", "message"), [
    ("shape", r"returned 'core_actions' of shape \[1, 2\] for 8 cores; the contract is \[n_cores, 2\]"),
    ("nan", r"returned nan for core 0, column 0 \(16 non-finite values\)"),
    ("inf", r"returned inf for core 0, column 0 \(16 non-finite values\)"),
])
def test_crafted_policies_are_stopped_naming_the_file(tmp_path, kind, message):
    path = crafted_policy(tmp_path / f"{kind}.onnx", kind)
    policy = load_policy(path)  # the static contract cannot see it
    with pytest.raises(ConfigError, match=message) as caught:
        policy(np.zeros((8, N_FEATURES), np.float32))
    assert str(caught.value).startswith(f"{path}: governor: ")


@pytest.mark.parametrize("kind", ["shape", "nan"])
def test_a_crafted_policy_stops_a_simulation_with_one_line(tmp_path, capsys, tiny_system_path, kind):
    path = crafted_policy(tmp_path / f"{kind}.onnx", kind)
    code = main(["simulate", "--system", tiny_system_path, "--governor", str(path), "--duration", "0.005",
                 "--lengths", "fixed:4,2", "--requests", "1", "--instances", "1", "--threads", "2",
                 "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert f"{path}: governor: returned" in err


def test_a_wrong_shape_policy_does_not_crash_a_separate_process(tmp_path, tiny_system_path):
    """In its own process (an abort would show as a negative return code, not 2)."""
    import subprocess
    import sys

    path = crafted_policy(tmp_path / "shape.onnx", "shape")
    done = subprocess.run([sys.executable, "-m", "ailfm.cli", "simulate", "--system", tiny_system_path, "--governor",
                           str(path), "--duration", "0.005", "--lengths", "fixed:4,2", "--requests", "1",
                           "--instances", "1", "--threads", "2", "--out", str(tmp_path / "out"), "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (f"ailfm simulate: error: {path}: governor: returned 'core_actions' of shape [1, 2] "
                                   "for 8 cores; the contract is [n_cores, 2]")


def test_the_shipped_edp_policy_says_it_was_trained_for_edp():
    from ailfm.plugins.governors.onnx_governor import AilEdpGovernor, AilGovernor
    from ailfm.plugins.governors.registry import make_governor

    assert isinstance(make_governor("ail-edp"), AilEdpGovernor)
    assert make_governor("ail-edp").policy.objective == "edp"
    assert AilGovernor().policy.objective == "throughput"
