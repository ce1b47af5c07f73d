"""ZigZag cross-check of one chiplet's GEMM cost (skipped when zigzag-dse is not installed)."""

import pytest

from ailfm.errors import ConfigError
from ailfm.mapping.hardware import ChipletType
from ailfm.mapping.zigzag_check import accelerator_description, cross_check

pytest.importorskip("zigzag")


def test_output_stationary_gemm_agrees_with_zigzag():
    # a decode-sized GEMM (64 tokens, d_model 4096 -> 1792 columns): operands fit the 2 MiB buffer, so both
    # models move every operand between DRAM and the buffer exactly once
    check = cross_check(64, 4096, 1792, ChipletType("os", "os", 1024, 2048), lpf_limit=4)
    assert check.ratio("mac") == pytest.approx(1.0, rel=1e-9)
    assert check.ratio("dram") == pytest.approx(1.0, rel=1e-6)
    # ZigZag has no systolic fill: its latency may differ from ours by the fill share (64 of 4160 cycles)
    assert 0.95 < check.ratio("latency") < 1.05
    assert 0.5 < check.ratio("buffer") < 2.0


def test_unsupported_dataflow_names_the_field():
    with pytest.raises(ConfigError, match="chiplet_types.e.dataflow"):
        accelerator_description(ChipletType("e", "eyeriss", 1024, 2048), 128.0, 20.0)


def test_weight_stationary_prefill_gemm_agrees_with_zigzag():
    # a prefill-sized tile: 127 K tiles of 32-bit partial sums pass the buffer port, in both models
    check = cross_check(512, 4096, 512, ChipletType("ws", "ws", 1024, 2048), lpf_limit=4)
    assert 0.85 < check.ratio("latency") < 1.15
    assert 0.85 < check.ratio("buffer") < 1.15
