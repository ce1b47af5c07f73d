"""Small workloads and hardware shared by the mapping tests (tiny, so the suite stays fast)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ailfm.mapping.hardware import ChipletType, Hardware, load_hardware
from ailfm.mapping.models import LlmConfig
from ailfm.mapping.workload import Iteration, Request, ServingWorkload

TINY_MODEL = LlmConfig("tiny", d_model=256, n_heads=4, n_kv_heads=2, d_head=64, d_ffn=512, gated_ffn=True,
                       n_blocks=2)


@pytest.fixture
def tiny_config(tmp_path: Path) -> Path:
    """TINY_MODEL's shape as a Hugging Face config.json (for the CLI tests)."""
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"hidden_size": 256, "num_attention_heads": 4, "num_key_value_heads": 2,
                               "intermediate_size": 512, "num_hidden_layers": 2, "model_type": "llama"}))
    return cfg


def tiny_workload(n_micro_batches: int = 2, tensor_parallel: int = 2, n_blocks: int = 1) -> ServingWorkload:
    """Two iterations: a mixed one (a prefill + decodes) and a decode-only one, with an empty micro-batch."""
    mixed = Iteration("mixed", (Request(40, 0), Request(1, 100), Request(1, 37)))
    decode = Iteration("decode", (Request(1, 80),))
    return ServingWorkload(TINY_MODEL, (mixed, decode), n_micro_batches, tensor_parallel, n_blocks)


def mixed_hardware(cols: int = 3, rows: int = 2) -> Hardware:
    os_t = ChipletType("os", "os", 256, 64.0)
    ws_t = ChipletType("ws", "ws", 256, 128.0)
    kinds = tuple((x + y) % 2 for y in range(rows) for x in range(cols))
    return Hardware("mixed", cols, rows, (os_t, ws_t), kinds)


@pytest.fixture(scope="session")
def he36():
    return load_hardware("he-36")


@pytest.fixture(scope="session")
def tiny():
    return tiny_workload()


@pytest.fixture(scope="session")
def mixed_hw():
    return mixed_hardware()


@pytest.fixture(scope="session")
def tiny_model():
    return TINY_MODEL
