"""The chiplet loop-nest cost model (cost.gemm_cost): blocking, fill amortisation, ports and access counts."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ailfm.mapping.cost import gemm_cost
from ailfm.mapping.hardware import ChipletType

OS = ChipletType("os", "os", 1024, 2048)
WS = ChipletType("ws", "ws", 1024, 2048)
dims = st.integers(1, 8192)


def one(mkn, chiplet):
    return gemm_cost(np.array([mkn]), chiplet)


@settings(max_examples=60, deadline=None)
@given(m=dims, k=dims, n=dims, dataflow=st.sampled_from(["os", "ws", "nvdla", "eyeriss"]),
       buffer_KiB=st.sampled_from([64.0, 512.0, 2048.0]))
def test_dram_traffic_is_between_compulsory_and_the_unblocked_nest(m, k, n, dataflow, buffer_KiB):
    c = one((m, k, n), ChipletType("c", dataflow, 1024, buffer_KiB))
    compulsory = m * k + k * n + m * n
    assert compulsory <= c.dram_bytes[0] <= m * k * n + k * n + m * n  # never worse than re-reading per output row
    if m * k + k * n + m * n <= buffer_KiB * 1024 / 2:
        assert c.dram_bytes[0] == compulsory


@settings(max_examples=60, deadline=None)
@given(m=dims, k=dims, n=dims)
def test_a_larger_buffer_never_moves_more_dram_bytes(m, k, n):
    for dataflow in ("os", "ws"):
        small = one((m, k, n), ChipletType("c", dataflow, 1024, 512.0)).dram_bytes[0]
        large = one((m, k, n), ChipletType("c", dataflow, 1024, 4096.0)).dram_bytes[0]
        assert large <= small


def test_output_blocks_stay_on_chip_while_the_reduction_streams():
    # Llama-3-8B ffn_down at 2048 tokens, no tensor parallelism: 29 MB of inputs, 59 MB of weights, 8 MB of outputs.
    # Blocks of outputs in the 2 MiB buffer (32-bit partial sums) read inputs ~6x and weights ~3x:
    # about 360 MB (the ZigZag run: 361 MB), where re-reading weights per half-buffer chunk moved 1.68 GB
    c = one((2048, 14336, 4096), OS)
    assert 3.4e8 < c.dram_bytes[0] < 3.8e8


def test_the_widest_output_block_whose_chunks_outlast_the_swap_is_found():
    # GPT-3 13B QKV at 512 tokens (2.6 MB inputs, 9.8 MB weights): all 512 rows in one block of 640 columns leaves
    # room for reduction chunks longer than the partial-sum swap (inputs 3x, weights once: 18.7 MB, ZigZag's
    # blocking); the widest block that fits (960 columns) leaves none, and only trying it cost weights twice (23 MB)
    m, k, n = 512, 5120, 1920
    assert one((m, k, n), OS).dram_bytes[0] == 3 * m * k + k * n + m * n


def test_a_resident_block_leaves_room_for_two_strips_of_the_streamed_operand():
    # output-stationary: each output tile takes the whole reduction, so a K x 32 weight strip serves every row tile
    # of the resident inputs; two strips (256 KiB at K = 4096) stay free, so 448 rows are resident and 500 are not
    k, n = 4096, 4096
    assert one((448, k, n), OS).dram_bytes[0] == 448 * k + k * n + 448 * n
    assert one((500, k, n), OS).dram_bytes[0] > 500 * k + k * n + 500 * n


def test_an_operand_that_barely_fits_is_read_once():
    # Qwen2-7B ffn_down at 64 tokens: a 1.21 MB input in a 2 MiB buffer: every operand moves once
    m, k, n = 64, 18944, 3584
    for chiplet in (OS, WS):
        assert one((m, k, n), chiplet).dram_bytes[0] == m * k + k * n + m * n


def test_an_operand_just_over_the_buffer_costs_one_extra_block_not_a_doubling():
    m, k, n = 600, 4096, 4096  # a 2.46 MB input against a 2 MiB buffer
    weights = k * n
    extra = one((m, k, n), OS).dram_bytes[0] - (m * k + k * n + m * n)
    assert 0 < extra <= weights


def test_fill_and_drain_are_paid_once_per_gemm():
    # back-to-back passes overlap the next tile's fill with this one's drain
    rows, cols = WS.array_shape
    m, k, n = 1, 4096, 6144
    c = one((m, k, n), WS)
    passes = (k // rows) * (n // cols)
    load = rows * cols / WS.weight_port_Bpc  # a pass lasts at least the next weight tile's load
    assert c.cycles[0] == passes * max(m, load) + rows + cols
    os_c = one((m, k, n), OS)
    assert os_c.cycles[0] == (n // cols) * k + rows + cols


@settings(max_examples=50, deadline=None)
@given(m=dims, k=dims, n=dims)
def test_the_ports_feed_an_output_stationary_array_at_full_rate(m, k, n):
    # unless partial sums must leave the array (output blocks larger than it with the reduction chunked)
    rows, cols = OS.array_shape
    c = one((m, k, n), OS)
    assert c.cycles[0] >= np.ceil(m / rows) * np.ceil(n / cols) * k
    if m % rows == 0 and n % cols == 0 and k >= rows and min(m * k, k * n) <= OS.buffer_bytes / 2:
        assert c.cycles[0] <= np.ceil(m / rows) * np.ceil(n / cols) * k * 1.05 + rows + cols


def test_weight_stationary_partial_sums_go_to_the_accumulator_not_the_buffer():
    m, k, n = 512, 4096, 512
    rows, _ = WS.array_shape
    c = one((m, k, n), WS)
    assert c.accumulator_bytes[0] == 2 * WS.partial_sum_bytes * m * n * (k // rows)
    assert c.buffer_bytes[0] < 3 * (m * k + m * n) + m * k * (n // 32)  # inputs in, re-read per column tile, out


def test_narrow_ports_slow_the_array():
    narrow = ChipletType("ws", "ws", 1024, 2048, input_port_Bpc=8)
    m, k, n = 2048, 4096, 512
    assert one((m, k, n), narrow).cycles[0] > 3.5 * one((m, k, n), WS).cycles[0]
