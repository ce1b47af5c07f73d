"""ZigZag backend: public-design descriptions, cached per shape and description (skipped without zigzag-dse)."""

import importlib.util
import json

import numpy as np
import pytest

from ailfm.errors import ConfigError
from ailfm.mapping.cost import gemm_cost
from ailfm.mapping.hardware import ChipletType
from ailfm.mapping.zigzag_backend import ZigZagCache, ZigZagCostModel, accelerator_description

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


@pytest.mark.skipif(importlib.util.find_spec("zigzag") is None,
                    reason="zigzag-dse is not installed (pip install 'ailfm[zigzag]')")
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
