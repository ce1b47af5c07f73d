"""Floorplans: round trips, HotSpot's validation with file and line, and every reference .flp."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_data import HOTSPOT_REFERENCE, require_shared

from ailfm.errors import ConfigError, FormatError
from ailfm.thermal.formats.flp import Block, Floorplan, OVERLAP_TOLERANCE_m, first_overlap, read_flp, write_flp

sizes = st.floats(min_value=1e-6, max_value=1e-2, allow_nan=False, allow_infinity=False)


@st.composite
def floorplans(draw):
    """A grid of blocks with random column widths and row heights, some with their own material."""
    widths = draw(st.lists(sizes, min_size=1, max_size=4))
    heights = draw(st.lists(sizes, min_size=1, max_size=4))
    origin = draw(st.tuples(st.floats(-1e-2, 1e-2), st.floats(-1e-2, 1e-2)))
    blocks = []
    y = origin[1]
    for r, h in enumerate(heights):
        x = origin[0]
        for c, w in enumerate(widths):
            material = draw(st.one_of(st.none(), st.tuples(st.floats(1e3, 1e7), st.floats(1e-3, 10.0))))
            blocks.append(Block(f"u{r}_{c}", w, h, x, y, *(material or ())))
            x += w
        y += h
    return Floorplan(tuple(blocks))


@settings(max_examples=40, deadline=None)
@given(floorplans())
def test_write_then_read_gives_the_same_floorplan(tmp_path_factory, floorplan):
    path = tmp_path_factory.mktemp("flp") / "x.flp"
    write_flp(path, floorplan)
    assert read_flp(path) == floorplan


def test_properties_and_bounding_box():
    fp = Floorplan((Block("a", 2e-3, 1e-3, 1e-3, 0.0), Block("b", 1e-3, 3e-3, 3e-3, 0.0)))
    assert fp.names == ("a", "b") and len(fp) == 2 and [b.name for b in fp] == ["a", "b"]
    assert fp.index("b") == 1
    assert (fp.left_m, fp.bottom_m) == (1e-3, 0.0)
    assert fp.width_m == pytest.approx(3e-3) and fp.height_m == pytest.approx(3e-3)
    assert fp.blocks[0].right_m == pytest.approx(3e-3) and fp.blocks[1].top_m == pytest.approx(3e-3)
    assert fp.blocks[0].area_m2 == pytest.approx(2e-6)
    assert fp.uncovered_area_m2 == pytest.approx(9e-6 - 2e-6 - 3e-6)
    with pytest.raises(KeyError, match="no block 'c'"):
        fp.index("c")


def test_connectivity_records_are_kept(tmp_path):
    path = tmp_path / "c.flp"
    path.write_text("a\t1e-3\t1e-3\t0\t0\nb\t1e-3\t1e-3\t1e-3\t0\n\na\tb\t0.5\n")
    fp = read_flp(path)
    assert fp.connections == (("a", "b", 0.5),)
    write_flp(tmp_path / "d.flp", fp)
    assert read_flp(tmp_path / "d.flp") == fp


@pytest.mark.parametrize(("text", "line", "message"), [
    ("a 1e-3 1e-3 0 0\nb 1e-3 1e-3 0\n", 2, "expected 5 or 7 fields"),
    ("a 1e-3 1e-3 0 0 1e6\n", 1, "expected 5 or 7 fields"),
    ("a 1e-3 1e-3 0 0 1 2 3\n", 1, "expected 5 or 7 fields"),
    ("# c\na 1e-3 x 0 0\n", 2, "height: 'x' is not a number"),
    ("a 1e-3 nan 0 0\n", 1, "not finite"),
    ("a 0 1e-3 0 0\n", 1, "width must be positive"),
    ("a 1e-3 -1e-3 0 0\n", 1, "height must be positive"),
    ("a 1e-3 1e-3 0 0 -1 1\n", 1, "specific heat must be positive"),
    ("a 1e-3 1e-3 0 0\n\n# x\na 1e-3 1e-3 1e-3 0\n", 4, "'a' already defined on line 1"),
    ("a 2e-3 2e-3 0 0\nb 1e-3 1e-3 1e-3 1e-3\n", 2, "'b' overlaps block 'a' (line 1)"),
    ("a 1e-3 1e-3 0 0\na c 1.0\n", 2, "unknown block 'c'"),
])
def test_malformed_floorplans_name_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "bad.flp"
    path.write_text(text)
    with pytest.raises(FormatError) as info:
        read_flp(path)
    assert info.value.line == line
    assert f"bad.flp:{line}:" in str(info.value) and message in str(info.value)


def test_touching_blocks_do_not_overlap(tmp_path):
    path = tmp_path / "ok.flp"
    path.write_text("a 1e-3 1e-3 0 0\nb 1e-3 1e-3 1e-3 0\nc 2e-3 1e-3 0 1e-3\n")
    assert read_flp(path).uncovered_area_m2 == pytest.approx(0.0, abs=1e-18)


def test_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.flp").write_text("# nothing\n\n")
    with pytest.raises(FormatError, match="empty.flp: no blocks"):
        read_flp(tmp_path / "empty.flp")
    with pytest.raises(FormatError, match="absent.flp: file not found"):
        read_flp(tmp_path / "absent.flp")


def test_in_memory_validation():
    with pytest.raises(ConfigError, match="overlap"):
        Floorplan((Block("a", 1.0, 1.0, 0.0, 0.0), Block("b", 1.0, 1.0, 0.5, 0.5)))
    with pytest.raises(ConfigError, match="twice"):
        Floorplan((Block("a", 1.0, 1.0, 0.0, 0.0), Block("a", 1.0, 1.0, 1.0, 0.0)))
    with pytest.raises(ConfigError, match="both"):
        Block("a", 1.0, 1.0, 0.0, 0.0, specific_heat_J_per_m3K=1e6)
    with pytest.raises(ConfigError, match="whitespace"):
        Block("a b", 1.0, 1.0, 0.0, 0.0)


def test_every_reference_floorplan_parses():
    files = sorted(require_shared(HOTSPOT_REFERENCE).glob("*/*.flp"))
    assert files
    for path in files:
        fp = read_flp(path)
        assert len(fp) >= 1 and fp.width_m > 0
    ev6 = read_flp(HOTSPOT_REFERENCE / "ev6_block" / "ev6.flp")
    assert len(ev6) == 30 and ev6.width_m == pytest.approx(0.016) and "L2_left" in ev6.names


rectangles = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(1, 4), st.integers(1, 4)),
                      min_size=1, max_size=8)


@settings(max_examples=100, deadline=None)
@given(rectangles)
def test_first_overlap_agrees_with_a_pairwise_check(boxes):
    unit = 1e-3
    blocks = [Block(f"b{k}", w * unit, h * unit, x * unit, y * unit) for k, (x, y, w, h) in enumerate(boxes)]
    clashing = [(i, j) for j in range(len(boxes)) for i in range(j)
                if min(blocks[i].right_m, blocks[j].right_m) - max(blocks[i].left_m, blocks[j].left_m)
                > OVERLAP_TOLERANCE_m
                and min(blocks[i].top_m, blocks[j].top_m) - max(blocks[i].bottom_m, blocks[j].bottom_m)
                > OVERLAP_TOLERANCE_m]
    # the first clash in file order: the earliest second block, then the earliest first block
    expected = min(clashing, key=lambda pair: (pair[1], pair[0])) if clashing else None
    assert first_overlap(blocks) == expected
