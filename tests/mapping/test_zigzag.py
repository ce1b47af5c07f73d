"""ZigZag backend: public-design descriptions, cached per shape and description (skipped without zigzag-dse)."""

import argparse
import importlib.util
import json

import numpy as np
import pytest

from ailfm.cli import main
from ailfm.errors import ConfigError
from ailfm.mapping.cli import add_scenario_arguments, evaluator_from_args, gemm_costs_from_args
from ailfm.mapping.cost import GemmCost, gemm_cost
from ailfm.mapping.evaluator import Evaluator
from ailfm.mapping.hardware import ChipletType, load_hardware
from ailfm.mapping.models import load_model
from ailfm.mapping.workload import build_jobs, load_lengths, make_workload
from ailfm.mapping.zigzag_backend import ZigZagCache, ZigZagCostModel, accelerator_description, mapping_description

needs_zigzag = pytest.mark.skipif(importlib.util.find_spec("zigzag") is None,
                                  reason="zigzag-dse is not installed (pip install 'ailfm[zigzag]')")
OS = ChipletType("os", "os", 1024, 2048)
WS = ChipletType("ws", "ws", 1024, 2048)


def test_unsupported_dataflow_names_the_field():
    with pytest.raises(ConfigError, match="chiplet_types.e.dataflow"):
        accelerator_description(ChipletType("e", "eyeriss", 1024, 2048), 8.0, 160.0)


def test_descriptions_follow_the_public_designs():
    tpu = accelerator_description(WS, 8.0, 160.0)["memories"]
    assert "I2" not in tpu["buffer"]["operands"]              # TPU v1: weights bypass the unified buffer
    assert tpu["accumulator"]["operands"] == ["O"]            # partial sums in the accumulators
    assert tpu["register"]["size"] == 8 * WS.register_bytes   # double-buffered weights per PE
    npu = accelerator_description(OS, 8.0, 160.0)["memories"]
    assert npu["register"]["operands"] == ["O"]
    assert {"I1", "I2", "O"} == set(npu["buffer"]["operands"])
    # one DRAM interface: every operand arrives in the buffer through one write port of the DRAM bandwidth
    fills = [p for p in npu["buffer"]["ports"] if any(a.endswith("fh") for a in p["allocation"])]
    assert len(fills) == 1 and fills[0]["bandwidth_max"] == 64
    assert {"I1, fh", "I2, fh"} <= set(fills[0]["allocation"])
    # a staging memory of two array tiles below the buffer for each input operand (TPU: systolic data setup)
    assert npu["input_staging"]["size"] == npu["weight_staging"]["size"] == 8 * 2 * 1024
    assert tpu["input_staging"]["operands"] == ["I1"]


@needs_zigzag
def test_zigzag_latency_is_not_below_the_time_its_own_dram_bytes_need(tmp_path):
    # 64 x 128 x 64 fits on chip: ZigZag once loaded inputs and weights in parallel through per-operand fill
    # ports and reported 1,553 cycles for 20,480 bytes at 8 B/cycle (2,560 cycles)
    z = ZigZagCostModel(ZigZagCache(tmp_path, progress=False), 8.0, 160.0)(np.array([[64, 128, 64]]), OS)
    assert z.dram_bytes[0] == 20480
    assert z.cycles[0] >= z.dram_bytes[0] / 8


@needs_zigzag
def test_cached_results_agree_with_the_analytic_model_on_a_decode_gemm(tmp_path):
    # a decode-sized GEMM: every operand fits the buffer and moves once in both models; DRAM bound at 8 B/cycle
    cache = ZigZagCache(tmp_path, progress=False)
    costs = ZigZagCostModel(cache, 8.0, 160.0)
    shape = np.array([[8, 4096, 1024]])
    z = costs(shape, OS)
    ours = gemm_cost(shape, OS)
    assert z.dram_bytes[0] == pytest.approx(ours.dram_bytes[0], rel=1e-6)
    assert z.cycles[0] == pytest.approx(ours.dram_bytes[0] / 8, rel=0.02)
    assert cache.runs == 1
    costs(np.array([[8, 4096, 1024], [8, 4096, 1024]]), OS)  # seen: no new run
    assert cache.runs == 1
    files = list(tmp_path.glob("zigzag-*.json"))
    assert len(files) == 1 and "8,4096,1024" in json.loads(files[0].read_text())["results"]
    costs(shape, WS)  # another description, another file
    assert cache.runs == 2 and len(list(tmp_path.glob("zigzag-*.json"))) == 2


def test_the_evaluator_prices_gemms_with_the_cost_model_it_is_given(tiny, mixed_hw):
    def doubled(mkn, chiplet):
        c = gemm_cost(mkn, chiplet)
        return GemmCost(2 * c.cycles, c.dram_bytes, c.buffer_bytes, c.accumulator_bytes, c.register_bytes,
                        c.row_blocks, c.column_blocks)

    base, slow = Evaluator(tiny, mixed_hw), Evaluator(tiny, mixed_hw, cost_model=doubled)
    assert (slow.compute_time_s >= base.compute_time_s).all()
    assert (slow.compute_time_s > base.compute_time_s).any()


@needs_zigzag
def test_a_search_on_zigzag_costs_runs_zigzag_only_for_unseen_shapes(tmp_path, tiny_config, capsys):
    # pre-fill the cache with every GEMM shape of the scenario (values from the analytic model): the CLI must find
    # them all and run ZigZag for none
    cfg = tiny_config
    hw = tmp_path / "hw.yaml"
    hw.write_text("mesh: {cols: 2, rows: 1}\nchiplet_types:\n  a: {dataflow: os, macs: 256, buffer_KiB: 64}\n"
                  "  b: {dataflow: ws, macs: 256, buffer_KiB: 64}\nlayout: [[a, b]]\n")
    scenario = ["--model", str(cfg), "--hardware", str(hw), "--serving", "vllm", "--slots", "2",
                "--micro-batches", "1", "--tensor-parallel", "1", "--steps", "1", "--cost", "zigzag",
                "--zigzag-cache", str(tmp_path / "cache"), "--zigzag-workers", "1"]
    parser = argparse.ArgumentParser()
    add_scenario_arguments(parser)
    args = parser.parse_args(scenario)
    workload = make_workload(load_model(cfg), "vllm", load_lengths("azure-conv"), n_slots=2, n_micro_batches=1,
                             n_steps=1, tensor_parallel=1, n_blocks=1, seed=0)
    shapes = np.unique(build_jobs(workload, 1).gemm_mkn.reshape(-1, 3).astype(np.int64), axis=0)
    hardware = load_hardware(hw)
    model = gemm_costs_from_args(args, hardware)
    for chiplet in hardware.types:
        accelerator = accelerator_description(chiplet, model.dram_bytes_per_cycle, model.dram_pJ_per_byte)
        key = model.cache.key(accelerator, mapping_description(chiplet), chiplet.partial_sum_bytes)
        ours = gemm_cost(shapes, chiplet)
        model.cache.store(key, accelerator, {
            ",".join(map(str, s)): {"cycles": float(ours.cycles[i]), "dram_bytes": float(ours.dram_bytes[i]),
                                    "buffer_bytes": 0.0, "accumulator_bytes": 0.0, "register_bytes": 0.0}
            for i, s in enumerate(shapes)})
    capsys.readouterr()
    evaluator_from_args(args)
    assert "ZigZag costs: 0 new runs" in capsys.readouterr().out
    assert main(["map", "search", *scenario, "--out", str(tmp_path / "run"), "--pop", "4", "--gen", "1",
                 "--workers", "1", "--no-progress"]) == 0


@needs_zigzag
def test_explore_on_zigzag_costs_refuses_designs_zigzag_cannot_describe(tmp_path, capsys):
    assert main(["map", "explore", "--model", "llama-3-8b", "--cost", "zigzag", "--dataflows", "os", "nvdla",
                 "--zigzag-cache", str(tmp_path / "cache"), "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--dataflows" in err and "nvdla" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()
