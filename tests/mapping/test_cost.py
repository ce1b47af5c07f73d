"""The chiplet cost model's buffer port and partial sums (cost.gemm_cost)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ailfm.mapping.cost import gemm_cost
from ailfm.mapping.hardware import ChipletType

OS = ChipletType("os", "os", 1024, 2048)
WS = ChipletType("ws", "ws", 1024, 2048)
dims = st.integers(1, 4096)


@settings(max_examples=50, deadline=None)
@given(m=dims, k=dims, n=dims)
def test_the_port_never_stalls_an_output_stationary_array(m, k, n):
    # the port is sized for what an OS array consumes per cycle: its GEMMs stay at their array cycles
    cycles, _, _ = gemm_cost(np.array([[m, k, n]]), OS)
    rows, cols = OS.array_shape
    assert cycles[0] == np.ceil(m / rows) * np.ceil(n / cols) * (k + rows + cols)


def test_weight_stationary_partial_sums_bound_large_gemms_by_the_port():
    # every cycle a K x N array reads a row of inputs (rows bytes) and reads and writes a row of 32-bit partial
    # sums (8 cols bytes) through a rows + cols byte port: ~(rows + 8 cols) / (rows + cols) = 4.5x its array cycles
    rows, cols = WS.array_shape
    m, k, n = 4096, 4096, 512
    cycles, buffer, _ = gemm_cost(np.array([[m, k, n]]), WS)
    array_cycles = np.ceil(k / rows) * np.ceil(n / cols) * (m + rows + cols)
    assert 4.0 < cycles[0] / array_cycles < (rows + 8 * cols) / (rows + cols)
    assert buffer[0] > 8 * m * n * (k / rows - 1)  # the partial sums alone


def test_no_partial_sums_when_the_reduction_fits_the_rows():
    rows, _ = WS.array_shape
    small, _, _ = gemm_cost(np.array([[512, rows, 512]]), WS)
    double, _, _ = gemm_cost(np.array([[512, 2 * rows, 512]]), WS)
    assert double[0] > 4 * small[0]  # the second K tile adds 32-bit partial-sum traffic, not just a pass
