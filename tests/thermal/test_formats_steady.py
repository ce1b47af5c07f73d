"""Block steady/init files and grid dumps: byte-identical to HotSpot's, round trips, errors with lines."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from reference_data import HOTSPOT_REFERENCE, require_shared

from ailfm.errors import FormatError
from ailfm.thermal.formats.grid_steady import (
    append_grid_transient,
    read_grid_steady,
    read_grid_transient,
    write_grid_steady,
)
from ailfm.thermal.formats.steady import read_steady, write_steady

temperatures = st.floats(min_value=1.0, max_value=1e4)
node_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(node_names, temperatures, min_size=1, max_size=20))
def test_steady_round_trip_within_two_decimals(tmp_path_factory, values):
    path = tmp_path_factory.mktemp("s") / "x.steady"
    write_steady(path, values)
    back = read_steady(path)
    assert list(back) == list(values)
    assert all(abs(back[k] - values[k]) <= 0.005 + 1e-9 for k in values)


@st.composite
def grids(draw):
    rows, cols, n_layers = draw(st.integers(1, 6)), draw(st.integers(1, 6)), draw(st.integers(1, 4))
    return [draw(arrays(float, (rows, cols), elements=temperatures)) for _ in range(n_layers)]


@settings(max_examples=40, deadline=None)
@given(grids())
def test_grid_steady_round_trip(tmp_path_factory, layers):
    path = tmp_path_factory.mktemp("g") / "x.grid.steady"
    write_grid_steady(path, layers)
    back = read_grid_steady(path)
    assert len(back) == len(layers)
    for got, want in zip(back, layers, strict=True):
        np.testing.assert_allclose(got, want.ravel(), rtol=0, atol=0.005 + 1e-9)


def test_grid_transient_round_trip(tmp_path):
    path = tmp_path / "x.grid.transient"
    layers = [np.full((2, 2), 300.0), np.array([[301.0, 302.0], [303.0, 304.0]])]
    append_grid_transient(path, 0.001, layers)
    append_grid_transient(path, 0.002, [layer + 1 for layer in layers])
    assert path.read_text().startswith("t = 0.001000\nLayer 0:\n0\t300.00\n")
    steps = read_grid_transient(path)
    assert [t for t, _ in steps] == [0.001, 0.002]
    np.testing.assert_array_equal(steps[1][1][1], [302.0, 303.0, 304.0, 305.0])


def test_writers_reject_bad_values(tmp_path):
    with pytest.raises(ValueError):
        write_steady(tmp_path / "x", {"a": float("nan")})
    with pytest.raises(ValueError):
        write_grid_steady(tmp_path / "x", [np.ones(4), np.ones(5)])


@pytest.mark.parametrize(("text", "line", "message"), [
    ("a\t300\nb\n", 2, "expected '<name> <temperature>'"),
    ("a\t300\n# c\na 301\n", 3, "node 'a' already given on line 1"),
    ("a\thot\n", 1, "temperature of 'a': 'hot' is not a number"),
    ("a\t-3\n", 1, "must be > 0 K"),
])
def test_malformed_steady_names_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "bad.init"
    path.write_text(text)
    with pytest.raises(FormatError) as info:
        read_steady(path)
    assert info.value.line == line and f"bad.init:{line}:" in str(info.value) and message in str(info.value)


@pytest.mark.parametrize(("text", "line", "message"), [
    ("0\t300\n", 1, "expected 'Layer 0:' before cell values"),
    ("Layer 1:\n0\t300\n", 1, "expected 'Layer 0:'"),
    ("Layer 0:\n0\t300\n2\t300\n", 3, "expected '1 <temperature>'"),
    ("Layer 0:\n0\t300\n1\t300\nLayer 1:\n0\t300\nLayer 2:\n", 4, "layer has 1 cells, the first layer 2"),
    ("Layer 0:\n0\tnan\n", 2, "not finite"),
])
def test_malformed_grid_steady_names_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "bad.grid.steady"
    path.write_text(text)
    with pytest.raises(FormatError) as info:
        read_grid_steady(path)
    assert info.value.line == line and f"bad.grid.steady:{line}:" in str(info.value) and message in str(info.value)


def test_reference_files_are_reproduced_byte_for_byte(tmp_path):
    root = require_shared(HOTSPOT_REFERENCE)
    for path in [*root.glob("*/out.steady"), *root.glob("*/*.init")]:
        write_steady(tmp_path / "s", read_steady(path))
        assert (tmp_path / "s").read_bytes() == path.read_bytes(), path
    snuca = read_steady(root / "snuca_2x4x4" / "out.steady")
    assert list(snuca)[:1] == ["layer_0_L0_core_0_0"] and list(snuca)[-1] == "inode_11"
    for path in root.glob("*/out.grid.steady"):
        layers = read_grid_steady(path)
        assert all(layer.size == 64 * 64 for layer in layers)
        write_grid_steady(tmp_path / "g", [layer.reshape(64, 64) for layer in layers])
        assert (tmp_path / "g").read_bytes() == path.read_bytes(), path
    assert len(read_grid_steady(root / "snuca_2x4x4" / "out.grid.steady")) == 4 + 2
