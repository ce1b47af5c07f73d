"""Power and temperature traces: round trips, column matching, bad values with file and line."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from reference_data import HOTSPOT_REFERENCE, require_shared

from ailfm.errors import FormatError
from ailfm.thermal.formats.ptrace import PowerTrace, read_ptrace, write_ptrace
from ailfm.thermal.formats.ttrace import TemperatureTrace, read_ttrace, write_ttrace

names_strategy = st.lists(st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,12}", fullmatch=True),
                          min_size=1, max_size=6, unique=True)


@st.composite
def tables(draw, low, high):
    names = draw(names_strategy)
    n_rows = draw(st.integers(0, 5))
    values = draw(arrays(float, (n_rows, len(names)), elements=st.floats(low, high)))
    return tuple(names), values


@settings(max_examples=40, deadline=None)
@given(tables(0.0, 1e3))
def test_ptrace_round_trip_is_exact(tmp_path_factory, table):
    path = tmp_path_factory.mktemp("p") / "x.ptrace"
    write_ptrace(path, PowerTrace(*table))
    back = read_ptrace(path)
    assert back.names == table[0]
    np.testing.assert_array_equal(back.power_W, table[1])


@settings(max_examples=40, deadline=None)
@given(tables(1.0, 1e4))
def test_ttrace_round_trip_within_hotspot_rounding(tmp_path_factory, table):
    path = tmp_path_factory.mktemp("t") / "x.ttrace"
    write_ttrace(path, TemperatureTrace(*table))
    back = read_ttrace(path)
    assert back.names == table[0]
    np.testing.assert_allclose(back.temperatures_K, table[1], rtol=0, atol=0.005 + 1e-9)


def test_ttrace_is_written_like_hotspot(tmp_path):
    path = tmp_path / "t.ttrace"
    write_ttrace(path, TemperatureTrace(("a", "b"), np.array([[318.154, 400.0]])))
    assert path.read_text() == "a\tb\n318.15\t400.00\n"


def test_ptrace_columns_are_matched_and_reordered(tmp_path):
    path = tmp_path / "p.ptrace"
    path.write_text("b\ta\n\n1\t2\n3 4\n")
    trace = read_ptrace(path, expected_names=["a", "b"])
    assert trace.names == ("a", "b")
    np.testing.assert_array_equal(trace.power_W, [[2, 1], [4, 3]])
    with pytest.raises(FormatError, match=r"p.ptrace:1: no. of units in floorplan \(3\) and trace file \(2\) "
                                          r"differ; missing from the trace: c"):
        read_ptrace(path, expected_names=["a", "b", "c"])
    with pytest.raises(FormatError, match="p.ptrace:1: units of floorplan and trace file differ; missing from "
                                          "the trace: c; not in the floorplan: b"):
        read_ptrace(path, expected_names=["a", "c"])


@pytest.mark.parametrize(("text", "line", "message"), [
    ("a b\n1 2\n3\n", 3, "1 values for 2 units"),
    ("a b\n1 2\n3 4 5\n", 3, "3 values for 2 units"),
    ("a b\n\n1 -2\n", 3, "power of 'b' is -2.0"),
    ("a b\n1 nan\n", 2, "power of 'b' is nan"),
    ("a b\n1 inf\n", 2, "must be finite"),
    ("a b\n1 x\n", 2, "power value 'x' is not a number"),
    ("a b a\n1 2 3\n", 1, "unit 'a' appears twice"),
])
def test_malformed_ptrace_names_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "bad.ptrace"
    path.write_text(text)
    with pytest.raises(FormatError) as info:
        read_ptrace(path)
    assert info.value.line == line and f"bad.ptrace:{line}:" in str(info.value) and message in str(info.value)


def test_malformed_ttrace_and_empty_files(tmp_path):
    path = tmp_path / "bad.ttrace"
    path.write_text("a\n300\n-1\n")
    with pytest.raises(FormatError, match="bad.ttrace:3: temperature of 'a' is -1.0"):
        read_ttrace(path)
    path.write_text("\n\n")
    with pytest.raises(FormatError, match="bad.ttrace: empty file"):
        read_ttrace(path)


def test_in_memory_checks():
    with pytest.raises(ValueError, match="shape"):
        PowerTrace(("a", "b"), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=">= 0"):
        PowerTrace(("a",), np.array([[-1.0]]))
    trace = PowerTrace(("a", "b"), np.array([[1.0, 2.0]]))
    assert not trace.power_W.flags.writeable
    temps = TemperatureTrace(("a", "b"), np.array([[300.0, 310.0]]))
    np.testing.assert_array_equal(temps.select(["b"]).column("b"), [310.0])


def test_every_reference_trace_parses():
    root = require_shared(HOTSPOT_REFERENCE)
    for path in root.glob("*/*.ptrace"):
        assert read_ptrace(path).n_rows >= 1
    for path in root.glob("*/*.ttrace"):
        trace = read_ttrace(path)
        assert trace.temperatures_K.min() > 273.0
    gcc = read_ptrace(root / "ev6_block" / "gcc.ptrace")
    out = read_ttrace(root / "ev6_block" / "out.ttrace")
    assert gcc.power_W.shape == out.temperatures_K.shape == (100, 30)
