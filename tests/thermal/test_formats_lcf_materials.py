"""Layer configuration files and materials files: round trips, HotSpot's checks with file and line."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_data import HOTSPOT_REFERENCE, require_shared

from ailfm.errors import FormatError
from ailfm.thermal.formats.lcf import LcfLayer, read_lcf, write_lcf
from ailfm.thermal.formats.materials import Material, read_materials, write_materials

positive = st.floats(min_value=1e-9, max_value=1e9, allow_nan=False, allow_infinity=False)
material_names = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)

LAYER = "{n}\nY\n{power}\n1.75e6\n0.01\n{thick}\n{flp}\n"


@st.composite
def stacks(draw):
    n = draw(st.integers(1, 5))
    return [LcfLayer(k, draw(st.booleans()), k == 0 or draw(st.booleans()), draw(positive), draw(positive),
                     draw(positive), draw(st.sampled_from(["a.flp", "sub/b.flp"]))) for k in range(n)]


@settings(max_examples=30, deadline=None)
@given(stacks())
def test_lcf_round_trip(tmp_path_factory, layers):
    folder = tmp_path_factory.mktemp("lcf")
    (folder / "sub").mkdir()
    for name in ("a.flp", "sub/b.flp"):
        (folder / name).write_text("u 1e-3 2e-3 0 0\n")
    resolved = [LcfLayer(**{**vars(layer), "floorplan_path": folder / layer.floorplan_path}) for layer in layers]
    write_lcf(folder / "x.lcf", resolved)
    assert read_lcf(folder / "x.lcf") == resolved
    assert all(not line.startswith("/") for line in (folder / "x.lcf").read_text().splitlines())


@st.composite
def material_lists(draw):
    names = draw(st.lists(material_names, min_size=1, max_size=5, unique=True))
    result = {}
    for name in names:
        fluid = draw(st.booleans())
        result[name] = Material(name, "fluid" if fluid else "solid", draw(positive), draw(positive),
                                draw(positive) if fluid else None)
    return result


@settings(max_examples=30, deadline=None)
@given(material_lists())
def test_materials_round_trip(tmp_path_factory, materials):
    path = tmp_path_factory.mktemp("m") / "x.materials"
    write_materials(path, materials)
    assert read_materials(path) == materials


def _write_stack(folder, lcf_text, floorplans=("a.flp",)):
    for name in floorplans:
        (folder / name).write_text("u 1e-3 1e-3 0 0\n")
    (folder / "bad.lcf").write_text(lcf_text)
    return folder / "bad.lcf"


@pytest.mark.parametrize(("text", "line", "message"), [
    ("# c\n1\nY\nY\n1e6\n0.01\n1e-4\na.flp\n", 2, "layer number 1 out of order: expected 0"),
    ("zero\n", 1, "invalid layer number 'zero'"),
    ("0\nmaybe\n", 2, "invalid lateral heat flow indicator 'maybe'"),
    ("0\nY\nX\n", 3, "invalid power dissipation indicator"),
    ("0\nY\nY\nsilicon\n", 4, "neither a number nor, without a materials file, a material name"),
    ("0\nY\nY\n1e6\nlow\n", 5, "resistivity: 'low' is not a number"),
    ("0\nY\nY\n1e6\n0.01\n-1e-4\na.flp\n", 6, "thickness: must be positive"),
    ("0\nY\nY\n1e6\n0.01\n1e-4\nmissing.flp\n", 7, "floorplan file 'missing.flp' not found"),
    ("0\nY\nY\n1e6\n0.01\n1e-4\na.flp extra\n", 7, "expected one value per line"),
    ("0\nY\nY\n1e6\n0.01\n1e-4\na.flp\n1\nY\nN\n1e6\n0.01\n1e-4\nbig.flp\n", 14, "width and height differ"),
])
def test_malformed_lcf_names_file_and_line(tmp_path, text, line, message):
    (tmp_path / "big.flp").write_text("u 2e-3 1e-3 0 0\n")
    path = _write_stack(tmp_path, text)
    with pytest.raises(FormatError) as info:
        read_lcf(path)
    assert info.value.line == line and f"bad.lcf:{line}:" in str(info.value) and message in str(info.value)


def test_lcf_whole_file_errors_and_materials(tmp_path):
    path = _write_stack(tmp_path, "0\nY\nY\n1e6\n")
    with pytest.raises(FormatError, match="bad.lcf: layer 0 is incomplete"):
        read_lcf(path)
    path = _write_stack(tmp_path, "0\nY\nN\n1e6\n0.01\n1e-4\na.flp\n")
    with pytest.raises(FormatError, match="bad.lcf: no layer dissipates power"):
        read_lcf(path)
    path = _write_stack(tmp_path, "0\nyes\ny\nsilicon\n1e-4\na.flp\n")
    silicon = Material("silicon", "solid", 130.0, 1630300.0)
    (layer,) = read_lcf(path, {"silicon": silicon})
    assert layer.specific_heat_J_per_m3K == 1630300.0 and layer.conductivity_W_per_mK == pytest.approx(130.0)
    assert layer.floorplan_path == tmp_path / "a.flp" and layer.lateral_heat_flow and layer.has_power
    with pytest.raises(FormatError, match="bad.lcf:4: material 'silicon' not in the materials file"):
        read_lcf(path, {})


@pytest.mark.parametrize(("text", "line", "message"), [
    ("si\nsolid\n130\n", 1, "material 'si' is incomplete: the file ends before its volumetric heat capacity"),
    ("si\nmetal\n", 2, "material type must be solid or fluid, got 'metal'"),
    ("si\nsolid\nhigh\n", 3, "thermal conductivity of 'si': 'high' is not a number"),
    ("si\nsolid\n130\n-1\n", 4, "volumetric heat capacity of 'si' must be >= 0"),
    ("si\nsolid\n130\n1e6\n\nsi\nsolid\n1\n1\n", 6, "material 'si' already defined on line 1"),
    ("si solid\n", 1, "expected one value (name), got 2 words"),
])
def test_malformed_materials_name_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "bad.materials"
    path.write_text(text)
    with pytest.raises(FormatError) as info:
        read_materials(path)
    assert info.value.line == line and f"bad.materials:{line}:" in str(info.value) and message in str(info.value)


def test_every_reference_lcf_and_materials_file_parses():
    root = require_shared(HOTSPOT_REFERENCE)
    for path in root.glob("*/*.materials"):
        materials = read_materials(path)
        assert materials["silicon"].conductivity_W_per_mK == 130.0
        assert materials["water"].dynamic_viscosity_Pa_s == 8.89e-4
    stack = read_lcf(root / "snuca_2x4x4" / "stack.lcf")
    assert [layer.floorplan_path.name for layer in stack] == ["layer0.flp", "tim0.flp", "layer1.flp", "tim1.flp"]
    assert [layer.has_power for layer in stack] == [True, False, True, False]
    assert stack[1].resistivity_mK_per_W == 0.25 and stack[2].thickness_m == 0.00015
    assert len(read_lcf(root / "example3_two_layers" / "example.lcf")) == 4
