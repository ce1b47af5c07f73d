"""Active DAgger: the loop runs, checkpoints every roll-out, and resumes to exactly the uninterrupted result."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from ailfm.plugins.imitation.dagger import Checkpoint, Interrupted, TrainConfig, train


@pytest.fixture(scope="module")
def config(tiny_system_path):
    return TrainConfig(method="active", system=tiny_system_path, workloads=("llama-2-7b", "bert-large"),
                       iterations=2, rollouts=3, warmup_epochs=(4, 8), epochs=3, lengths="fixed:4,2", requests=2,
                       instances=1, threads=2, threshold=0.0, members=2, validation=1, thermal_cells=8)


def _shards(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    return {k: v["sha256"] for k, v in manifest["shards"].items()}, manifest


def test_resume_after_interruption_gives_the_uninterrupted_result(config, tmp_path):
    with ThreadPoolExecutor(1) as pool:
        whole, record = train(config, tmp_path / "whole", pool, progress=False)
        with pytest.raises(Interrupted):
            train(config, tmp_path / "cut", pool, progress=False, max_new_shards=4)
        cut_shards, _ = _shards(tmp_path / "cut")
        assert len(cut_shards) == 4  # iteration 0 (3 roll-outs) and one of iteration 1
        resumed, resumed_record = train(config, tmp_path / "cut", pool, progress=False)
    whole_shards, manifest = _shards(tmp_path / "whole")
    resumed_shards, _ = _shards(tmp_path / "cut")
    assert resumed_shards == whole_shards and len(whole_shards) == config.iterations * config.rollouts
    x_whole, y_whole = Checkpoint(tmp_path / "whole", config).data(1)
    x_cut, y_cut = Checkpoint(tmp_path / "cut", config).data(1)
    assert np.array_equal(x_whole, x_cut) and np.array_equal(y_whole, y_cut)
    assert len(x_whole) == 8 * sum(s["queries"] for s in manifest["shards"].values())
    probe = x_whole[:16]
    assert np.array_equal(whole.policy.predict(probe), resumed.policy.predict(probe))
    assert record == resumed_record and set(record) == {"0", "1"}
    assert 0 < record["1"]["queries"] and "quality" in record["1"]


def test_a_folder_of_another_run_is_refused(config, tmp_path):
    from dataclasses import replace

    from ailfm.errors import ConfigError
    from ailfm.plugins.imitation.oracle import OracleConfig

    Checkpoint(tmp_path, config)
    with pytest.raises(ConfigError, match="another configuration"):
        Checkpoint(tmp_path, replace(config, seed=1))
    with pytest.raises(ConfigError, match="another configuration"):
        Checkpoint(tmp_path, replace(config, oracle=OracleConfig(objective="edp")))


def test_a_run_written_before_the_objective_existed_resumes(config, tmp_path):
    """A manifest without ``oracle.objective`` (older ailfm) is a throughput run: the same configuration."""
    from ailfm.errors import ConfigError

    Checkpoint(tmp_path, config)
    path = tmp_path / "manifest.json"
    manifest = json.loads(path.read_text())
    del manifest["config"]["oracle"]["objective"]
    path.write_text(json.dumps(manifest))
    Checkpoint(tmp_path, config)
    manifest["config"]["seed"] = 7
    path.write_text(json.dumps(manifest))
    with pytest.raises(ConfigError, match="another configuration"):
        Checkpoint(tmp_path, config)


def test_a_dask_cluster_gives_the_same_shards_as_a_local_pool(config, tmp_path):
    from dataclasses import replace

    from distributed import Client, LocalCluster

    small = replace(config, iterations=1, rollouts=2, validation=0)
    with ThreadPoolExecutor(1) as pool:
        train(small, tmp_path / "local", pool, progress=False)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        train(small, tmp_path / "dask", client.get_executor(), progress=False)
    assert _shards(tmp_path / "local")[0] == _shards(tmp_path / "dask")[0]


def test_ail_train_records_its_objective_and_vf_rule_in_the_policy_file(tmp_path):
    from ailfm.cli import main
    from ailfm.plugins.imitation.contract import load_policy

    out = tmp_path / "run"
    assert main(["ail", "train", "--out", str(out), "--workloads", "gpt2-xl", "--iterations", "1", "--rollouts", "1",
                 "--epochs", "1", "--validation", "0", "--objective", "tokens-per-joule", "--vf-rule", "per-instance",
                 "--warmup-epochs", "0,2", "--jobs", "1", "--quiet"]) == 0
    policy = load_policy(out / "policy.onnx")
    assert (policy.objective, policy.vf_rule) == ("tokens-per-joule", "per-instance")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["oracle"]["objective"] == "tokens-per-joule"
    assert manifest["config"]["vf_rule"] == "per-instance"
    assert manifest["config"]["warmup_epochs"] == [0, 2]


def test_a_warmup_range_upside_down_is_refused_in_one_line(tmp_path, capsys):
    from ailfm.cli import main
    from ailfm.errors import ConfigError
    from ailfm.plugins.imitation.dagger import TrainConfig

    with pytest.raises(SystemExit) as stop:
        main(["ail", "train", "--out", str(tmp_path / "run"), "--warmup-epochs", "9,3"])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "ailfm ail train: error: argument --warmup-epochs: need MIN,MAX with integers 0 <= MIN <= MAX, got '9,3'")
    assert not (tmp_path / "run").exists()
    with pytest.raises(ConfigError, match="warmup_epochs"):
        TrainConfig(warmup_epochs=(3, 1))


def test_several_systems_are_drawn_last_so_a_single_system_keeps_its_scenarios(config):
    """``--system a,b``: each roll-out draws one; every other field is what the single-system run draws, so a
    single-system run (the shipped ``ail-edp``'s) keeps the scenarios it had before systems could be drawn."""
    from dataclasses import replace

    from ailfm.plugins.imitation.dagger import iteration_scenarios

    one = replace(config, rollouts=8)
    both = replace(one, system=f"{config.system},snuca-64-2l")
    drawn, single = iteration_scenarios(both, 1), iteration_scenarios(one, 1)
    assert {s.system for s in drawn} == {config.system, "snuca-64-2l"}
    assert {s.system for s in single} == {config.system}
    for a, b in zip(drawn, single, strict=True):
        assert replace(a, system=b.system) == b


def test_several_length_sources_are_drawn_after_the_system_so_one_source_keeps_its_scenarios(config, tmp_path):
    """``--lengths a;b``: each roll-out draws one, after everything else, so the shipped single-source recipe keeps
    its scenarios; a source that cannot be read is refused when the configuration is made."""
    from dataclasses import replace

    from ailfm.errors import ConfigError
    from ailfm.plugins.imitation.dagger import iteration_scenarios

    trace = tmp_path / "trace.csv"
    trace.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 00:00:00.000000,3,1\n"
                     "2023-11-16 00:00:00.500000,2,2\n")
    one = replace(config, rollouts=8)
    both = replace(one, lengths=f"{config.lengths};{trace}")
    drawn, single = iteration_scenarios(both, 1), iteration_scenarios(one, 1)
    assert {s.lengths for s in drawn} == {config.lengths, str(trace)}
    for a, b in zip(drawn, single, strict=True):
        assert replace(a, lengths=b.lengths) == b
    with pytest.raises(ConfigError, match="nope.csv"):
        replace(config, lengths=f"{config.lengths};{tmp_path / 'nope.csv'}")


def test_fmax_target_moves_only_the_fmax_labels_and_is_bounded():
    """``--fmax-target``: f_max labels (fraction 1) are fitted at the target, every other label as it was; the
    default leaves the targets as they are (the shipped policies reproduce)."""
    from ailfm.errors import ConfigError
    from ailfm.plugins.imitation.dagger import TrainConfig, fmax_training_targets

    y = np.array([[1.0, 0.3], [0.5, 1.0], [0.0, 0.0]])
    assert fmax_training_targets(y, 1.0) is y
    moved = fmax_training_targets(y, 1.033)
    assert moved.tolist() == [[1.033, 0.3], [0.5, 1.0], [0.0, 0.0]] and y[0, 0] == 1.0
    for bad in (0.9, 2.5):
        with pytest.raises(ConfigError, match="fmax_target"):
            TrainConfig(fmax_target=bad)
